// Command mutate measures how many small faults ("mutants") in a Go
// package its tests catch.
//
// Usage, from the module root:
//
//	go run ./scripts/mutate [flags] ./engine
//
// It works by mutant schemata: every mutation site of the package's non-test
// files is compiled once into one test binary (through go test -overlay, so
// no file of the working tree is touched), each site behind a switch read
// from the UNO_MUTANT environment variable. One mutant is then one run of
// that binary, with no further compilation, and several mutants can run at
// once.
//
// -tests adds other packages whose tests exercise the package (for engine:
// ./engine/replicatest); the overlay instruments the package in their
// builds too.
//
// Operators (-ops, default all but sdl):
//
//	ror  relational operator replacement: == and != swap; < becomes <= and >=,
//	     <= becomes < and >, > becomes >= and <=, >= becomes > and <
//	lcr  logical connector replacement: && and || swap
//	nif  negated if condition: if c becomes if !c (not for a comparison,
//	     where ror already makes the negation)
//	ids  increment/decrement swap: x++ and x-- swap (statements in a block;
//	     a for loop's post statement is left alone)
//	sdl  statement deletion: a call statement is not run
//
// First the tool runs every test of the package alone in the instrumented,
// unmutated binary and records which mutation sites it reaches and how
// long it takes; this map is cached (under the user cache directory, keyed
// by the package's sources, its tests and the tool's options). A mutant then
// runs only the tests that reach its site, with -test.failfast and a time
// limit of -factor times their normal time (at least -min); a failing test,
// a crash or a timeout kills it. A mutant no test reaches is counted as a
// survivor ("not reached"). Tests that fail without any mutant are left out
// and named.
//
// Mutants listed in the -equivalent file are left out of the score; each
// line of it is a survivor line as the tool prints it (file | function |
// mutation | expression) followed by " | " and the reason it is
// equivalent. -sample N runs a deterministic sample of N mutants chosen by
// -seed.
//
// The tests share one PostgreSQL server: UNO_TEST_DATABASE_URL if set
// (they create databases and roles there), else a throwaway cluster the
// tool starts with initdb and pg_ctl and removes at the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type options struct {
	ops        map[string]bool
	jobs       int
	sample     int
	seed       uint64
	factor     float64
	min        time.Duration
	equivalent string
	files      map[string]bool
	out        string
	tests      []string
	verbose    bool
	keep       bool
}

func main() {
	var o options
	var ops, files, tests string
	flag.StringVar(&ops, "ops", "ror,lcr,nif,ids", "mutation operators, comma-separated: ror, lcr, nif, ids, sdl")
	flag.IntVar(&o.jobs, "j", 1, "mutants run at once")
	flag.IntVar(&o.sample, "sample", 0, "run a deterministic sample of this many mutants (0: all)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the sample")
	flag.Float64Var(&o.factor, "factor", 3, "a mutant's time limit is this many times its tests' normal time")
	flag.DurationVar(&o.min, "min", 10*time.Second, "least time limit of a mutant")
	flag.StringVar(&o.equivalent, "equivalent", "", "file of equivalent mutants, left out of the score")
	flag.StringVar(&files, "files", "", "mutate only these files (base names, comma-separated)")
	flag.StringVar(&tests, "tests", "", "also run the tests of these packages (comma-separated patterns), e.g. a package's external test package in another directory")
	flag.StringVar(&o.out, "json", "", "also write every mutant's outcome to this JSON file")
	flag.BoolVar(&o.verbose, "v", false, "print each mutant's outcome as it comes")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (instrumented sources and binary)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/mutate [flags] ./pkg")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	o.ops = map[string]bool{}
	for _, op := range strings.Split(ops, ",") {
		op = strings.TrimSpace(op)
		switch op {
		case "ror", "lcr", "nif", "ids", "sdl":
			o.ops[op] = true
		case "":
		default:
			fatalf("unknown operator %q", op)
		}
	}
	if files != "" {
		o.files = map[string]bool{}
		for _, f := range strings.Split(files, ",") {
			o.files[strings.TrimSpace(f)] = true
		}
	}
	for _, t := range strings.Split(tests, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.tests = append(o.tests, t)
		}
	}
	if o.jobs < 1 {
		o.jobs = 1
	}
	if err := run(flag.Arg(0), o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mutate: "+format+"\n", args...)
	os.Exit(1)
}

// pkgInfo is what go list says of the package.
type pkgInfo struct {
	Dir          string
	ImportPath   string
	Name         string
	GoFiles      []string
	TestGoFiles  []string
	XTestGoFiles []string
	Module       struct{ Dir string }
}

// testPkg is a package whose tests run against the mutants, and its
// test binary.
type testPkg struct {
	info  pkgInfo
	bin   string
	short string // prefix of its test names
}

func goList(pattern string) (pkgInfo, error) {
	var p pkgInfo
	out, err := exec.Command("go", "list", "-json", pattern).Output()
	if err != nil {
		return p, fmt.Errorf("go list %s: %w", pattern, err)
	}
	if err := json.Unmarshal(out, &p); err != nil {
		return p, fmt.Errorf("go list %s: %w", pattern, err)
	}
	return p, nil
}

func run(pattern string, o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := goList(pattern)
	if err != nil {
		return err
	}
	tpkgs := []*testPkg{{info: p}}
	for _, t := range o.tests {
		tp, err := goList(t)
		if err != nil {
			return err
		}
		tpkgs = append(tpkgs, &testPkg{info: tp})
	}
	work, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return err
	}
	_ = os.Chmod(work, 0o755) // tests run as root start clusters as nobody under it
	if o.keep {
		fmt.Fprintf(os.Stderr, "work directory: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	// Instrument every file; sites are numbered across the package.
	var sites []*site
	overlay := map[string]string{}
	h := sha256.New()
	fmt.Fprintf(h, "v3 ops=%v\n", sortedKeys(o.ops))
	for _, name := range p.GoFiles {
		path := filepath.Join(p.Dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if o.files != nil && !o.files[name] {
			continue
		}
		f, err := instrument(name, src, len(sites), o.ops)
		if err != nil {
			return err
		}
		sites = append(sites, f.sites...)
		dst := filepath.Join(work, name)
		if err := os.WriteFile(dst, []byte(f.out), 0o644); err != nil {
			return err
		}
		overlay[path] = dst
		fmt.Fprintf(h, "%s\n%s\n", name, f.out)
	}
	if len(sites) == 0 {
		return errors.New("no mutation sites")
	}
	hook := filepath.Join(work, "zz_unomut_hook.go")
	if err := os.WriteFile(hook, []byte(hookSource(p.Name, len(sites))), 0o644); err != nil {
		return err
	}
	overlay[filepath.Join(p.Dir, "zz_unomut_hook.go")] = hook
	for _, tp := range tpkgs {
		for _, name := range slices.Concat(tp.info.TestGoFiles, tp.info.XTestGoFiles) {
			b, err := os.ReadFile(filepath.Join(tp.info.Dir, name))
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s/%s\n%s\n", tp.info.ImportPath, name, b)
		}
	}
	ov, _ := json.Marshal(map[string]any{"Replace": overlay})
	ovPath := filepath.Join(work, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		return err
	}
	start := time.Now()
	for i, tp := range tpkgs {
		tp.bin = filepath.Join(work, fmt.Sprintf("pkg%d.test", i))
		tp.short = filepath.Base(tp.info.ImportPath)
		build := exec.Command("go", "test", "-c", "-o", tp.bin, "-overlay", ovPath, tp.info.ImportPath)
		build.Dir = p.Module.Dir
		if b, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build of %s's tests on the instrumented package failed: %w\n%s", tp.info.ImportPath, err, b)
		}
	}
	fmt.Fprintf(os.Stderr, "%d mutation sites in %s; %d instrumented test binaries built in %v\n",
		len(sites), p.ImportPath, len(tpkgs), time.Since(start).Round(time.Second))
	if os.Getenv("UNO_TEST_DATABASE_URL") == "" {
		srv, url, err := startServer()
		if err != nil {
			return fmt.Errorf("UNO_TEST_DATABASE_URL is not set and no server could be started: %w", err)
		}
		defer srv.stop()
		os.Setenv("UNO_TEST_DATABASE_URL", url)
		fmt.Fprintf(os.Stderr, "started a PostgreSQL server for the tests at %s\n", url)
	}

	// Which tests reach which sites, and how long each takes.
	binHash := make([]byte, 0)
	sum := h.Sum(binHash)
	reach, err := coverage(ctx, tpkgs, work, hex.EncodeToString(sum[:12]), len(sites), o)
	if err != nil {
		return err
	}
	reachedBy := make([][]string, len(sites))
	for _, t := range reach.order() {
		if reach.Tests[t].Failed {
			continue
		}
		for _, id := range reach.Tests[t].Sites {
			if id < len(sites) {
				reachedBy[id] = append(reachedBy[id], t)
			}
		}
	}

	// The mutants.
	equiv, err := readEquivalent(o.equivalent)
	if err != nil {
		return err
	}
	var all []*mutant
	var excluded []*mutant
	usedEquiv := map[string]bool{}
	for _, s := range sites {
		for v := 1; v <= len(s.variants); v++ {
			m := &mutant{site: s, variant: v}
			m.Key = m.key()
			if _, ok := equiv[m.Key]; ok {
				usedEquiv[m.Key] = true
				m.Reason = equiv[m.Key]
				excluded = append(excluded, m)
				continue
			}
			all = append(all, m)
		}
	}
	for k := range equiv {
		file, _, _ := strings.Cut(k, " | ")
		if !usedEquiv[k] && (o.files == nil || o.files[file]) {
			fmt.Fprintf(os.Stderr, "note: equivalent entry matches no mutant (stale?): %s\n", k)
		}
	}
	total := len(all)
	if o.sample > 0 && o.sample < len(all) {
		r := rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15))
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		all = all[:o.sample]
		sort.Slice(all, func(i, j int) bool {
			if all[i].site.id != all[j].site.id {
				return all[i].site.id < all[j].site.id
			}
			return all[i].variant < all[j].variant
		})
		fmt.Fprintf(os.Stderr, "sample: %d of %d mutants, seed %d\n", len(all), total, o.seed)
	}

	start = time.Now()
	k := &killers{n: map[string]int{}}
	var mu sync.Mutex
	done := 0
	jobs := make(chan *mutant)
	var wg sync.WaitGroup
	for range o.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				m.Tests = reachedBy[m.site.id]
				if ctx.Err() != nil {
					continue
				}
				m.Outcome = runMutant(ctx, tpkgs, m, reach, k, o)
				mu.Lock()
				done++
				if o.verbose || m.Outcome != "killed" {
					fmt.Fprintf(os.Stderr, "[%d/%d %v] %-11s %s\n", done, len(all),
						time.Since(start).Round(time.Second), m.Outcome, m.Key)
				}
				mu.Unlock()
			}
		}()
	}
	for _, m := range all {
		jobs <- m
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	report(os.Stdout, all, excluded, reach, time.Since(start), o)
	if o.out != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(o.out, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// site is one place where the source can be mutated.
type site struct {
	id       int
	op       string // ror, lcr, nif, ids, sdl
	file     string
	line     int
	fn       string // enclosing function
	expr     string // the original source text, whitespace collapsed
	ordinal  int    // nth site with the same file, fn, op and expr
	orig     string // original operator, for ror/lcr/ids
	variants []string
	// byte offsets of the node replaced and of its operands
	start, end int
	x, y       [2]int
}

type mutant struct {
	site    *site
	variant int
	Key     string
	File    string   `json:"file"`
	Line    int      `json:"line"`
	Outcome string   `json:"outcome"` // killed, survived, not reached, timeout
	Tests   []string `json:"-"`
	Reason  string   `json:"reason,omitempty"`
}

func (m *mutant) mutation() string {
	s := m.site
	switch s.op {
	case "nif":
		return "nif negate"
	case "sdl":
		return "sdl delete"
	}
	return fmt.Sprintf("%s %s → %s", s.op, s.orig, s.variants[m.variant-1])
}

func (m *mutant) key() string {
	m.File, m.Line = m.site.file, m.site.line
	e := m.site.expr
	if m.site.ordinal > 1 {
		e += " #" + strconv.Itoa(m.site.ordinal)
	}
	return fmt.Sprintf("%s | %s | %s | %s", m.site.file, m.site.fn, m.mutation(), e)
}

// instrumented is one file after instrumentation.
type instrumented struct {
	src   []byte
	sites []*site
	out   string
}

var swaps = map[token.Token][]token.Token{
	token.EQL: {token.NEQ},
	token.NEQ: {token.EQL},
	token.LSS: {token.LEQ, token.GEQ},
	token.LEQ: {token.LSS, token.GTR},
	token.GTR: {token.GEQ, token.LEQ},
	token.GEQ: {token.GTR, token.LSS},
}

var space = regexp.MustCompile(`\s+`)

// instrument finds the mutation sites of one file and writes the schema:
// the file with each site behind a switch, on the same lines as before.
func instrument(name string, src []byte, firstID int, ops map[string]bool) (*instrumented, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	f := &instrumented{src: src}
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	text := func(n ast.Node) string {
		return space.ReplaceAllString(string(src[off(n.Pos()):off(n.End())]), " ")
	}
	seen := map[string]int{}
	add := func(s *site, n ast.Node) {
		s.file = name
		s.line = fset.Position(n.Pos()).Line
		s.start, s.end = off(n.Pos()), off(n.End())
		s.expr = text(n)
		k := s.fn + "\x00" + s.op + "\x00" + s.expr
		seen[k]++
		s.ordinal = seen[k]
		f.sites = append(f.sites, s)
	}
	inList := map[ast.Stmt]bool{}
	var stack []ast.Node
	fn := "-"
	inConst := 0
	ast.Inspect(file, func(n ast.Node) bool {
		if n == nil {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if g, ok := top.(*ast.GenDecl); ok && g.Tok == token.CONST {
				inConst--
			}
			if _, ok := top.(*ast.FuncDecl); ok {
				fn = "-"
			}
			return true
		}
		stack = append(stack, n)
		switch n := n.(type) {
		case *ast.GenDecl:
			if n.Tok == token.CONST {
				inConst++
			}
		case *ast.FuncDecl:
			fn = n.Name.Name
			if n.Recv != nil && len(n.Recv.List) == 1 {
				t := n.Recv.List[0].Type
				if s, ok := t.(*ast.StarExpr); ok {
					t = s.X
				}
				if ix, ok := t.(*ast.IndexExpr); ok {
					t = ix.X
				}
				if id, ok := t.(*ast.Ident); ok {
					fn = id.Name + "." + fn
				}
			}
		case *ast.BlockStmt:
			for _, s := range n.List {
				inList[s] = true
			}
		case *ast.CaseClause:
			for _, s := range n.Body {
				inList[s] = true
			}
		case *ast.CommClause:
			for _, s := range n.Body {
				inList[s] = true
			}
		case *ast.LabeledStmt:
			inList[n.Stmt] = true
		case *ast.BinaryExpr:
			if inConst > 0 {
				break
			}
			if alts, ok := swaps[n.Op]; ok && ops["ror"] {
				s := &site{op: "ror", fn: fn, orig: n.Op.String()}
				for _, a := range alts {
					s.variants = append(s.variants, a.String())
				}
				s.x = [2]int{off(n.X.Pos()), off(n.X.End())}
				s.y = [2]int{off(n.Y.Pos()), off(n.Y.End())}
				add(s, n)
			}
			if (n.Op == token.LAND || n.Op == token.LOR) && ops["lcr"] {
				alt := token.LOR
				if n.Op == token.LOR {
					alt = token.LAND
				}
				s := &site{op: "lcr", fn: fn, orig: n.Op.String(), variants: []string{alt.String()}}
				s.x = [2]int{off(n.X.Pos()), off(n.X.End())}
				s.y = [2]int{off(n.Y.Pos()), off(n.Y.End())}
				add(s, n)
			}
		case *ast.IfStmt:
			if !ops["nif"] {
				break
			}
			c := ast.Unparen(n.Cond)
			if b, ok := c.(*ast.BinaryExpr); ok && swaps[b.Op] != nil {
				break // ror's negation is the same mutant
			}
			s := &site{op: "nif", fn: fn, variants: []string{"!"}}
			s.x = [2]int{off(n.Cond.Pos()), off(n.Cond.End())}
			add(s, n.Cond)
		case *ast.IncDecStmt:
			if !ops["ids"] || !inList[n] {
				break
			}
			alt := token.DEC
			if n.Tok == token.DEC {
				alt = token.INC
			}
			s := &site{op: "ids", fn: fn, orig: n.Tok.String(), variants: []string{alt.String()}}
			s.x = [2]int{off(n.X.Pos()), off(n.X.End())}
			add(s, n)
		case *ast.ExprStmt:
			if !ops["sdl"] || !inList[n] {
				break
			}
			if _, ok := n.X.(*ast.CallExpr); !ok {
				break
			}
			s := &site{op: "sdl", fn: fn, variants: []string{"delete"}}
			s.x = [2]int{off(n.Pos()), off(n.End())}
			add(s, n)
		}
		return true
	})
	for i, s := range f.sites {
		s.id = firstID + i
	}
	// Outer sites first; a site and the one it wraps can share a range
	// (nif around lcr), then the nif comes first.
	order := slices.Clone(f.sites)
	rank := map[string]int{"nif": 0, "sdl": 0, "lcr": 1, "ror": 1, "ids": 1}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.end != b.end {
			return a.end > b.end
		}
		return rank[a.op] < rank[b.op]
	})
	f.out = f.render(order, 0, len(src), nil)
	return f, nil
}

// render writes src[start:end] with every site inside it replaced by its
// schema, leaving out skip (the site being written).
func (f *instrumented) render(order []*site, start, end int, skip *site) string {
	var b strings.Builder
	pos := start
	for _, s := range order {
		if s == skip || s.start < pos || s.end > end {
			continue
		}
		b.Write(f.src[pos:s.start])
		b.WriteString(f.schema(order, s))
		pos = s.end
	}
	b.Write(f.src[pos:end])
	return b.String()
}

// schema is the replacement of site s. It stays on one line, so line
// numbers in the mutated binary are the original ones.
func (f *instrumented) schema(order []*site, s *site) string {
	x := f.render(order, s.x[0], s.x[1], s)
	switch s.op {
	case "ror", "lcr":
		y := f.render(order, s.y[0], s.y[1], s)
		var b strings.Builder
		fmt.Fprintf(&b, "(func() bool { switch unoMutV(%d) {", s.id)
		for i, v := range s.variants {
			fmt.Fprintf(&b, " case %d: return (%s) %s (%s);", i+1, x, v, y)
		}
		fmt.Fprintf(&b, " }; return (%s) %s (%s) }())", x, s.orig, y)
		return b.String()
	case "nif":
		return fmt.Sprintf("unoMutNeg(%d, %s)", s.id, x)
	case "ids":
		return fmt.Sprintf("if unoMutV(%d) == 1 { %s%s } else { %s%s }", s.id, x, s.variants[0], x, s.orig)
	case "sdl":
		return fmt.Sprintf("if unoMutV(%d) != 1 { %s }", s.id, x)
	}
	panic("unknown operator " + s.op)
}

// hookSource is the file added to the package: the switch every site asks,
// and the trace of reached sites.
func hookSource(pkg string, n int) string {
	return fmt.Sprintf(`package %s

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

type unoMutPick struct{ id, v int }

var (
	unoMutSel   = unoMutParse()
	unoMutTrace = os.Getenv("UNO_MUTANT_TRACE")
	unoMutSeen  [%d]atomic.Bool
	unoMutMu    sync.Mutex
)

func unoMutParse() unoMutPick {
	s := os.Getenv("UNO_MUTANT")
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return unoMutPick{-1, 0}
	}
	id, err1 := strconv.Atoi(s[:i])
	v, err2 := strconv.Atoi(s[i+1:])
	if err1 != nil || err2 != nil {
		panic("UNO_MUTANT is not id:variant: " + s)
	}
	return unoMutPick{id, v}
}

func unoMutV(id int) int {
	if unoMutTrace != "" && unoMutSeen[id].CompareAndSwap(false, true) {
		unoMutMu.Lock()
		if f, err := os.OpenFile(unoMutTrace, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			_, _ = f.WriteString(strconv.Itoa(id) + "\n")
			_ = f.Close()
		}
		unoMutMu.Unlock()
	}
	if id == unoMutSel.id {
		return unoMutSel.v
	}
	return 0
}

func unoMutNeg(id int, c bool) bool {
	if unoMutV(id) == 1 {
		return !c
	}
	return c
}
`, pkg, n)
}

// testRun is what one unmutated test did.
type testRun struct {
	Seconds float64 `json:"seconds"`
	Sites   []int   `json:"sites"`
	Failed  bool    `json:"failed"`
}

type reachMap struct {
	Tests map[string]*testRun `json:"tests"`
	Suite map[string]float64  `json:"suite"` // per test package, seconds of its passing tests run together
}

func (r *reachMap) order() []string {
	var names []string
	for n := range r.Tests {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// coverage runs each test alone, unmutated, recording the sites it
// reaches and its time; the result is cached under key.
func coverage(ctx context.Context, tpkgs []*testPkg, work, key string, nsites int, o options) (*reachMap, error) {
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	cacheDir = filepath.Join(cacheDir, "uno-mutate")
	cacheFile := filepath.Join(cacheDir, key+".json")
	if b, err := os.ReadFile(cacheFile); err == nil {
		var r reachMap
		if json.Unmarshal(b, &r) == nil && len(r.Tests) > 0 {
			fmt.Fprintf(os.Stderr, "test→site map from cache %s\n", cacheFile)
			return &r, nil
		}
	}
	var tests []string
	for _, tp := range tpkgs {
		list := exec.Command(tp.bin, "-test.list", ".")
		list.Dir = tp.info.Dir
		out, err := list.Output()
		if err != nil {
			return nil, fmt.Errorf("listing tests of %s: %w", tp.info.ImportPath, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			t := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(t, "Test") || strings.HasPrefix(t, "Example") || strings.HasPrefix(t, "Fuzz") {
				tests = append(tests, tp.short+"."+t)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "mapping %d tests to the sites they reach\n", len(tests))
	r := &reachMap{Tests: map[string]*testRun{}, Suite: map[string]float64{}}
	var mu sync.Mutex
	jobs := make(chan string)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				trace := filepath.Join(work, fmt.Sprintf("trace-%d", i))
				_ = os.Remove(trace)
				t0 := time.Now()
				tp, name := split(tpkgs, t)
				res := runTests(ctx, tp, []string{name}, "", trace, 10*time.Minute)
				tr := &testRun{Seconds: time.Since(t0).Seconds(), Failed: res != "passed"}
				if b, err := os.ReadFile(trace); err == nil {
					for _, l := range strings.Fields(string(b)) {
						if id, err := strconv.Atoi(l); err == nil && id < nsites {
							tr.Sites = append(tr.Sites, id)
						}
					}
				}
				sort.Ints(tr.Sites)
				mu.Lock()
				r.Tests[t] = tr
				if tr.Failed {
					fmt.Fprintf(os.Stderr, "warning: %s fails without any mutant (%s); it is left out\n", t, res)
				}
				mu.Unlock()
			}
		}()
	}
	for _, t := range tests {
		jobs <- t
	}
	close(jobs)
	wg.Wait()
	for _, tp := range tpkgs {
		var passing []string
		for _, t := range r.order() {
			if q, name := split(tpkgs, t); q == tp && !r.Tests[t].Failed {
				passing = append(passing, name)
			}
		}
		if len(passing) == 0 {
			continue
		}
		t0 := time.Now()
		if res := runTests(ctx, tp, passing, "", "", 20*time.Minute); res != "passed" {
			// A test that passes alone but not beside the others is flaky
			// under load: its mutants may be reported killed wrongly.
			fmt.Fprintf(os.Stderr, "warning: the passing tests of %s, run together without a mutant: %s; time limits are not capped by the suite's time\n",
				tp.info.ImportPath, res)
			continue
		}
		r.Suite[tp.short] = time.Since(t0).Seconds()
	}
	fmt.Fprintf(os.Stderr, "mapped in %v; suites take %v (seconds)\n", time.Since(start).Round(time.Second), r.Suite)
	if err := os.MkdirAll(cacheDir, 0o755); err == nil {
		b, _ := json.Marshal(r)
		_ = os.WriteFile(cacheFile, b, 0o644)
	}
	return r, nil
}

// split turns a qualified test name (package.TestName) into its package
// and the test's own name.
func split(tpkgs []*testPkg, qualified string) (*testPkg, string) {
	short, name, _ := strings.Cut(qualified, ".")
	for _, tp := range tpkgs {
		if tp.short == short {
			return tp, name
		}
	}
	return tpkgs[0], name
}

// runTests runs the named tests in bin with the mutant pick ("" for none)
// and returns "passed", "failed" or "timeout". The tests get a temporary
// directory of their own; a cluster a killed test left running there is
// stopped and the directory removed.
func runTests(ctx context.Context, tp *testPkg, tests []string, pick, trace string, limit time.Duration) string {
	var quoted []string
	for _, t := range tests {
		quoted = append(quoted, regexp.QuoteMeta(t))
	}
	tmp, err := os.MkdirTemp(filepath.Dir(tp.bin), "tmp-")
	if err != nil {
		return "failed"
	}
	_ = os.Chmod(tmp, 0o777) // clusters started as root run as nobody
	defer cleanTmp(tmp)
	ctx, cancel := context.WithTimeout(ctx, limit+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tp.bin, "-test.run", "^("+strings.Join(quoted, "|")+")$",
		"-test.count=1", "-test.failfast", "-test.timeout", limit.String())
	cmd.Dir = tp.info.Dir
	env := slices.DeleteFunc(os.Environ(), func(s string) bool {
		return strings.HasPrefix(s, "UNO_MUTANT=") || strings.HasPrefix(s, "UNO_MUTANT_TRACE=") ||
			strings.HasPrefix(s, "TMPDIR=")
	})
	env = append(env, "TMPDIR="+tmp)
	if pick != "" {
		env = append(env, "UNO_MUTANT="+pick)
	}
	if trace != "" {
		env = append(env, "UNO_MUTANT_TRACE="+trace)
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	switch {
	case err == nil:
		return "passed"
	case ctx.Err() != nil || bytes.Contains(out.Bytes(), []byte("panic: test timed out")):
		return "timeout"
	default:
		return "failed"
	}
}

// cleanTmp stops the PostgreSQL servers whose data directories lie under
// dir (left by a test that was killed or timed out) and removes dir.
func cleanTmp(dir string) {
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "postmaster.pid" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown
			for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
				time.Sleep(50 * time.Millisecond)
			}
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

// limitFor is the time limit of a run of tests: factor times their time
// when run alone one after the other, but no more than factor times the
// whole suite's time, and at least -min.
func limitFor(tests []string, reach *reachMap, o options) time.Duration {
	var sum float64
	for _, t := range tests {
		sum += reach.Tests[t].Seconds
	}
	short, _, _ := strings.Cut(tests[0], ".")
	if suite := reach.Suite[short]; suite > 0 && sum > suite {
		sum = suite
	}
	limit := time.Duration(o.factor * sum * float64(time.Second))
	return max(limit, o.min)
}

// killers counts, per test, the mutants it killed so far; tests that kill
// often run first.
type killers struct {
	mu sync.Mutex
	n  map[string]int
}

func (k *killers) order(tests []string, reach *reachMap) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := slices.Clone(tests)
	sort.SliceStable(t, func(i, j int) bool {
		if k.n[t[i]] != k.n[t[j]] {
			return k.n[t[i]] > k.n[t[j]]
		}
		return reach.Tests[t[i]].Seconds < reach.Tests[t[j]].Seconds
	})
	return t
}

func (k *killers) credit(t string) {
	k.mu.Lock()
	k.n[t]++
	k.mu.Unlock()
}

// runMutant runs the tests that reach m's site: first the likeliest killer
// alone, then, if the mutant survived it, the others together.
func runMutant(ctx context.Context, tpkgs []*testPkg, m *mutant, reach *reachMap, k *killers, o options) string {
	if len(m.Tests) == 0 {
		return "not reached"
	}
	pick := fmt.Sprintf("%d:%d", m.site.id, m.variant)
	tests := k.order(m.Tests, reach)
	stages := [][]string{tests[:1]}
	for _, tp := range tpkgs {
		var rest []string
		for _, t := range tests[1:] {
			if q, _ := split(tpkgs, t); q == tp {
				rest = append(rest, t)
			}
		}
		if len(rest) > 0 {
			stages = append(stages, rest)
		}
	}
	for _, stage := range stages {
		tp, _ := split(tpkgs, stage[0])
		var names []string
		for _, t := range stage {
			_, n := split(tpkgs, t)
			names = append(names, n)
		}
		switch runTests(ctx, tp, names, pick, "", limitFor(stage, reach, o)) {
		case "timeout":
			return "timeout" // counted as killed
		case "failed":
			if len(stage) == 1 {
				k.credit(stage[0])
			}
			return "killed"
		}
	}
	return "survived"
}

func readEquivalent(path string) (map[string]string, error) {
	eq := map[string]string{}
	if path == "" {
		return eq, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, " | ")
		if len(parts) < 5 {
			return nil, fmt.Errorf("%s:%d: want file | function | mutation | expression | reason", path, n+1)
		}
		eq[strings.Join(parts[:4], " | ")] = strings.Join(parts[4:], " | ")
	}
	return eq, nil
}

func report(w *os.File, all, excluded []*mutant, reach *reachMap, took time.Duration, o options) {
	type tally struct{ total, reached, killed int }
	per := map[string]*tally{}
	var files []string
	var sum tally
	var survivors []*mutant
	for _, m := range all {
		t := per[m.File]
		if t == nil {
			t = &tally{}
			per[m.File] = t
			files = append(files, m.File)
		}
		t.total++
		sum.total++
		if m.Outcome != "not reached" {
			t.reached++
			sum.reached++
		}
		if m.Outcome == "killed" || m.Outcome == "timeout" {
			t.killed++
			sum.killed++
		} else {
			survivors = append(survivors, m)
		}
	}
	sort.Strings(files)
	pct := func(a, b int) float64 {
		if b == 0 {
			return 100
		}
		return 100 * float64(a) / float64(b)
	}
	fmt.Fprintf(w, "\noperators: %s; %d mutants run in %v with -j %d", strings.Join(sortedKeys(o.ops), ","), len(all), took.Round(time.Second), o.jobs)
	if o.sample > 0 {
		fmt.Fprintf(w, " (sample, seed %d)", o.seed)
	}
	fmt.Fprintf(w, "; %d left out as equivalent\n\n", len(excluded))
	fmt.Fprintf(w, "%-22s %8s %8s %8s %8s\n", "file", "mutants", "reached", "killed", "score")
	for _, f := range files {
		t := per[f]
		fmt.Fprintf(w, "%-22s %8d %8d %8d %7.1f%%\n", f, t.total, t.reached, t.killed, pct(t.killed, t.total))
	}
	fmt.Fprintf(w, "%-22s %8d %8d %8d %7.1f%%\n", "total", sum.total, sum.reached, sum.killed, pct(sum.killed, sum.total))
	var failing []string
	for _, t := range reach.order() {
		if reach.Tests[t].Failed {
			failing = append(failing, t)
		}
	}
	if len(failing) > 0 {
		fmt.Fprintf(w, "\ntests left out because they fail without a mutant: %s\n", strings.Join(failing, ", "))
	}
	if len(survivors) > 0 {
		fmt.Fprintf(w, "\nsurvivors (file | function | mutation | expression), line, outcome:\n")
		for _, m := range survivors {
			fmt.Fprintf(w, "%s\t:%d\t%s\n", m.Key, m.Line, m.Outcome)
		}
	}
}
