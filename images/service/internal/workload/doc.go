// Package workload is the per-request work of a service, in the original
// VECROsim's units and order: delay → cpu → io (the caller then makes the
// downstream calls and writes the response payload).
//
//   - cpu N burns N ms of CPU time. The original ran N × 32768 sqrt(rand)
//     calls, which is "≈ N ms" only on the hardware it was tuned on; this
//     package still burns sqrt(rand) calls but stops when the goroutine's own
//     thread has used N ms of CPU (CLOCK_THREAD_CPUTIME_ID, with the
//     goroutine locked to its thread), so the unit holds on any machine and
//     under any contention: contention stretches the wall time, not the CPU.
//   - io N writes N × 64 KiB to a fresh file in the data dir in 1 KiB writes,
//     fsyncs every 512 KiB and at the end, then deletes the file.
//   - net N is a response payload of N/2 bytes (seeded, printable).
//   - memory N allocates N MiB at start-up, touches every page and keeps it
//     reachable for the life of the Workload, so the resident set shows it
//     (the original allocated without touching, so RSS barely moved).
//   - delay waits time ± jitter, uniform, drawn from a seeded source (the
//     original never applied it: its environment variable names mismatched).
package workload
