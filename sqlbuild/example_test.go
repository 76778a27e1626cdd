package sqlbuild_test

import (
	"fmt"

	"github.com/uno-db/uno/sqlbuild"
)

// A SECURITY DEFINER function gets a pinned search_path and loses EXECUTE
// for PUBLIC; the body is quoted with a tag it does not contain.
func ExampleFunction() {
	f := sqlbuild.Function{
		Schema:          "app",
		Name:            "touch",
		Args:            []sqlbuild.Arg{{Name: "id", Type: "text"}},
		Returns:         "integer",
		Language:        "sql",
		SecurityDefiner: true,
		SearchPath:      []string{"app"},
		Body:            "UPDATE app.item SET seen = true WHERE item.id = touch.id RETURNING 1 -- not $uno$",
		Execute:         []string{"app_writer"},
	}
	stmts, err := f.Statements()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range stmts {
		fmt.Printf("-- %s %s\n%s;\n", s.Kind, s.Name, s.SQL)
	}
	// Output:
	// -- function app.touch
	// CREATE OR REPLACE FUNCTION "app"."touch"("id" text)
	//     RETURNS integer
	//     LANGUAGE "sql"
	//     VOLATILE
	//     SECURITY DEFINER
	//     SET search_path = "app", pg_temp
	// AS $uno1$
	// UPDATE app.item SET seen = true WHERE item.id = touch.id RETURNING 1 -- not $uno$
	// $uno1$;
	// -- grant app.touch
	// REVOKE ALL ON FUNCTION "app"."touch"(text) FROM PUBLIC;
	// -- grant app.touch
	// GRANT EXECUTE ON FUNCTION "app"."touch"(text) TO "app_writer";
}
