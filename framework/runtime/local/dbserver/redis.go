package dbserver

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vecrosim/vecro/framework/spec"
)

// redisFlavor runs redis-server without persistence: the dataset is seeded
// by the service at every start, so snapshots would only cost forks and I/O.
type redisFlavor struct{}

func (redisFlavor) find() (string, error) {
	if p, ok := lookProgram([]string{"redis-server"}, sbinDirs); ok {
		return p, nil
	}
	return "", &MissingError{Kind: spec.TypeRedis, Program: "redis-server",
		Install: "apt-get install redis-server", Detail: "looked on PATH and in /usr/sbin"}
}

func (redisFlavor) start(ctx context.Context, s *Server, opts Options) error {
	args := func(port int) []string {
		return []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", s.dir,
			"--save", "",
			"--appendonly", "no",
			"--daemonize", "no",
			"--logfile", "",
		}
	}
	url := func(port int) string { return fmt.Sprintf("redis://127.0.0.1:%d", port) }
	return s.launch(ctx, opts, args, url, redisProbe)
}

func redisProbe(url string) (probeFunc, func(), error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", url, err)
	}
	o.MaxRetries = -1
	o.PoolSize = 1
	o.DialTimeout = time.Second
	o.ContextTimeoutEnabled = true
	c := redis.NewClient(o)
	probe := func(ctx context.Context) error { return c.Ping(ctx).Err() }
	return probe, func() { _ = c.Close() }, nil
}
