package repo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/uno-db/uno"
	"github.com/uno-db/uno/config"
	"github.com/uno-db/uno/dberr"
	"github.com/uno-db/uno/emit"
	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/internal/pgtest"
	"github.com/uno-db/uno/model"
	"github.com/uno-db/uno/quote"
	"github.com/uno-db/uno/repo"
	"github.com/uno-db/uno/types"
)

// Person is the model of the examples.
type Person struct {
	uno.Model `uno:"table:person"`
	model.ULIDKey
	Name  types.String255 `uno:"name"`
	Email types.String255 `uno:"email,unique"`
	Age   int64           `uno:"age"`
}

var exampleSeq atomic.Int64

// exampleDB creates a database holding the models' tables and opens it.
// In an application the tables come from migrations and the config from
// config.FromEnv.
func exampleDB(models ...any) (*engine.DB, *model.Registry, func(), error) {
	ctx := context.Background()
	adminURL, err := pgtest.ServerURL()
	if err != nil {
		return nil, nil, nil, err
	}
	name := fmt.Sprintf("uno_repo_example_%d_%d", os.Getpid(), exampleSeq.Add(1))
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, nil, nil, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+quote.Ident(name)); err != nil {
		return nil, nil, nil, err
	}
	drop := func() {
		c, err := pgx.Connect(ctx, adminURL)
		if err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+quote.Ident(name)+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	reg := model.NewRegistry()
	if err := reg.Register(models...); err != nil {
		drop()
		return nil, nil, nil, err
	}
	dbURL := pgtest.WithPath(adminURL, name)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		drop()
		return nil, nil, nil, err
	}
	defer conn.Close(ctx)
	stmts, err := emit.NewTableEmitter(reg.Tables()...).Emit()
	if err == nil {
		_, err = conn.Exec(ctx, generateULID())
	}
	if err == nil {
		err = emit.Exec(ctx, conn, stmts)
	}
	if err != nil {
		drop()
		return nil, nil, nil, err
	}
	cfg, err := config.Parse(dbURL)
	if err != nil {
		drop()
		return nil, nil, nil, err
	}
	factory, err := engine.NewFactory(engine.Options{})
	if err != nil {
		drop()
		return nil, nil, nil, err
	}
	db, err := factory.Open(ctx, cfg)
	if err != nil {
		drop()
		return nil, nil, nil, err
	}
	return db, reg, func() { _ = factory.Close(ctx); drop() }, nil
}

// The seed's create, get, update, filter and delete.
func ExampleRepository() {
	db, reg, cleanup, err := exampleDB((*Person)(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()
	ctx := context.Background()
	people, err := repo.New[Person](db, reg)
	if err != nil {
		fmt.Println(err)
		return
	}

	ann := Person{Name: "Ann", Email: "ann@example.com", Age: 41}
	if err := people.Create(ctx, &ann); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("generated key:", len(ann.ID) == 26)

	// customer, created = await db.create(...)
	again := Person{Name: "Someone", Email: "ann@example.com"}
	created, err := people.CreateOrGet(ctx, &again, "email")
	fmt.Println("created:", created, "found:", again.Name, err)

	// A plain Create on the same email is a conflict naming the field.
	err = people.Create(ctx, &Person{Name: "Dup", Email: "ann@example.com"})
	var ce *repo.ConstraintError
	if errors.Is(err, dberr.ErrUniqueViolation) && errors.As(err, &ce) {
		fmt.Println("conflict:", ce.Constraint, ce.Model, ce.Fields)
	}

	got, err := people.GetBy(ctx, repo.Eq{"email": "ann@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	got.Age = 42
	if err := people.Update(ctx, got, "age"); err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range []Person{{Name: "Bob", Email: "bob@example.com", Age: 30}, {Name: "Joanna", Email: "jo@example.com", Age: 25}} {
		if err := people.Create(ctx, &p); err != nil {
			fmt.Println(err)
			return
		}
	}

	// A web handler passes the query string straight in.
	f, err := people.ParseQuery("name__i_contains=AN&order_by=-age&limit=10")
	if err != nil {
		fmt.Println("400:", err)
		return
	}
	page, err := people.Filter(ctx, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range page {
		fmt.Println(p.Name, p.Age)
	}
	_, err = people.ParseQuery("age__contains=4")
	fmt.Println("400:", err)

	if err := people.Delete(ctx, got); err != nil {
		fmt.Println(err)
		return
	}
	_, err = people.Get(ctx, got.ID)
	fmt.Println("after delete:", errors.Is(err, dberr.ErrNotFound))
	// Output:
	// generated key: true
	// created: false found: Ann <nil>
	// conflict: uq_person_email repo_test.Person [Email]
	// Ann 42
	// Joanna 25
	// 400: repo: lookup does not fit the column type "age" lookup "contains": column age is number
	// after delete: true
}

// Merge reports what it did with each row, and leaves equal rows alone.
func ExampleRepository_Merge() {
	db, reg, cleanup, err := exampleDB((*Person)(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()
	ctx := context.Background()
	people, err := repo.New[Person](db, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	rows := []Person{{Name: "Ann", Email: "ann@example.com", Age: 41}, {Name: "Bob", Email: "bob@example.com", Age: 30}}
	res, err := people.Merge(ctx, rows, repo.MergeOptions{On: []string{"email"}})
	fmt.Println(res.Outcomes, err)

	rows = []Person{{Name: "Ann", Email: "ann@example.com", Age: 42}, {Name: "Bob", Email: "bob@example.com", Age: 30},
		{Name: "Cy", Email: "cy@example.com", Age: 20}}
	res, err = people.Merge(ctx, rows, repo.MergeOptions{On: []string{"email"}})
	fmt.Println(res.Outcomes, err)
	fmt.Println("inserted", res.Inserted, "updated", res.Updated, "unchanged", res.Unchanged)
	// Output:
	// [inserted inserted] <nil>
	// [updated unchanged inserted] <nil>
	// inserted 1 updated 1 unchanged 1
}

// Stream reads a large result without holding it in memory.
func ExampleRepository_Stream() {
	db, reg, cleanup, err := exampleDB((*Person)(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()
	ctx := context.Background()
	people, err := repo.New[Person](db, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	rows := make([]Person, 1000)
	for i := range rows {
		rows[i] = Person{Name: "p", Email: types.String255(fmt.Sprint(i, "@example.com")), Age: int64(i)}
	}
	n, err := people.CopyFrom(ctx, rows)
	fmt.Println("copied", n, err)
	var sum int64
	for p, err := range people.Stream(ctx, repo.Filter{Where: []repo.Cond{{Field: "age", Lookup: "gte", Value: 500}}}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		sum += p.Age
	}
	fmt.Println("sum", sum)
	// Output:
	// copied 1000 <nil>
	// sum 374750
}

// A batch sends several operations in one round trip, all or nothing.
func ExampleBatch() {
	db, reg, cleanup, err := exampleDB((*Person)(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()
	ctx := context.Background()
	people, err := repo.New[Person](db, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ann := Person{Name: "Ann", Email: "ann@example.com"}
	if err := people.Create(ctx, &ann); err != nil {
		fmt.Println(err)
		return
	}
	b := repo.NewBatch()
	bob := Person{Name: "Bob", Email: "bob@example.com"}
	people.QueueCreate(b, &bob)
	var got Person
	people.QueueGet(b, &got, ann.ID)
	fmt.Println("queued:", b.Len())
	if err := b.Send(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", bob.ID != "", "read:", got.Name)

	// One failing operation fails them all.
	b = repo.NewBatch()
	people.QueueCreate(b, &Person{Name: "Cy", Email: "cy@example.com"})
	people.QueueCreate(b, &Person{Name: "Dup", Email: "ann@example.com"})
	err = b.Send(ctx)
	n, _ := people.Count(ctx, repo.Filter{})
	fmt.Println(errors.Is(err, dberr.ErrUniqueViolation), "rows:", n)
	// Output:
	// queued: 2
	// created: true read: Ann
	// true rows: 2
}
