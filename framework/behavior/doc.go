// Package behavior defines each fault behaviour once: its parameter struct,
// its kind name ("net-delay") and its Validate, with the units its
// parameters are written in (Duration, Size, Rate, Percent, MilliCPU).
//
// framework/spec reads these structs from fault definition files and adds
// file and line to Validate's problems; the fault agent inside every service
// decodes the same structs from the JSON the harness pushes and calls the
// same Validate, so a rule cannot drift between the two.
//
// It is a leaf, importing only the standard library, because the service
// binary links it: the binary needs the behaviours, not the YAML decoder
// that reads definition files. internal/archtest fails if that changes.
//
// Adding a behaviour: a file here with its struct, Kind and Validate; its
// field in spec.Behaviors (and Behaviors.List); its implementation in the
// agent and its entry in the agent's kinds.
package behavior
