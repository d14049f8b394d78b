// Package config reads the service binary's configuration from its flags and
// from VECRO_* environment variables, and validates it.
//
// Every flag --some-name can also be given as VECRO_SOME_NAME; a flag on the
// command line wins over the environment. Two names differ from the rule:
// the repeatable --call is VECRO_CALLS in the environment (a comma-separated
// list of NAME=URL), and --token is VECRO_TOKEN (--token-file is
// VECRO_TOKEN_FILE). The same binary thus runs as a child process of the local
// runtime (flags) and as a Kubernetes container (env).
package config
