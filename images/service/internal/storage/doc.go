// Package storage is the database work of the storage service types
// (redis, mysql, mongodb): the service binary runs beside a real database
// server and, per request, makes N random point reads and N inserts.
//
// Open connects with the official driver (go-redis, go-sql-driver/mysql,
// mongo-driver v2) and creates the seeded dataset: Records rows or
// documents whose ids are 1..Records and whose payloads are a function of
// (Seed, id), inserted in bulk. Reads pick an id uniformly from 1..Records
// (draws from Seed) and fetch it by primary key or _id: an index lookup on
// Redis, MariaDB and mongod. FerretDB v1.24's SQLite backend is the
// exception: it pushes an _id filter on a string down to SQLite, but as an
// expression (->'$._id') that its _id index (->"_id") does not match, so
// SQLite scans the collection, about 1.5 µs per document here (1.6 ms at
// 1,000 records, 16 ms at 10,000); other filters or an int _id are scanned
// in Go, about ten times slower. Keep FerretDB datasets small (the
// default, 1,000). Writes insert new rows/documents with fresh ids, as the
// original's InsertOne did. A dataset already present with the same size
// and seed is kept; one of another size or seed is replaced.
//
// Every database error is returned (the service answers 5xx; the original
// answered 200). Each operation is bounded by the request's context and by
// Config.OpTimeout (default 5 s, the original's per-operation timeout), and
// drivers do not retry on their own, so a fault on the database link shows
// up as the error or the delay it causes.
//
// The address the store dials may be the fault agent's database proxy:
// HostPort extracts a URL's database address and WithHostPort substitutes
// the proxy's.
package storage
