package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// driverLogger turns a driver's printf-style messages (a failed dial, a
// dropped idle connection) into warnings on the store's logger, instead of
// lines the drivers would write to stderr themselves.
type driverLogger struct {
	driver string
	log    *slog.Logger
}

// Print is go-sql-driver/mysql's Logger.
func (l driverLogger) Print(v ...any) {
	l.log.Warn(fmt.Sprint(v...), "driver", l.driver)
}

// redisLog is where go-redis's messages go. go-redis has one logger per
// process, not per client, so the most recently opened redis store's logger
// gets them (a service opens one).
var (
	redisLog     atomic.Pointer[slog.Logger]
	redisLogOnce sync.Once
)

type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	if l := redisLog.Load(); l != nil {
		l.Warn(fmt.Sprintf(format, v...), "driver", "go-redis")
	}
}

func routeRedisLogs(l *slog.Logger) {
	redisLog.Store(l)
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{}) })
}
