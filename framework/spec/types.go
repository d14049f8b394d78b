package spec

import (
	"github.com/vecrosim/vecro/framework/behavior"
	"github.com/vecrosim/vecro/framework/service"
)

// APIVersion is the only version of the definition formats so far. A file
// without apiVersion is read as this version, so the original VECROsim files
// load unchanged.
const APIVersion = "vecro/v1"

// ServiceType selects what a service runs. It is defined in
// framework/service because the service binary needs it without this
// package's YAML decoder.
type ServiceType = service.Type

// Service types of the seed's table.
const (
	TypeBase    = service.TypeBase
	TypeMongoDB = service.TypeMongoDB
	TypeMySQL   = service.TypeMySQL
	TypeRedis   = service.TypeRedis
)

// CallMode is how a service calls its downstream services (see
// framework/service, where the service binary reads it from).
type CallMode = service.CallMode

// Call modes. Sequential is the original's behaviour.
const (
	CallSequential = service.CallSequential
	CallParallel   = service.CallParallel
)

// System is a microservice system definition (the seed's deffile).
type System struct {
	APIVersion string    `yaml:"apiVersion,omitempty" json:"apiVersion,omitempty"`
	Kind       string    `yaml:"kind,omitempty" json:"kind,omitempty"`
	Name       string    `yaml:"name" json:"name" vecro:"required"`
	Replicas   int       `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	Namespace  string    `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Services   []Service `yaml:"services" json:"services" vecro:"required"`

	// File is where the definition was read from; errors and manifests name it.
	File string `yaml:"-" json:"file,omitempty"`

	// meta locates fields in File; nil for a System built in Go.
	meta *fileMeta
}

// Service is one entry of System.Services.
type Service struct {
	Name      string      `yaml:"name" json:"name" vecro:"required"`
	Type      ServiceType `yaml:"type" json:"type" vecro:"required"`
	Replicas  int         `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	Calls     []string    `yaml:"calls,omitempty" json:"calls,omitempty"`
	CallMode  CallMode    `yaml:"call-mode,omitempty" json:"call-mode,omitempty"`
	Resources Resources   `yaml:"resources,omitempty" json:"resources,omitempty"`
	Workload  Workload    `yaml:"workload,omitempty" json:"workload,omitempty"`
}

// Resources are the limits of one instance, as on a pod. Zero means the
// original's defaults (DefaultCPULimit, DefaultMemoryLimit).
type Resources struct {
	CPU    MilliCPU `yaml:"cpu,omitempty" json:"cpu,omitempty"`
	Memory Size     `yaml:"memory,omitempty" json:"memory,omitempty"`
}

// The original's container limits.
const (
	DefaultCPULimit    MilliCPU = 700
	DefaultMemoryLimit Size     = 250 << 20
)

// Workload is the per-request work of a service, in the original's units.
type Workload struct {
	// CPU: N ≈ N ms of CPU per request.
	CPU int `yaml:"cpu,omitempty" json:"cpu,omitempty"`
	// IO: N × 64 KiB written and fsynced per request.
	IO int `yaml:"io,omitempty" json:"io,omitempty"`
	// Net: a response payload of N/2 bytes.
	Net int `yaml:"net,omitempty" json:"net,omitempty"`
	// Memory allocated at start-up and kept live (YAML alias: mem). A bare
	// number is MiB.
	Memory Size `yaml:"memory,omitempty" json:"memory,omitempty" vecro:"alias=mem"`
	// Read and Write: point reads and inserts per request (storage types).
	Read  int `yaml:"read,omitempty" json:"read,omitempty"`
	Write int `yaml:"write,omitempty" json:"write,omitempty"`
	// Delay before any work: Time ± Jitter (uniform).
	Delay *Delay `yaml:"delay,omitempty" json:"delay,omitempty"`
}

// Delay is a fixed wait with uniform jitter.
type Delay struct {
	Time   Duration `yaml:"time" json:"time" vecro:"required,ms"`
	Jitter Duration `yaml:"jitter,omitempty" json:"jitter,omitempty" vecro:"ms"`
}

// FaultFile is a fault definition (the seed's inject deffile).
type FaultFile struct {
	APIVersion string  `yaml:"apiVersion,omitempty" json:"apiVersion,omitempty"`
	Kind       string  `yaml:"kind,omitempty" json:"kind,omitempty"`
	Name       string  `yaml:"name" json:"name" vecro:"required"`
	Namespace  string  `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Seed       *int64  `yaml:"seed,omitempty" json:"seed,omitempty"`
	Faults     []Fault `yaml:"faults" json:"faults" vecro:"required"`

	// File is where the definition was read from; errors name it.
	File string `yaml:"-" json:"file,omitempty"`

	// meta locates fields in File; nil for a FaultFile built in Go.
	meta *fileMeta
}

// Fault is one timed fault on one target service.
type Fault struct {
	Name   string `yaml:"name" json:"name" vecro:"required"`
	Target string `yaml:"target" json:"target" vecro:"required"`
	// Start is an offset from t0, the moment load starts.
	Start    Duration `yaml:"start" json:"start" vecro:"required"`
	Duration Duration `yaml:"duration" json:"duration" vecro:"required"`
	// Mode picks the replicas: "all" (default), "one", or "N%".
	Mode      Mode      `yaml:"mode,omitempty" json:"mode,omitempty"`
	Behaviors Behaviors `yaml:"behaviors" json:"behaviors" vecro:"required"`
}

// Mode selects which replicas of the target a fault hits: "all", "one" or "N%".
type Mode string

// Behaviors holds the behaviours of one fault; at least one is set.
type Behaviors struct {
	NetDelay  *NetDelay  `yaml:"net-delay,omitempty" json:"net-delay,omitempty"`
	NetLoss   *NetLoss   `yaml:"net-loss,omitempty" json:"net-loss,omitempty"`
	NetRate   *NetRate   `yaml:"net-rate,omitempty" json:"net-rate,omitempty"`
	CPUStress *CPUStress `yaml:"cpu-stress,omitempty" json:"cpu-stress,omitempty"`
	IOStress  *IOStress  `yaml:"io-stress,omitempty" json:"io-stress,omitempty"`
	MemStress *MemStress `yaml:"mem-stress,omitempty" json:"mem-stress,omitempty"`
	HTTPAbort *HTTPAbort `yaml:"http-abort,omitempty" json:"http-abort,omitempty"`
}

// List returns the behaviours that are set, in a fixed order.
func (b Behaviors) List() []Behavior {
	var out []Behavior
	add := func(set bool, x Behavior) {
		if set {
			out = append(out, x)
		}
	}
	add(b.NetDelay != nil, b.NetDelay)
	add(b.NetLoss != nil, b.NetLoss)
	add(b.NetRate != nil, b.NetRate)
	add(b.CPUStress != nil, b.CPUStress)
	add(b.IOStress != nil, b.IOStress)
	add(b.MemStress != nil, b.MemStress)
	add(b.HTTPAbort != nil, b.HTTPAbort)
	return out
}

// The behaviours are defined in framework/behavior, which the fault agent
// shares, so that each has one parameter struct and one Validate; these
// aliases keep the names this package always had.
type (
	// Behavior is the parameter struct of one fault behaviour.
	Behavior = behavior.Behavior
	// Networked is a behaviour that acts on a network link.
	Networked = behavior.Networked
	// Link is where a network behaviour acts.
	Link = behavior.Link

	// The parameter struct of each behaviour, with its Kind and Validate.
	NetDelay  = behavior.NetDelay
	NetLoss   = behavior.NetLoss
	NetRate   = behavior.NetRate
	CPUStress = behavior.CPUStress
	IOStress  = behavior.IOStress
	MemStress = behavior.MemStress
	HTTPAbort = behavior.HTTPAbort
)

// Links, as in framework/behavior.
const (
	LinkIngress = behavior.LinkIngress
	LinkDB      = behavior.LinkDB
)

// Parameter lists of the behaviours, as in framework/behavior.
var (
	CPUMethods    = behavior.CPUMethods
	IOMethods     = behavior.IOMethods
	Distributions = behavior.Distributions
)

// Limits and defaults of the behaviours, as in framework/behavior.
const (
	MaxCPUWorkers      = behavior.MaxCPUWorkers
	MaxIOWorkers       = behavior.MaxIOWorkers
	DefaultAbortStatus = behavior.DefaultAbortStatus
)
