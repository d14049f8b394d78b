package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL schema: the records (seeded ids 1..N, inserts numbered after them
// by AUTO_INCREMENT) and a one-row metadata table holding the dataset tag.
const (
	mysqlCreateRecords = "CREATE TABLE IF NOT EXISTS records (" +
		"id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(128) NOT NULL) ENGINE=InnoDB"
	mysqlCreateMeta = "CREATE TABLE IF NOT EXISTS vecro_meta (" +
		"k VARCHAR(64) NOT NULL PRIMARY KEY, v VARCHAR(255) NOT NULL) ENGINE=InnoDB"
)

type mysqlBackend struct {
	db *sql.DB
}

func openMySQL(ctx context.Context, cfg Config, u *url.URL, hostport string) (*mysqlBackend, error) {
	c := mysql.NewConfig()
	c.User = u.User.Username()
	c.Passwd, _ = u.User.Password()
	c.Net = "tcp"
	c.Addr = hostport
	c.DBName = strings.TrimPrefix(u.Path, "/")
	if c.DBName == "" || strings.Contains(c.DBName, "/") {
		return nil, fmt.Errorf("URL %s: want one database name as its path", redact(u))
	}
	c.Timeout = cfg.OpTimeout
	// Parameters are inlined client-side, so a query is one round trip
	// rather than prepare, execute and close.
	c.InterpolateParams = true
	c.Logger = driverLogger{driver: "go-sql-driver/mysql", log: cfg.Logger}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("connector: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(cfg.PoolSize)
	db.SetMaxIdleConns(cfg.PoolSize)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping database %q as %q: %w", c.DBName, c.User, err)
	}
	return &mysqlBackend{db: db}, nil
}

func (b *mysqlBackend) seed(ctx context.Context, d dataset) error {
	for _, q := range []string{mysqlCreateRecords, mysqlCreateMeta} {
		if _, err := b.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	var tag string
	err := b.db.QueryRowContext(ctx, "SELECT v FROM vecro_meta WHERE k = 'dataset'").Scan(&tag)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the dataset tag: %w", err)
	}
	if tag == d.tag() {
		return nil
	}
	// Replace: a table of another dataset also holds inserts numbered
	// after its records, which would collide with this one's ids.
	if _, err := b.db.ExecContext(ctx, "TRUNCATE TABLE records"); err != nil {
		return fmt.Errorf("empty records: %w", err)
	}
	err = d.chunks(1000, func(from, to int64) error {
		var q strings.Builder
		args := make([]any, 0, 2*(to-from+1))
		q.WriteString("INSERT IGNORE INTO records (id, payload) VALUES ")
		for id := from; id <= to; id++ {
			if id > from {
				q.WriteByte(',')
			}
			q.WriteString("(?,?)")
			args = append(args, id, d.payload(id))
		}
		if _, err := b.db.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("insert records %d–%d: %w", from, to, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, "REPLACE INTO vecro_meta (k, v) VALUES ('dataset', ?)", d.tag()); err != nil {
		return fmt.Errorf("write the dataset tag: %w", err)
	}
	return nil
}

func (b *mysqlBackend) read(ctx context.Context, id int64) error {
	var payload string
	err := b.db.QueryRowContext(ctx, "SELECT payload FROM records WHERE id = ?", id).Scan(&payload)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrMissingRecord
	}
	return err
}

func (b *mysqlBackend) write(ctx context.Context, _ int64, payload string) error {
	_, err := b.db.ExecContext(ctx, "INSERT INTO records (payload) VALUES (?)", payload)
	return err
}

func (b *mysqlBackend) close() error { return b.db.Close() }
