package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: probe serve [ADDR] | probe get URL")
	}
	switch args[0] {
	case "serve":
		addr := ":8080"
		if len(args) > 1 {
			addr = args[1]
		}
		return serve(addr)
	case "get":
		if len(args) != 2 {
			return errors.New("usage: probe get URL")
		}
		return get(args[1])
	default:
		return fmt.Errorf("unknown command %q (serve, get)", args[0])
	}
}

func serve(addr string) error {
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pod=%s\n", host)
	})}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

func get(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("get %s: %w", raw, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, u.Hostname())
	if err != nil {
		return fmt.Errorf("resolve %s: %w", u.Hostname(), err)
	}
	fmt.Printf("resolved %s to %s\n", u.Hostname(), strings.Join(addrs, ","))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return fmt.Errorf("get %s: %w", raw, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", raw, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return fmt.Errorf("get %s: read body: %w", raw, err)
	}
	fmt.Printf("%s %s", resp.Status, body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "pod=") {
		return fmt.Errorf("get %s: %s %q is not a probe's answer", raw, resp.Status, body)
	}
	return nil
}
