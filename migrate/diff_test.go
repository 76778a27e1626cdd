package migrate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno/catalog"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/migrate"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/types"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type moodV1 string

func (moodV1) EnumValues() []string { return []string{"happy", "sad"} }
func (moodV1) EnumName() string     { return "mood" }

type moodV2 string

func (moodV2) EnumValues() []string { return []string{"happy", "meh", "sad", "it's"} }
func (moodV2) EnumName() string     { return "mood" }

// colType is a Go type a random column may have, with a default that fits.
type colType struct {
	t       reflect.Type
	def     string // "" when no default is offered
	group   string // types in one group cast into each other
	checkOK bool   // takes the check "col >= 0"
}

var colTypes = []colType{
	{reflect.TypeFor[int64](), "0", "num", true},
	{reflect.TypeFor[int32](), "1", "num", true},
	{reflect.TypeFor[types.Decimal](), "0", "num", true},
	{reflect.TypeFor[*int64](), "", "num", true},
	{reflect.TypeFor[string](), "''", "text", false},
	{reflect.TypeFor[*string](), "", "text", false},
	{reflect.TypeFor[types.String26](), "'x'", "text", false},
	{reflect.TypeFor[types.String64](), "''", "text", false},
	{reflect.TypeFor[types.String255](), "'it''s'", "text", false},
	{reflect.TypeFor[bool](), "false", "bool", false},
	{reflect.TypeFor[*bool](), "", "bool", false},
	{reflect.TypeFor[time.Time](), "now()", "time", false},
	{reflect.TypeFor[float64](), "0", "float", false},
	{reflect.TypeFor[[]string](), "", "array", false},
	{reflect.TypeFor[types.Date](), "", "date", false},
}

type colSpec struct {
	name   string
	typ    colType
	unique bool
	index  bool
	def    bool
	check  bool
	// collate (text columns) and deferrable (unique ones): issue 13's tags.
	collate, deferrable bool
}

type tableSpec struct {
	name      string
	doc       string
	cols      []colSpec
	parentFK  bool
	identity  bool
	enumCol   bool
	enumStage int
	// A serial column s and a generated column g = id * (generated+1)
	// (none when 0), right after the key; kept as they are by mutate, as
	// re-creating a column moves it to the end of the table.
	serial    bool
	generated int
}

func randomTable(r *rand.Rand, name string, idx int) tableSpec {
	t := tableSpec{name: name, identity: r.IntN(2) == 0, parentFK: idx > 0 && r.IntN(4) == 0,
		enumCol: r.IntN(3) == 0, enumStage: 1, serial: r.IntN(4) == 0, generated: r.IntN(3)}
	if r.IntN(2) == 0 {
		t.doc = "table " + name
	}
	n := 1 + r.IntN(6)
	for i := 0; i < n; i++ {
		t.cols = append(t.cols, randomCol(r, fmt.Sprintf("c%d", i)))
	}
	return t
}

func randomCol(r *rand.Rand, name string) colSpec {
	ct := colTypes[r.IntN(len(colTypes))]
	c := colSpec{name: name, typ: ct, unique: r.IntN(7) == 0, index: r.IntN(6) == 0}
	c.def = ct.def != "" && r.IntN(2) == 0
	c.check = ct.checkOK && r.IntN(5) == 0
	if ct.t.Kind() == reflect.Slice || ct.t == reflect.TypeFor[types.Date]() {
		c.unique = false
	}
	c.collate = ct.group == "text" && r.IntN(3) == 0
	c.deferrable = c.unique && r.IntN(2) == 0
	return c
}

// mutate returns the next version of a table: columns dropped, added,
// retyped within a cast group, made nullable or not, keys and defaults
// toggled, the enum grown.
func mutate(r *rand.Rand, t tableSpec) tableSpec {
	n := t
	n.cols = nil
	if r.IntN(3) == 0 {
		n.doc = "changed " + t.name
	}
	for _, c := range t.cols {
		switch r.IntN(10) {
		case 0: // dropped
			continue
		case 1, 2: // retyped within its group
			if !c.check {
				var same []colType
				for _, ct := range colTypes {
					if ct.group == c.typ.group {
						same = append(same, ct)
					}
				}
				c.typ = same[r.IntN(len(same))]
				c.def = c.def && c.typ.def != ""
			}
		case 3:
			c.unique = !c.unique && c.typ.t.Kind() != reflect.Slice && c.typ.t != reflect.TypeFor[types.Date]()
		case 4:
			c.index = !c.index
		case 5:
			c.def = !c.def && c.typ.def != ""
		case 6:
			c.collate = !c.collate && c.typ.group == "text"
		case 7:
			c.deferrable = !c.deferrable
		}
		c.deferrable = c.deferrable && c.unique
		n.cols = append(n.cols, c)
	}

	for i := 0; i < r.IntN(3); i++ {
		n.cols = append(n.cols, randomCol(r, fmt.Sprintf("n%d_%d", len(t.cols), i)))
	}
	return n
}

func (t tableSpec) structType() reflect.Type {
	modelTag := `uno:"table:` + t.name + `"`
	if t.doc != "" {
		modelTag += ` doc:"` + t.doc + `"`
	}
	idTag := `uno:"id,pk"`
	if t.identity {
		idTag = `uno:"id,pk,identity"`
	}
	fields := []reflect.StructField{
		{Name: "Model", Type: reflect.TypeFor[model.BaseModel](), Tag: reflect.StructTag(modelTag), Anonymous: true},
		{Name: "ID", Type: reflect.TypeFor[int64](), Tag: reflect.StructTag(idTag)},
	}
	if t.parentFK {
		fields = append(fields, reflect.StructField{Name: "Parent", Type: reflect.TypeFor[*int64](),
			Tag: reflect.StructTag(fmt.Sprintf(`uno:"parent_id,fk:%s.id,ondelete:cascade"`, parentOf(t.name)))})
	}
	if t.enumCol {
		typ := reflect.TypeFor[moodV1]()
		if t.enumStage == 2 {
			typ = reflect.TypeFor[moodV2]()
		}
		fields = append(fields, reflect.StructField{Name: "Mood", Type: typ, Tag: `uno:"mood,default:'happy'"`})
	}
	if t.serial {
		fields = append(fields, reflect.StructField{Name: "S", Type: reflect.TypeFor[int32](), Tag: `uno:"s,serial"`})
	}
	if t.generated > 0 {
		fields = append(fields, reflect.StructField{Name: "G", Type: reflect.TypeFor[*int64](),
			Tag: reflect.StructTag(fmt.Sprintf(`uno:"g,generated:\"id\" * %d"`, t.generated+1))})
	}
	for i, c := range t.cols {
		opts := []string{c.name}
		if c.unique {
			opts = append(opts, "unique")
		}
		if c.deferrable {
			opts = append(opts, "deferrable")
		}
		if c.collate {
			opts = append(opts, "collate:C")
		}
		if c.index {
			opts = append(opts, "index")
		}
		if c.def {
			opts = append(opts, "default:"+c.typ.def)
		}
		if c.check {
			opts = append(opts, "check:"+c.name+" >= 0")
		}
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: c.typ.t,
			Tag: reflect.StructTag(`uno:"` + strings.Join(opts, ",") + `"`)})
	}
	return reflect.StructOf(fields)
}

func parentOf(name string) string {
	var i int
	fmt.Sscanf(name, "t%d", &i)
	return fmt.Sprintf("t%d", i-1)
}

func ddl(t *testing.T, tables []tableSpec) []emit.Statement {
	t.Helper()
	reg := model.NewRegistry()
	var models []any
	for _, ts := range tables {
		models = append(models, reflect.New(ts.structType()).Interface())
	}
	if err := reg.Register(models...); err != nil {
		t.Fatalf("register: %v", err)
	}
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err != nil {
		t.Fatalf("emit: %v", err)
	}
	return stmts
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// reset empties a database: every user schema dropped, public re-created.
func reset(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema')
		AND nspname NOT LIKE 'pg\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range schemas {
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
}

func inspect(t *testing.T, conn *pgx.Conn) *catalog.Database {
	t.Helper()
	db, err := catalog.Inspect(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestRandomModelsZeroDrift: for 200 random models in rounds of 10, the
// emitted DDL applied to an empty database inspects equal to the desired
// state, and after a random change of every model the generated plan takes
// the database to the new desired state with no drift left.
func TestRandomModelsZeroDrift(t *testing.T) {
	t.Parallel()
	liveDB, scratchDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	live, scratch := connect(t, liveDB.URL), connect(t, scratchDB.URL)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)
	const rounds, perRound = 20, 10
	changes := 0
	for round := 0; round < rounds; round++ {
		var v1, v2 []tableSpec
		growEnum := r.IntN(2) == 0 // one enum type: all its tables move together
		for i := 0; i < perRound; i++ {
			ts := randomTable(r, fmt.Sprintf("t%d", i), i)
			v1 = append(v1, ts)
			next := mutate(r, ts)
			if growEnum {
				next.enumStage = 2
			}
			v2 = append(v2, next)
		}
		reset(t, live)
		reset(t, scratch)
		if err := emit.Exec(ctx, live, ddl(t, v1)); err != nil {
			t.Fatalf("round %d (seed %d): apply v1: %v", round, seed, err)
		}
		want1, err := migrate.DesiredIn(ctx, scratch, ddl(t, v1))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if p := migrate.Diff(inspect(t, live), want1, migrate.Options{}); !p.Empty() {
			t.Fatalf("round %d (seed %d): drift right after emitting the DDL:\n%s", round, seed, p.SQL())
		}
		reset(t, scratch)
		want2, err := migrate.DesiredIn(ctx, scratch, ddl(t, v2))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// The models own these tables whole: what a model stops declaring
		// (a default) goes.
		plan := migrate.Diff(inspect(t, live), want2, migrate.Options{Concurrent: r.IntN(2) == 0, DropUnmanaged: true})
		changes += len(plan.Changes)
		if err := migrate.Apply(ctx, live, plan, true); err != nil {
			t.Fatalf("round %d (seed %d): apply plan: %v\n%s", round, seed, err, plan.SQL())
		}
		got := inspect(t, live)
		if p := migrate.Diff(got, want2, migrate.Options{}); !p.Empty() {
			t.Fatalf("round %d (seed %d): drift after the migration:\n%s\nplan was:\n%s", round, seed, p.SQL(), plan.SQL())
		}
		if got.String() != want2.String() {
			t.Fatalf("round %d (seed %d): inspected state differs (- want, + got):\n%s\nplan was:\n%s", round, seed,
				lineDiff(want2.String(), got.String()), plan.SQL())
		}
	}
	if changes < rounds {
		t.Fatalf("only %d changes planned over %d rounds: the generator does not change enough", changes, rounds)
	}
}

func adminConfig(t *testing.T, url string) config.Config {
	t.Helper()
	cfg, err := config.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMigrationCreatesWhatEmitCreates: random models created by a plan
// from an empty database inspect exactly as the same models created by
// the table emitter: both render through package sqlbuild.
func TestMigrationCreatesWhatEmitCreates(t *testing.T) {
	t.Parallel()
	emitted, planned, scratch := pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 11))
	var specs []tableSpec
	for i := 0; i < 12; i++ {
		specs = append(specs, randomTable(r, fmt.Sprintf("t%d", i), i))
	}
	stmts := ddl(t, specs)
	if err := emit.Exec(ctx, connect(t, emitted.URL), stmts); err != nil {
		t.Fatal(err)
	}
	want, err := migrate.DesiredIn(ctx, connect(t, scratch.URL), stmts)
	if err != nil {
		t.Fatal(err)
	}
	pc := connect(t, planned.URL)
	plan := migrate.Diff(inspect(t, pc), want, migrate.Options{})
	if err := migrate.Apply(ctx, pc, plan, false); err != nil {
		t.Fatalf("seed %d: %v\n%s", seed, err, plan.SQL())
	}
	if a, b := inspect(t, connect(t, emitted.URL)).String(), inspect(t, pc).String(); a != b {
		t.Fatalf("seed %d: emitted and planned tables differ:\n%s\nplanned:\n%s", seed, a, b)
	}
}
