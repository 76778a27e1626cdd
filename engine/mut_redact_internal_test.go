package engine

import "testing"

// TestRedactSQLEdges pins redactSQL's scanner on the edges the mutation
// run (scripts/mutate) found unchecked: a literal at the very start,
// standard strings with a backslash, escape strings with a lower-case e,
// every class of dollar-quote tag character, positional parameters that
// look like tags, and an empty dollar-quoted body. No secret may come back.
func TestRedactSQLEdges(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// A literal at offset 0: nothing precedes it to make it an E'' string.
		{"'s3cret' PASSWORD", "'********' PASSWORD"},
		// A standard string ends at its quote even after a backslash.
		{"ALTER ROLE a PASSWORD 'a\\' 's3cret'", "ALTER ROLE a PASSWORD '********' '********'"},
		// e'' (lower case) escapes with a backslash like E''.
		{"ALTER ROLE a PASSWORD e'a\\'s3cret'", "ALTER ROLE a PASSWORD e'********'"},
		// Tags of every character class, first and last of each range.
		{"ALTER ROLE a PASSWORD $a$s3cret$a$ LOGIN", "ALTER ROLE a PASSWORD '********' LOGIN"},
		{"ALTER ROLE a PASSWORD $z$s3cret$z$ LOGIN", "ALTER ROLE a PASSWORD '********' LOGIN"},
		{"ALTER ROLE a PASSWORD $A$s3cret$A$ LOGIN", "ALTER ROLE a PASSWORD '********' LOGIN"},
		{"ALTER ROLE a PASSWORD $Z$s3cret$Z$ LOGIN", "ALTER ROLE a PASSWORD '********' LOGIN"},
		{"ALTER ROLE a PASSWORD $_$s3cret$_$ LOGIN", "ALTER ROLE a PASSWORD '********' LOGIN"},
		{"ALTER ROLE a PASSWORD $t0$s3cret$t0$ LOGIN", "ALTER ROLE a PASSWORD '********' LOGIN"},
		{"ALTER ROLE a PASSWORD $t9$s3cret$t9$ LOGIN", "ALTER ROLE a PASSWORD '********' LOGIN"},
		// A tag cannot start with a digit: $0$, $1$ and $9$ are a parameter
		// followed by a '$', and what follows is scanned on.
		{"ALTER ROLE a PASSWORD $0$ LOGIN", "ALTER ROLE a PASSWORD $0$ LOGIN"},
		{"ALTER ROLE a PASSWORD $1$ LOGIN", "ALTER ROLE a PASSWORD $1$ LOGIN"},
		{"ALTER ROLE a PASSWORD $9$ LOGIN", "ALTER ROLE a PASSWORD $9$ LOGIN"},
		// A '$' word that is not closed by '$' is no tag.
		{"ALTER ROLE a PASSWORD $abc LOGIN", "ALTER ROLE a PASSWORD $abc LOGIN"},
		// An empty dollar-quoted body; what follows stays.
		{"CREATE ROLE a PASSWORD $p$$p$ LOGIN", "CREATE ROLE a PASSWORD '********' LOGIN"},
	} {
		if got := redactSQL(tc.in); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}
