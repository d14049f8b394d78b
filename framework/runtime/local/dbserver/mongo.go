package dbserver

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/toolcache"
)

// FerretDBVersion is the FerretDB that `make tools` builds (mk/ferretdb.mk)
// and that Start runs where mongod is absent.
const FerretDBVersion = toolcache.FerretDBVersion

// MongoDatabase is the database named in a mongodb server's URL.
const MongoDatabase = "vecro"

func mongoFlavorFor(choice MongoServer) (flavor, error) {
	switch choice {
	case MongoAuto:
		if _, ok := lookProgram([]string{"mongod"}, nil); ok {
			return mongodFlavor{}, nil
		}
		return ferretFlavor{auto: true}, nil
	case MongoD:
		return mongodFlavor{}, nil
	case MongoFerretDB:
		return ferretFlavor{}, nil
	}
	return nil, fmt.Errorf("start mongodb server: unknown MongoDB server %q (want %q, %q or empty for either)",
		choice, MongoD, MongoFerretDB)
}

// mongodFlavor runs a real MongoDB server.
type mongodFlavor struct{}

func (mongodFlavor) find() (string, error) {
	if p, ok := lookProgram([]string{"mongod"}, nil); ok {
		return p, nil
	}
	return "", &MissingError{Kind: spec.TypeMongoDB, Program: "mongod",
		Detail:  "looked on PATH; it is in MongoDB's own apt repository, not Debian's; or leave Options.Mongo empty to use FerretDB, which `make tools` builds",
		Install: "apt-get install mongodb-org"}
}

func (mongodFlavor) start(ctx context.Context, s *Server, opts Options) error {
	data := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", data, err)
	}
	args := func(port int) []string {
		return []string{
			"--port", strconv.Itoa(port),
			"--bind_ip", "127.0.0.1",
			"--dbpath", data,
			"--unixSocketPrefix", s.dir,
			"--quiet",
			// A small cache: several servers share one machine.
			"--wiredTigerCacheSizeGB", "0.25",
			"--setParameter", "diagnosticDataCollectionEnabled=false",
		}
	}
	return s.launch(ctx, opts, args, mongoURL, mongoProbe)
}

// ferretFlavor runs FerretDB with its SQLite backend from the tool cache.
type ferretFlavor struct {
	auto bool // chosen because mongod is absent
}

func (f ferretFlavor) find() (string, error) {
	if p, err := toolcache.Find("ferretdb", FerretDBVersion); err == nil {
		return p, nil
	}
	detail := "expected " + toolcache.Path("ferretdb", FerretDBVersion)
	if f.auto {
		detail = "mongod is not on PATH and FerretDB " + FerretDBVersion + " is not built: " + detail
	}
	return "", &MissingError{Kind: spec.TypeMongoDB, Program: "FerretDB " + FerretDBVersion, Detail: detail,
		Install: "make tools"}
}

func (ferretFlavor) start(ctx context.Context, s *Server, opts Options) error {
	data := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", data, err)
	}
	// FerretDB wants a file: URI naming an existing directory, ending in /.
	sqliteURL := (&url.URL{Scheme: "file", Path: data + "/"}).String()
	args := func(port int) []string {
		return []string{
			"--handler=sqlite",
			"--sqlite-url=" + sqliteURL,
			"--listen-addr=127.0.0.1:" + strconv.Itoa(port),
			"--state-dir=" + s.dir,
			// Its debug HTTP server defaults to 127.0.0.1:8088, which
			// a second instance could not bind.
			"--debug-addr=-",
			"--telemetry=disable",
			"--log-level=WARN",
		}
	}
	return s.launch(ctx, opts, args, mongoURL, mongoProbe)
}

func mongoURL(port int) string {
	return fmt.Sprintf("mongodb://127.0.0.1:%d/%s", port, MongoDatabase)
}

func mongoProbe(url string) (probeFunc, func(), error) {
	c, err := mongo.Connect(options.Client().ApplyURI(url).
		SetConnectTimeout(time.Second).
		SetServerSelectionTimeout(time.Second).
		SetMaxPoolSize(1))
	if err != nil {
		return nil, nil, fmt.Errorf("mongo client for %s: %w", url, err)
	}
	probe := func(ctx context.Context) error { return c.Ping(ctx, readpref.Primary()) }
	return probe, func() { _ = c.Disconnect(context.Background()) }, nil
}
