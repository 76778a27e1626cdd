package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/internal/pgcluster"
)

// EnvURL is the environment variable naming an existing server for the tests.
const EnvURL = "UNO_TEST_DATABASE_URL"

var (
	sharedOnce    sync.Once
	sharedURL     *url.URL
	sharedCluster *pgcluster.Cluster
	sharedErr     error
	dbSeq         atomic.Int64
)

// Main runs the package's tests and stops the shared cluster afterwards. Call
// it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if sharedCluster != nil {
		sharedCluster.Destroy()
	}
	if tlsCluster != nil {
		tlsCluster.Destroy()
	}
	if tlsPKI != nil {
		_ = os.RemoveAll(tlsPKI.Dir)
	}
	if bouncer != nil {
		bouncer.Destroy()
	}
	if replStandby != nil {
		replStandby.Destroy()
	}
	if replPrimary != nil {
		replPrimary.Destroy()
	}
	os.Exit(code)
}

// server returns the admin URL of the shared server, starting a cluster on
// first use when UNO_TEST_DATABASE_URL is not set.
func server() (*url.URL, error) {
	sharedOnce.Do(func() {
		if raw := os.Getenv(EnvURL); raw != "" {
			sharedURL, sharedErr = url.Parse(raw)
			if sharedErr != nil {
				sharedErr = fmt.Errorf("pgtest: %s does not parse as a URL", EnvURL)
			}
			return
		}
		sharedCluster, sharedErr = pgcluster.New()
		if sharedErr == nil {
			sharedURL, sharedErr = url.Parse(sharedCluster.URL("postgres"))
		}
	})
	return sharedURL, sharedErr
}

// AdminURL returns a URL for a superuser connection to the shared server's
// maintenance database. The test fails if no server can be had.
func AdminURL(t testing.TB) string {
	t.Helper()
	u, err := server()
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// Database is a fresh database on the shared server, dropped when the test
// ends.
type Database struct {
	Name string // database name
	URL  string // superuser URL for the database
}

// NewDatabase creates a database of the test's own and returns it. The name
// is unique in the cluster, so role names derived from it are too.
func NewDatabase(t testing.TB) Database {
	t.Helper()
	u, err := server()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("uno_t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("pgtest: connect to test server: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(u.String(), name) })
	du := *u
	du.Path = "/" + name
	return Database{Name: name, URL: du.String()}
}

// dropDatabase drops a test database and every role whose name starts with
// the database name followed by an underscore.
func dropDatabase(adminURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	rows, err := admin.Query(ctx, "SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)", name+"_")
	if err != nil {
		return
	}
	roles, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, r := range roles {
		_, _ = admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize())
	}
}

// StartCluster starts a private cluster the test may stop and restart. It is
// destroyed when the test ends.
func StartCluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	c, err := pgcluster.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Destroy)
	return c
}

// WithPath returns rawURL with its database path replaced by database.
func WithPath(rawURL, database string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Path = "/" + strings.TrimPrefix(database, "/")
	return u.String()
}

// ServerURL returns the admin URL of the shared server, for Example
// functions, which have no *testing.T.
func ServerURL() (string, error) {
	u, err := server()
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// Exec runs statements, in order, as the superuser on the database at
// rawURL; the test fails at the first error.
func Exec(t testing.TB, rawURL string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Scalar runs a query returning one value as the superuser on the database
// at rawURL and returns the value; the test fails on any error.
func Scalar[T any](t testing.TB, rawURL, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// CertUser is the role of the client certificate of [TLSServer]'s PKI. The
// server authenticates it only with that certificate.
const CertUser = "uno_cert_user"

var (
	tlsOnce    sync.Once
	tlsCluster *pgcluster.Cluster
	tlsPKI     *pgcluster.PKI
	tlsErr     error
)

// TLSServer returns the test package's TLS cluster, started on first use
// and stopped by [Main]: ssl=on with a server certificate for 127.0.0.1
// and localhost signed by the returned PKI's CA (generated in the test
// run), trust for every user as for the shared cluster, except [CertUser],
// who must log in over TLS with the PKI's client certificate ("hostssl …
// cert").
func TLSServer() (*pgcluster.Cluster, *pgcluster.PKI, error) {
	tlsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "uno-pki-")
		if err != nil {
			tlsErr = fmt.Errorf("pgtest: %w", err)
			return
		}
		tlsPKI, tlsErr = pgcluster.NewPKI(dir, CertUser, "localhost")
		if tlsErr != nil {
			return
		}
		tlsCluster, tlsErr = pgcluster.NewWith(pgcluster.Options{TLS: tlsPKI, HBA: []string{
			"hostssl all " + CertUser + " 127.0.0.1/32 cert",
			"host all " + CertUser + " 127.0.0.1/32 reject",
		}})
		if tlsErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, tlsCluster.URL("postgres"))
		if err != nil {
			tlsErr = fmt.Errorf("pgtest: connect to the TLS cluster: %w", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{CertUser}.Sanitize()+" LOGIN"); err != nil {
			tlsErr = fmt.Errorf("pgtest: %w", err)
		}
	})
	return tlsCluster, tlsPKI, tlsErr
}

// StartClusterWith starts a private cluster with options, destroyed when
// the test ends.
func StartClusterWith(t testing.TB, o pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	c, err := pgcluster.NewWith(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Destroy)
	return c
}

var (
	replOnce    sync.Once
	replPrimary *pgcluster.Cluster
	replStandby *pgcluster.Cluster
	replErr     error
)

// Replicated returns the test package's primary and its streaming standby
// (pg_basebackup -R, same settings), built on first use and stopped by
// [Main]. Tests must not promote, pause or cut this pair; a test that does
// builds its own with [StartReplicated].
func Replicated() (primary, standby *pgcluster.Cluster, err error) {
	replOnce.Do(func() {
		replPrimary, replErr = pgcluster.New()
		if replErr != nil {
			return
		}
		replStandby, replErr = pgcluster.NewStandby(replPrimary)
	})
	return replPrimary, replStandby, replErr
}

// StartReplicated builds a private primary and streaming standby, both
// destroyed when the test ends.
func StartReplicated(t testing.TB) (primary, standby *pgcluster.Cluster) {
	t.Helper()
	primary = StartCluster(t)
	standby, err := pgcluster.NewStandby(primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(standby.Destroy)
	return primary, standby
}

var (
	bouncerOnce sync.Once
	bouncer     *pgcluster.Bouncer
	bouncerErr  error
)

// PgBouncer returns the test package's PgBouncer, in transaction mode in
// front of the shared server, started on first use and stopped by [Main].
// Every role of the server may log in through it (trust). With
// UNO_TEST_DATABASE_URL set it sits in front of that server, which must
// then trust the superuser "postgres" from 127.0.0.1.
func PgBouncer(t testing.TB) *pgcluster.Bouncer {
	t.Helper()
	bouncerOnce.Do(func() {
		if _, err := server(); err != nil {
			bouncerErr = err
			return
		}
		o := pgcluster.BouncerOptions{PoolSize: 8}
		if sharedCluster != nil {
			bouncer, bouncerErr = pgcluster.StartPgBouncer(sharedCluster, o)
			return
		}
		u := sharedURL
		port, err := strconv.Atoi(u.Port())
		if h := u.Hostname(); err != nil || h != "127.0.0.1" && h != "localhost" {
			bouncerErr = fmt.Errorf("pgtest: PgBouncer needs a server on 127.0.0.1 with its port in %s, or the harness's own cluster", EnvURL)
			return
		}
		bouncer, bouncerErr = pgcluster.StartPgBouncerAt(port, o)
	})
	if bouncerErr != nil {
		t.Fatal(bouncerErr)
	}
	return bouncer
}

// BouncerURL returns rawURL (a URL of the shared server) pointed at the
// test package's PgBouncer instead.
func BouncerURL(t testing.TB, rawURL string) string {
	t.Helper()
	b := PgBouncer(t)
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = b.Addr()
	return u.String()
}
