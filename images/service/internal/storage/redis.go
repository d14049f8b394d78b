package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Redis keys: the dataset's records, its tag, and this store's inserts.
const (
	redisRecordPrefix = "vecro:record:"
	redisTagKey       = "vecro:dataset"
	redisWritePrefix  = "vecro:write:"
)

type redisBackend struct {
	c      *redis.Client
	prefix string // of this store's insert keys
}

func openRedis(ctx context.Context, cfg Config) (*redisBackend, error) {
	o, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse URL: %w", redactErr(err))
	}
	o.PoolSize = cfg.PoolSize
	o.DialTimeout = cfg.OpTimeout
	// One attempt per operation: a retry would hide a fault on the link.
	o.MaxRetries = -1
	o.DialerRetries = 1
	// Deadlines come from the operation's context.
	o.ContextTimeoutEnabled = true
	routeRedisLogs(cfg.Logger)
	c := redis.NewClient(o)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("PING: %w", err)
	}
	id, err := randomID()
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return &redisBackend{c: c, prefix: redisWritePrefix + id + ":"}, nil
}

func redisRecordKey(id int64) string { return redisRecordPrefix + strconv.FormatInt(id, 10) }

func (b *redisBackend) seed(ctx context.Context, d dataset) error {
	tag, err := b.c.Get(ctx, redisTagKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("GET %s: %w", redisTagKey, err)
	}
	if tag == d.tag() {
		return nil
	}
	// Overwriting is the replacement: the ids 1..records are rewritten
	// with this seed's payloads; the tag goes last, so an interrupted
	// seeding is redone.
	err = d.chunks(1000, func(from, to int64) error {
		kv := make([]any, 0, 2*(to-from+1))
		for id := from; id <= to; id++ {
			kv = append(kv, redisRecordKey(id), d.payload(id))
		}
		if err := b.c.MSet(ctx, kv...).Err(); err != nil {
			return fmt.Errorf("MSET records %d–%d: %w", from, to, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.c.Set(ctx, redisTagKey, d.tag(), 0).Err(); err != nil {
		return fmt.Errorf("SET %s: %w", redisTagKey, err)
	}
	return nil
}

func (b *redisBackend) read(ctx context.Context, id int64) error {
	err := b.c.Get(ctx, redisRecordKey(id)).Err()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("GET %s: %w", redisRecordKey(id), ErrMissingRecord)
	}
	return err
}

// write sets a new key: this store's random prefix and its insert number
// make it unique, and NX makes the insert fail rather than overwrite.
func (b *redisBackend) write(ctx context.Context, n int64, payload string) error {
	key := b.prefix + strconv.FormatInt(n, 10)
	ok, err := b.c.SetNX(ctx, key, payload, 0).Result()
	if err != nil {
		return fmt.Errorf("SET %s NX: %w", key, err)
	}
	if !ok {
		return fmt.Errorf("SET %s NX: key exists", key)
	}
	return nil
}

func (b *redisBackend) close() error { return b.c.Close() }
