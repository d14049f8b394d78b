package kube

import "github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"

// Jaeger configures Options.Jaeger: the Jaeger v2 deployed with a system.
type Jaeger struct {
	// Image is a Jaeger image the cluster can pull. Empty: the runtime
	// packs Binary into an image (framework/image) and hands it to the
	// ImageLoader.
	Image string
	// Binary is a static linux jaeger; default the tool cache's
	// (`make jaeger` builds it).
	Binary string
	// MaxTraces bounds its in-memory store; 0 means
	// DefaultJaegerMaxTraces.
	MaxTraces int
}

// DefaultJaegerMaxTraces is Jaeger.MaxTraces' default.
const DefaultJaegerMaxTraces = manifest.DefaultJaegerMaxTraces
