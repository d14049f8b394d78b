// Command coredns is a CoreDNS with only the plugins the offline node's
// cluster DNS needs (plugins.txt; zplugins.go is generated from it by
// `go generate`), built from the module proxy without CoreDNS's Makefile,
// in a fraction of the time of the full server and without its cloud SDKs.
package main

//go:generate go run gen.go

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
)

func main() {
	// The stock list names all of CoreDNS's plugins; this one names only
	// those compiled in, so a Corefile that uses another is rejected at
	// start instead of being accepted and then failing to set up.
	if err := dnsserver.SetDirectives(directives); err != nil {
		fmt.Fprintln(os.Stderr, "coredns: set directives:", err)
		os.Exit(1)
	}
	coremain.Run()
}
