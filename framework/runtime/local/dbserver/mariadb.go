package dbserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vecrosim/vecro/framework/spec"
	"github.com/vecrosim/vecro/framework/toolcache"
)

// MySQL user and database that Start creates; the password is random per server.
const (
	MySQLUser     = "vecro"
	MySQLDatabase = "vecro"
)

// mariadbFlavor runs MariaDB: a data dir with the system tables made by
// mariadb-install-db (copied from a cached template, see mariadbData), then
// mariadbd serving on a port and on a socket in the temporary dir, with a
// user and database that an init file creates.
type mariadbFlavor struct{}

// InnoDB sizes for a small seeded dataset: the defaults (128 MiB pool,
// 96 MiB redo log) cost start-up time and disk for nothing here. The redo
// log size is the same at install and at run so mariadbd need not resize it.
var mariadbSizes = []string{"--innodb-buffer-pool-size=64M", "--innodb-log-file-size=8M"}

func (mariadbFlavor) find() (string, error) {
	if p, ok := lookProgram([]string{"mariadbd", "mysqld"}, sbinDirs); ok {
		return p, nil
	}
	return "", &MissingError{Kind: spec.TypeMySQL, Program: "mariadbd",
		Install: "apt-get install mariadb-server", Detail: "looked on PATH and in /usr/sbin"}
}

func (mariadbFlavor) start(ctx context.Context, s *Server, opts Options) error {
	install, ok := lookProgram([]string{"mariadb-install-db", "mysql_install_db"}, append([]string{"/usr/bin"}, sbinDirs...))
	if !ok {
		return &MissingError{Kind: spec.TypeMySQL, Program: "mariadb-install-db",
			Install: "apt-get install mariadb-server", Detail: "looked on PATH and in /usr/bin, /usr/sbin"}
	}
	data := filepath.Join(s.dir, "data")
	tmp := filepath.Join(s.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	// A unix socket path has to fit in sun_path (108 bytes on Linux).
	sockDir := s.dir
	if len(filepath.Join(sockDir, "mysqld.sock")) > 100 {
		d, err := os.MkdirTemp("", "vecro-my-")
		if err != nil {
			return fmt.Errorf("create a socket directory: %w", err)
		}
		s.extra = append(s.extra, d)
		sockDir = d
	}
	var asRoot []string
	if os.Geteuid() == 0 {
		// mariadbd refuses to run as root unless told to.
		asRoot = []string{"--user=root"}
	}

	if err := mariadbData(ctx, s, install, data, asRoot, opts); err != nil {
		return err
	}

	password, err := randomHex(12)
	if err != nil {
		return err
	}
	initFile := filepath.Join(s.dir, "init.sql")
	initSQL := fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s`;\n"+
		"CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s';\n"+
		"GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%%';\n",
		MySQLDatabase, MySQLUser, password, MySQLDatabase, MySQLUser)
	if err := os.WriteFile(initFile, []byte(initSQL), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", initFile, err)
	}

	args := func(port int) []string {
		a := append([]string{
			"--no-defaults", // must come first
			"--datadir=" + data,
			"--tmpdir=" + tmp,
			"--port=" + strconv.Itoa(port),
			"--bind-address=127.0.0.1",
			"--socket=" + filepath.Join(sockDir, "mysqld.sock"),
			"--pid-file=" + filepath.Join(s.dir, "mysqld.pid"),
			"--init-file=" + initFile,
			"--skip-name-resolve",
		}, asRoot...)
		return append(a, mariadbSizes...)
	}
	mkURL := func(port int) string {
		u := url.URL{Scheme: "mysql", User: url.UserPassword(MySQLUser, password),
			Host: fmt.Sprintf("127.0.0.1:%d", port), Path: "/" + MySQLDatabase}
		return u.String()
	}
	return s.launch(ctx, opts, args, mkURL, mysqlProbe)
}

// mysqlProbe connects as the created user, so success also means the init
// file has run.
func mysqlProbe(rawURL string) (probeFunc, func(), error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parse mysql URL: %w", err)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	cfg.DBName = MySQLDatabase
	cfg.Timeout = time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("mysql connector for %s: %w", u.Host, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	probe := func(ctx context.Context) error {
		var one int
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	}
	return probe, func() { _ = db.Close() }, nil
}

// mariadbInstallArgs are mariadb-install-db's arguments for a data dir.
// That dir is thrown away at Stop, so the bootstrap need not be durable:
// without fsyncs it takes ~1 s instead of ~3 s on an idle machine.
func mariadbInstallArgs(data, tmp string, asRoot []string) []string {
	a := append([]string{
		"--no-defaults",
		"--datadir=" + data,
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
		"--innodb-flush-log-at-trx-commit=0",
		"--innodb-doublewrite=0",
		"--innodb-flush-method=nosync",
		"--sync-frm=0",
		"--tmpdir=" + tmp,
	}, asRoot...)
	return append(a, mariadbSizes...)
}

// mariadbTemplateMu makes concurrent Starts in one process build the
// template once; concurrent processes race harmlessly (see mariadbTemplate).
var mariadbTemplateMu sync.Mutex

// mariadbData fills data with a fresh MariaDB data directory: a copy of a
// template that mariadb-install-db made once for this MariaDB build and
// user, kept in the tool cache. mariadb-install-db costs 1–5 s (it is
// I/O-bound; more on a busy machine), a copy some tens of milliseconds. Where
// the cache is not writable it runs mariadb-install-db into data itself.
func mariadbData(ctx context.Context, s *Server, install, data string, asRoot []string, opts Options) error {
	tmpl, err := mariadbTemplate(ctx, s, install, asRoot, opts)
	if err != nil {
		s.log.Warn("no cached MariaDB data dir; initialising one for this server", "err", err)
		if err := runToEnd(ctx, install, mariadbInstallArgs(data, filepath.Join(s.dir, "tmp"), asRoot), s.dir, opts.LogWriter); err != nil {
			return fmt.Errorf("initialise the data directory: %w", err)
		}
		return nil
	}
	if err := copyTree(tmpl, data); err != nil {
		return fmt.Errorf("copy the MariaDB data dir template %s: %w", tmpl, err)
	}
	return nil
}

// mariadbTemplate returns the template data dir, making it when absent. Its
// key covers what changes the files: both programs (path, size, mtime), the
// install arguments and the user. It is built in a temporary sibling and
// renamed into place, so a reader never sees half of it; a process that
// loses the rename race uses the winner's.
func mariadbTemplate(ctx context.Context, s *Server, install string, asRoot []string, opts Options) (string, error) {
	h := sha256.New()
	for _, p := range []string{s.path, install} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	fmt.Fprintf(h, "%q %d\n", mariadbInstallArgs("", "", asRoot), os.Geteuid())
	root := filepath.Join(toolcache.Dir(), "mariadb-datadir")
	final := filepath.Join(root, hex.EncodeToString(h.Sum(nil))[:16])
	data := filepath.Join(final, "data")

	mariadbTemplateMu.Lock()
	defer mariadbTemplateMu.Unlock()
	if fi, err := os.Stat(filepath.Join(data, "mysql")); err == nil && fi.IsDir() {
		return data, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	removeStaleBuilds(root, time.Hour)
	build, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(build)
	tmp := filepath.Join(build, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", err
	}
	begin := time.Now()
	if err := runToEnd(ctx, install, mariadbInstallArgs(filepath.Join(build, "data"), tmp, asRoot), build, opts.LogWriter); err != nil {
		return "", fmt.Errorf("initialise the data directory: %w", err)
	}
	if err := os.Remove(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(build, final); err != nil {
		if fi, serr := os.Stat(filepath.Join(data, "mysql")); serr == nil && fi.IsDir() {
			return data, nil // another process made it meanwhile
		}
		return "", err
	}
	s.log.Info("made the MariaDB data dir template", "dir", data, "took", time.Since(begin))
	return data, nil
}

// removeStaleBuilds removes template builds that a killed process left
// behind; a build takes seconds, so one older than age is abandoned.
func removeStaleBuilds(root string, age time.Duration) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "build-") {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > age {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// copyTree copies a directory of directories and regular files.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		default:
			return fmt.Errorf("%s: not a regular file or directory", path)
		}
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	return hex.EncodeToString(b), nil
}
