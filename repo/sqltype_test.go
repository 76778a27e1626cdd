package repo

import "testing"

func TestCastType(t *testing.T) {
	for in, want := range map[string]string{
		"VARCHAR(12)":                 "VARCHAR",
		"NUMERIC(12,2)":               "NUMERIC",
		"VARCHAR(12)[]":               "VARCHAR[]",
		"numeric(10, 2)[]":            "numeric[]",
		"CHAR(3)":                     "BPCHAR",
		"CHARACTER VARYING(5)":        "CHARACTER VARYING",
		"BIT(4)":                      "VARBIT",
		"TIMESTAMP(3) WITH TIME ZONE": "TIMESTAMP WITH TIME ZONE",
		"BIGINT":                      "BIGINT",
		"TEXT[]":                      "TEXT[]",
		`"sales"."status"`:            `"sales"."status"`,
		`"odd(1)"`:                    `"odd(1)"`,
		`"a""(b)"[]`:                  `"a""(b)"[]`,
	} {
		if got := castType(in); got != want {
			t.Errorf("castType(%q) = %q, want %q", in, got, want)
		}
	}
}
