package kube

import "github.com/vecrosim/vecro/framework/runtime/kube/internal/manifest"

// Manifest is every object of one system, in apply order: what Start
// applies and DryRun prints.
type Manifest = manifest.Manifest

// Object is one object of a Manifest, as a server-side apply body.
type Object = manifest.Object

// Applied is the server's answer to applying one Object: its
// resourceVersion (unchanged when the apply changed nothing) and UID.
type Applied = manifest.Applied

// Standalone configures MonitoringStandalone: a plain Prometheus (no
// operator, no CRDs, no image from the internet) deployed into the system's
// namespace with the system and deleted with it.
type Standalone = manifest.Standalone

// DBImage is the database container beside the agent of a storage type.
type DBImage = manifest.DBImage

// DefaultDBImages are the databases of the storage types: the original's
// MongoDB 4.2, and the official Redis and MariaDB images.
var DefaultDBImages = manifest.DefaultDBImages

// FieldManager owns every field vecro applies (server-side apply).
const FieldManager = manifest.FieldManager
