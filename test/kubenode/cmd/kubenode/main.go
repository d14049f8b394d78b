package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vecrosim/vecro/test/kubenode"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kubenode:", err)
		os.Exit(1)
	}
}

const usage = `usage: kubenode [--run-dir DIR] up|down|status|info|leftovers|load ARCHIVE...

  up         bring the node up (idempotent) and print its info as JSON
  down       stop it and remove what it put on the host
  status     show which components run
  info       print the info of the running node (kubeconfig, images, CIDRs)
  leftovers  list what of a node is still on the host (exit 1 if anything)
  load       import image archives into the node's containerd

The run dir defaults to $VECRO_CACHE/kubenode-run (env VECRO_KUBE_NODE_DIR).`

func run(args []string, stdout, stderr io.Writer) error {
	cfg := kubenode.Config{RunDir: os.Getenv("VECRO_KUBE_NODE_DIR")}
	for len(args) > 1 && args[0] == "--run-dir" {
		cfg.RunDir, args = args[1], args[2:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "up":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		n, err := kubenode.Up(ctx, cfg)
		if err != nil {
			return fmt.Errorf("%w\n(what did start keeps running, for a look at its logs; `make kube-node-down` removes it)", err)
		}
		return printJSON(stdout, n)
	case "down":
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return kubenode.Down(ctx, cfg)
	case "status":
		st, err := kubenode.Status(cfg)
		if err != nil {
			return err
		}
		for _, s := range st {
			fmt.Fprintln(stdout, s)
		}
		return nil
	case "info":
		dir, err := kubenode.ResolveRunDir(cfg)
		if err != nil {
			return err
		}
		n, err := kubenode.ReadInfo(dir)
		if err != nil {
			return err
		}
		return printJSON(stdout, n)
	case "leftovers":
		left, err := kubenode.Leftovers(ctx, cfg)
		if err != nil {
			return err
		}
		for _, l := range left {
			fmt.Fprintln(stdout, l)
		}
		if len(left) > 0 {
			return fmt.Errorf("%d things of a node are still on the host", len(left))
		}
		return nil
	case "load":
		if len(args) < 2 {
			return errors.New("load: no archive given")
		}
		for _, a := range args[1:] {
			if err := kubenode.LoadImage(ctx, cfg, a); err != nil {
				return err
			}
		}
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
