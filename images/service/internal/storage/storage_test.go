package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/vecrosim/vecro/framework/runtime/local/dbserver/dbservertest"
	"github.com/vecrosim/vecro/framework/service"
)

var kinds = []service.Type{service.TypeRedis, service.TypeMySQL, service.TypeMongoDB}

// inspector reads a database directly, with the official driver, to check
// what the store did.
type inspector interface {
	// payload is record id's payload, "" when absent.
	payload(t *testing.T, id int64) string
	// inserts counts records beyond the seeded ones.
	inserts(t *testing.T) int
	// deleteSeeded removes every seeded record.
	deleteSeeded(t *testing.T)
}

func newStore(t *testing.T, cfg Config) Store {
	t.Helper()
	st, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open %s: %v", cfg.Type, err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// TestDoAgainstRealServers: the seeded dataset is the function of the seed,
// reads find it, inserts land, re-opening keeps it, another seed replaces
// it, and a stopped server makes Do fail (the service's 5xx).
func TestDoAgainstRealServers(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			srv := dbservertest.StartT(t, kind)
			const records = 300
			in := newInspector(t, kind, srv.URL(), records)
			d := dataset{records: records, seed: 7}
			cfg := Config{Type: kind, URL: srv.URL(), Records: records, Seed: 7, OpTimeout: 2 * time.Second}

			begin := time.Now()
			st := newStore(t, cfg)
			t.Logf("opened and seeded %d records in %v", records, time.Since(begin))
			for _, id := range []int64{1, 2, records / 2, records} {
				if got, want := in.payload(t, id), d.payload(id); got != want {
					t.Fatalf("record %d payload %q, want %q", id, got, want)
				}
			}
			if got := in.payload(t, records+1); got != "" {
				t.Fatalf("record %d exists before any insert: %q", records+1, got)
			}

			// Reads of a missing id fail, so success means every read hit.
			if err := st.Do(t.Context(), 200, 0); err != nil {
				t.Fatalf("Do 200 reads: %v", err)
			}
			if n := in.inserts(t); n != 0 {
				t.Fatalf("%d inserts after reads only", n)
			}
			if err := st.Do(t.Context(), 3, 5); err != nil {
				t.Fatalf("Do 3 reads 5 writes: %v", err)
			}
			if err := st.Do(t.Context(), 0, 2); err != nil {
				t.Fatalf("Do 2 writes: %v", err)
			}
			if n := in.inserts(t); n != 7 {
				t.Fatalf("%d inserts, want 7", n)
			}

			// Same dataset: kept as is, inserts and all.
			st2 := newStore(t, cfg)
			if err := st2.Do(t.Context(), 10, 1); err != nil {
				t.Fatalf("second store Do: %v", err)
			}
			if n := in.inserts(t); n != 8 {
				t.Fatalf("%d inserts after re-open and 1 more, want 8", n)
			}

			// Another seed: replaced.
			other := cfg
			other.Seed = 8
			newStore(t, other)
			if got, want := in.payload(t, 1), (dataset{records: records, seed: 8}).payload(1); got != want {
				t.Fatalf("after re-seeding with 8, record 1 payload %q, want %q", got, want)
			}

			// A read of a seeded record that is gone is an error.
			in.deleteSeeded(t)
			if err := st.Do(t.Context(), 1, 0); !errors.Is(err, ErrMissingRecord) {
				t.Fatalf("Do after deleting the dataset: %v, want ErrMissingRecord", err)
			}

			// The database goes away: Do fails, within the op timeout.
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			begin = time.Now()
			err := st.Do(t.Context(), 1, 0)
			if err == nil {
				t.Fatal("Do succeeded with the database stopped")
			}
			t.Logf("Do with the database stopped: %v after %v", err, time.Since(begin))
			if err := st.Do(t.Context(), 0, 1); err == nil {
				t.Fatal("insert succeeded with the database stopped")
			}
			if _, err := Open(t.Context(), cfg); err == nil {
				t.Fatal("Open succeeded with the database stopped")
			}
		})
	}
}

// TestDoRespectsContext: an ended request context ends the operation.
func TestDoRespectsContext(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			srv := dbservertest.StartT(t, kind)
			st := newStore(t, Config{Type: kind, URL: srv.URL(), Records: 10, Seed: 1})
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := st.Do(ctx, 1, 0); !errors.Is(err, context.Canceled) {
				t.Fatalf("Do with a cancelled context: %v, want context.Canceled", err)
			}
		})
	}
}

// TestOpenThroughProxy dials the database through a TCP forwarder, as the
// service does through its agent's db proxy (WithHostPort), and fails once
// the forwarder is gone.
func TestOpenThroughProxy(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			srv := dbservertest.StartT(t, kind)
			dbAddr, err := HostPort(srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			if dbAddr != srv.Addr() {
				t.Fatalf("HostPort(%s) = %s, want %s", srv.URL(), dbAddr, srv.Addr())
			}
			fwd := newForwarder(t, dbAddr)
			viaProxy, err := WithHostPort(srv.URL(), fwd.addr())
			if err != nil {
				t.Fatal(err)
			}
			st := newStore(t, Config{Type: kind, URL: viaProxy, Records: 50, Seed: 3, OpTimeout: 2 * time.Second})
			if err := st.Do(t.Context(), 5, 5); err != nil {
				t.Fatalf("Do through the proxy: %v", err)
			}
			if fwd.conns() == 0 {
				t.Fatal("no connection went through the proxy")
			}
			fwd.close()
			if err := st.Do(t.Context(), 1, 1); err == nil {
				t.Fatal("Do succeeded with the proxy gone")
			}
		})
	}
}

func TestPicksAreSeeded(t *testing.T) {
	draw := func(seed int64) []int64 {
		s := &store{d: dataset{records: 1000, seed: seed}}
		s.rng = readRand(seed)
		out := make([]int64, 50)
		for i := range out {
			out[i] = s.pick()
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	same := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs for the same seed: %d vs %d", i, a[i], b[i])
		}
		if a[i] < 1 || a[i] > 1000 {
			t.Fatalf("draw %d = %d, outside 1..1000", i, a[i])
		}
		if a[i] == c[i] {
			same++
		}
	}
	// Two seeds agree on a draw with probability 1/1000.
	if same > 5 {
		t.Fatalf("seeds 1 and 2 agree on %d of 50 draws", same)
	}
}

func TestPayloadIsAFunctionOfSeedAndID(t *testing.T) {
	d := dataset{records: 10, seed: 42}
	again := dataset{records: 10, seed: 42}
	if d.payload(1) != again.payload(1) || d.payload(1) == d.payload(2) ||
		d.payload(1) == (dataset{records: 10, seed: 43}).payload(1) {
		t.Fatal("payload is not a function of (seed, id) alone")
	}
	if len(d.payload(1)) != 64 {
		t.Fatalf("payload %q: want 64 hex digits", d.payload(1))
	}
	if d.writePayload(1) != d.payload(11) {
		t.Fatal("the first insert's payload is not record 11's")
	}
}

func TestHostPort(t *testing.T) {
	cases := []struct{ url, want, err string }{
		{"redis://127.0.0.1:6380", "127.0.0.1:6380", ""},
		{"redis://127.0.0.1", "127.0.0.1:6379", ""},
		{"rediss://cache.example:7000/2", "cache.example:7000", ""},
		{"mysql://u:p%40ss@db.local:3307/app", "db.local:3307", ""},
		{"mysql://u:p@db.local/app", "db.local:3306", ""},
		{"mongodb://127.0.0.1:27018/vecro", "127.0.0.1:27018", ""},
		{"mongodb://[::1]/vecro", "[::1]:27017", ""},
		{"http://x:1", "", `scheme "http"`},
		{"mongodb:///vecro", "", "no host"},
		{"mongodb://a:1,b:2/vecro", "", "several hosts"},
		{"mysql://u:secret@h:99999/db", "", "port"},
		{"::", "", "missing protocol scheme"},
	}
	for _, c := range cases {
		got, err := HostPort(c.url)
		if c.err == "" && (err != nil || got != c.want) {
			t.Errorf("HostPort(%q) = %q, %v; want %q", c.url, got, err, c.want)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("HostPort(%q) error %v, want one mentioning %q", c.url, err, c.err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("HostPort(%q) error shows the password: %v", c.url, err)
		}
	}
}

func TestWithHostPort(t *testing.T) {
	cases := []struct{ url, hp, want, err string }{
		{"mysql://vecro:p%40ss@127.0.0.1:3306/vecro?timeout=1s", "127.0.0.1:40001", "mysql://vecro:p%40ss@127.0.0.1:40001/vecro?timeout=1s", ""},
		{"mongodb://127.0.0.1:27017/vecro", "127.0.0.1:40002", "mongodb://127.0.0.1:40002/vecro", ""},
		{"redis://127.0.0.1", "localhost:40003", "redis://localhost:40003", ""},
		{"redis://127.0.0.1", "::1", "", "too many colons"},
		{"redis://127.0.0.1", "h", "", "missing port"},
		{"redis://127.0.0.1", ":4000", "", "no host"},
		{"redis://127.0.0.1", "h:http", "", "port"},
		{"ftp://h", "h:1", "", `scheme "ftp"`},
	}
	for _, c := range cases {
		got, err := WithHostPort(c.url, c.hp)
		if c.err == "" && (err != nil || got != c.want) {
			t.Errorf("WithHostPort(%q, %q) = %q, %v; want %q", c.url, c.hp, got, err, c.want)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("WithHostPort(%q, %q) error %v, want one mentioning %q", c.url, c.hp, err, c.err)
		}
	}
	u, err := WithHostPort("mysql://vecro:p%40ss@127.0.0.1:3306/vecro", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := mustParse(t, u).User.Password(); p != "p@ss" {
		t.Fatalf("password after substitution %q, want p@ss", p)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Type: service.TypeBase, URL: "redis://h:1"}, `type "base" has no database`},
		{Config{Type: service.TypeRedis}, "no database URL"},
		{Config{Type: service.TypeRedis, URL: "mysql://u:p@h:1/db"}, `scheme "mysql", want redis or rediss`},
		{Config{Type: service.TypeMySQL, URL: "mysql://u:p@h:1/db", Records: -1}, "records -1"},
		{Config{Type: service.TypeMySQL, URL: "mysql://u:p@h:1/db", OpTimeout: -time.Second}, "negative op timeout"},
		{Config{Type: service.TypeMongoDB, URL: "mongodb://127.0.0.1:1"}, "want one database name"},
		{Config{Type: service.TypeMySQL, URL: "mysql://u:p@127.0.0.1:1/"}, "want one database name"},
	}
	for _, c := range cases {
		_, err := Open(t.Context(), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%+v) error %v, want one mentioning %q", c.cfg, err, c.want)
		}
	}
}

// BenchmarkDo measures one point read and one insert per kind on this
// machine's real servers (no proxy), with datasets of 1,000 and 10,000
// records: a read that costs more with more records would be a scan.
//
//	go test -run '^$' -bench . ./images/service/internal/storage/
func BenchmarkDo(b *testing.B) {
	for _, kind := range kinds {
		srv := dbservertest.StartT(b, kind)
		for _, records := range []int{1000, 10000} {
			st, err := Open(b.Context(), Config{Type: kind, URL: srv.URL(), Records: records, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			for _, op := range []struct {
				name          string
				reads, writes int
			}{{"read", 1, 0}, {"write", 0, 1}} {
				b.Run(fmt.Sprintf("%s/records=%d/%s", kind, records, op.name), func(b *testing.B) {
					for b.Loop() {
						if err := st.Do(b.Context(), op.reads, op.writes); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSeed measures Open with a new dataset of 1,000 records (the
// default) each time: a new seed makes Open replace the previous one.
func BenchmarkSeed(b *testing.B) {
	for _, kind := range kinds {
		srv := dbservertest.StartT(b, kind)
		b.Run(string(kind), func(b *testing.B) {
			seed := int64(0)
			for b.Loop() {
				seed++
				st, err := Open(b.Context(), Config{Type: kind, URL: srv.URL(), Records: DefaultRecords, Seed: seed})
				if err != nil {
					b.Fatal(err)
				}
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// forwarder is a plain TCP relay on 127.0.0.1:0, standing in for the
// agent's db proxy.
type forwarder struct {
	l     net.Listener
	mu    sync.Mutex
	open  []net.Conn
	count int
}

func newForwarder(t *testing.T, upstream string) *forwarder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{l: l}
	t.Cleanup(f.close)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = c.Close()
				continue
			}
			f.mu.Lock()
			f.open = append(f.open, c, u)
			f.count++
			f.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
	return f
}

func (f *forwarder) addr() string { return f.l.Addr().String() }

func (f *forwarder) conns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// close stops accepting and cuts every relayed connection.
func (f *forwarder) close() {
	_ = f.l.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.open {
		_ = c.Close()
	}
	f.open = nil
}

func newInspector(t *testing.T, kind service.Type, rawURL string, records int) inspector {
	t.Helper()
	switch kind {
	case service.TypeRedis:
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(o)
		t.Cleanup(func() { _ = c.Close() })
		return redisInspector{c}
	case service.TypeMySQL:
		u := mustParse(t, rawURL)
		cfg := mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net, cfg.Addr, cfg.DBName = "tcp", u.Host, strings.TrimPrefix(u.Path, "/")
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		t.Cleanup(func() { _ = db.Close() })
		return mysqlInspector{db, records}
	default:
		c, err := mongo.Connect(options.Client().ApplyURI(rawURL))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
		return mongoInspector{c.Database(strings.TrimPrefix(mustParse(t, rawURL).Path, "/")).Collection(mongoRecords)}
	}
}

type redisInspector struct{ c *redis.Client }

func (r redisInspector) payload(t *testing.T, id int64) string {
	v, err := r.c.Get(t.Context(), redisRecordKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (r redisInspector) inserts(t *testing.T) int {
	keys, err := r.c.Keys(t.Context(), redisWritePrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func (r redisInspector) deleteSeeded(t *testing.T) {
	keys, err := r.c.Keys(t.Context(), redisRecordPrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.c.Del(t.Context(), keys...).Err(); err != nil {
		t.Fatal(err)
	}
}

type mysqlInspector struct {
	db      *sql.DB
	records int
}

func (m mysqlInspector) payload(t *testing.T, id int64) string {
	var p string
	err := m.db.QueryRowContext(t.Context(), "SELECT payload FROM records WHERE id = ?", id).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (m mysqlInspector) inserts(t *testing.T) int {
	var seeded, all int
	if err := m.db.QueryRowContext(t.Context(), "SELECT COUNT(*), (SELECT COUNT(*) FROM records) FROM records WHERE id <= ?", m.records).Scan(&seeded, &all); err != nil {
		t.Fatal(err)
	}
	return all - seeded
}

func (m mysqlInspector) deleteSeeded(t *testing.T) {
	if _, err := m.db.ExecContext(t.Context(), "DELETE FROM records WHERE id <= ?", m.records); err != nil {
		t.Fatal(err)
	}
}

type mongoInspector struct{ c *mongo.Collection }

func (m mongoInspector) payload(t *testing.T, id int64) string {
	var doc struct {
		Payload string `bson:"payload"`
	}
	err := m.c.FindOne(t.Context(), bson.D{{Key: "_id", Value: mongoID(id)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return doc.Payload
}

// inserts counts the documents with a generated ObjectID.
func (m mongoInspector) inserts(t *testing.T) int {
	n, err := m.c.CountDocuments(t.Context(), bson.D{{Key: "_id", Value: bson.D{{Key: "$type", Value: "objectId"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func (m mongoInspector) deleteSeeded(t *testing.T) {
	if _, err := m.c.DeleteMany(t.Context(), bson.D{{Key: "_id", Value: bson.D{{Key: "$type", Value: "string"}}}}); err != nil {
		t.Fatal(err)
	}
}
