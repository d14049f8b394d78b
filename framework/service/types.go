package service

// Type selects what a service runs: the generic logic service or an agent
// beside a real database server.
type Type string

// Service types of the seed's table.
const (
	TypeBase    Type = "base"
	TypeMongoDB Type = "mongodb"
	TypeMySQL   Type = "mysql"
	TypeRedis   Type = "redis"
)

// Types lists the known service types in the seed's order.
var Types = []Type{TypeBase, TypeMongoDB, TypeMySQL, TypeRedis}

// IsStorage reports whether the type runs beside a real database server.
func (t Type) IsStorage() bool {
	return t == TypeMongoDB || t == TypeMySQL || t == TypeRedis
}

// WorkloadKeys returns the workload keys type t supports (the seed's table;
// delay belongs with base), or nil for an unknown type.
func (t Type) WorkloadKeys() []string {
	switch {
	case t == TypeBase:
		return []string{"cpu", "io", "net", "memory", "delay"}
	case t.IsStorage():
		return []string{"read", "write"}
	}
	return nil
}

// CallMode is how a service calls its downstream services.
type CallMode string

// Call modes. Sequential is the original's behaviour.
const (
	CallSequential CallMode = "sequential"
	CallParallel   CallMode = "parallel"
)
