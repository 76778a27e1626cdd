package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestScripts runs the scripts in testdata/script: each is a txtar-style
// archive whose comment is the script and whose files are written into a
// fresh working directory first. The commands:
//
//	env KEY=VALUE        set a variable for the commands that follow
//	[!] uno ARGS…        run the stock command; it must exit 0 (with !: not 0)
//	[!] shop ARGS…       the same with the command built around the demo models
//	exit N               the last command exited N
//	[!] stdout REGEXP    the last command's stdout matches (with !: does not)
//	[!] stderr REGEXP    the same for stderr
//	cmp stdout FILE      stdout is exactly the archive's FILE
//
// Arguments split at spaces; 'single quotes' keep one together; $WORK is
// the working directory.
func TestScripts(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/script/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts (%v)", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			runScript(t, file)
		})
	}
}

// archive is a parsed txtar file: the comment before the first file, and
// the files by name.
type archive struct {
	script string
	files  map[string]string
	order  []string
}

func parseArchive(text string) archive {
	a := archive{files: map[string]string{}}
	var name string
	var b strings.Builder
	flush := func() {
		if name == "" {
			a.script = b.String()
		} else {
			a.files[name] = b.String()
			a.order = append(a.order, name)
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimRight(line, "\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			flush()
			name = strings.TrimSpace(trimmed[3 : len(trimmed)-3])
			continue
		}
		b.WriteString(line)
	}
	flush()
	return a
}

// splitArgs splits a script line at spaces, keeping 'quoted' text whole.
func splitArgs(line string) []string {
	var args []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, have = !quoted, true
		case r == ' ' && !quoted:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

func runScript(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a := parseArchive(string(b))
	work := t.TempDir()
	for _, name := range a.order {
		path := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(a.files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	var last *result
	for n, line := range strings.Split(a.script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := file + ":" + strconv.Itoa(n+1)
		args := splitArgs(strings.ReplaceAll(line, "$WORK", work))
		neg := args[0] == "!"
		if neg {
			args = args[1:]
		}
		need := func() result {
			if last == nil {
				t.Fatalf("%s: %s before any command", where, args[0])
			}
			return *last
		}
		switch args[0] {
		case "env":
			env = append(env, args[1:]...)
		case "uno", "shop":
			bin := unoBin
			if args[0] == "shop" {
				bin = shopBin
			}
			r := run{bin: bin, env: env, dir: work}.do(t, args[1:]...)
			last = &r
			if (r.code != 0) != neg {
				t.Fatalf("%s: %s\n%s", where, line, r)
			}
		case "exit":
			if want, _ := strconv.Atoi(args[1]); need().code != want {
				t.Fatalf("%s: want exit %d\n%s", where, want, *last)
			}
		case "stdout", "stderr":
			r := need()
			out := r.stdout
			if args[0] == "stderr" {
				out = r.stderr
			}
			re, err := regexp.Compile("(?m)" + strings.Join(args[1:], " "))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if re.MatchString(out) == neg {
				t.Fatalf("%s: %s\n%s", where, line, r)
			}
		case "cmp":
			r := need()
			want, ok := a.files[args[2]]
			if args[1] != "stdout" || !ok {
				t.Fatalf("%s: cmp stdout FILE, with FILE in the archive", where)
			}
			if r.stdout != want {
				t.Fatalf("%s: stdout is not %s\n%s\nwant:\n%s", where, args[2], r, want)
			}
		default:
			t.Fatalf("%s: unknown script command %q", where, args[0])
		}
	}
}
