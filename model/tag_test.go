package model_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/uno-db/uno/model"
)

func TestParseFieldTag(t *testing.T) {
	t.Parallel()
	o := func(k string) model.TagOption { return model.TagOption{Key: k} }
	kv := func(k, v string) model.TagOption { return model.TagOption{Key: k, Value: v, HasValue: true} }
	for _, tc := range []struct {
		in   string
		want model.Tag
		err  error
	}{
		{in: "", want: model.Tag{}},
		{in: "id", want: model.Tag{Name: "id"}},
		{in: "id,pk", want: model.Tag{Name: "id", Options: []model.TagOption{o("pk")}}},
		{in: ",notnull", want: model.Tag{Options: []model.TagOption{o("notnull")}}},
		{in: " email , notnull , unique ", want: model.Tag{Name: "email", Options: []model.TagOption{o("notnull"), o("unique")}}},
		{in: "a,unique:grp,index:g2,using:gin", want: model.Tag{Name: "a", Options: []model.TagOption{kv("unique", "grp"), kv("index", "g2"), kv("using", "gin")}}},
		{in: "id,pk,default:generate_ulid()", want: model.Tag{Name: "id", Options: []model.TagOption{o("pk"), kv("default", "generate_ulid()")}}},
		{in: "s,default:'a,b'", want: model.Tag{Name: "s", Options: []model.TagOption{kv("default", "'a,b'")}}},
		{in: "s,default:'it''s, ok'", want: model.Tag{Name: "s", Options: []model.TagOption{kv("default", "'it''s, ok'")}}},
		{in: "n,check:(n IN (1, 2, 3)),notnull", want: model.Tag{Name: "n", Options: []model.TagOption{kv("check", "(n IN (1, 2, 3))"), o("notnull")}}},
		{in: `n,check:"odd,name" > 0`, want: model.Tag{Name: "n", Options: []model.TagOption{kv("check", `"odd,name" > 0`)}}},
		{in: "a,default:ARRAY[1,2]", want: model.Tag{Name: "a", Options: []model.TagOption{kv("default", "ARRAY[1,2]")}}},
		{in: "p,type:NUMERIC(12,2)", want: model.Tag{Name: "p", Options: []model.TagOption{kv("type", "NUMERIC(12,2)")}}},
		{in: "c,fk:customer.id,ondelete:cascade,onupdate:restrict", want: model.Tag{Name: "c", Options: []model.TagOption{kv("fk", "customer.id"), kv("ondelete", "cascade"), kv("onupdate", "restrict")}}},
		{in: "n,identity", want: model.Tag{Name: "n", Options: []model.TagOption{o("identity")}}},
		{in: "n,identity:always", want: model.Tag{Name: "n", Options: []model.TagOption{kv("identity", "always")}}},
		{in: ",belongs_to", want: model.Tag{Options: []model.TagOption{o("belongs_to")}}},
		{in: ",many_to_many:post_tag", want: model.Tag{Options: []model.TagOption{kv("many_to_many", "post_tag")}}},
		{in: "weird name:with colon", want: model.Tag{Name: "weird name:with colon"}},

		{in: "id,pkk", err: model.ErrBadTag},
		{in: "id,", err: model.ErrBadTag},
		{in: "id,,pk", err: model.ErrBadTag},
		{in: "id,pk:yes", err: model.ErrBadTag},
		{in: "id,default", err: model.ErrBadTag},
		{in: "id,default:", err: model.ErrBadTag},
		{in: "id,unique:", err: model.ErrBadTag},
		{in: "id,pk,pk", err: model.ErrBadTag},
		{in: "id,default:'open", err: model.ErrBadTag},
		{in: `id,check:"open`, err: model.ErrBadTag},
		{in: "id,check:(a > (1)", err: model.ErrBadTag},
		{in: "id,check:a > 1)", err: model.ErrBadTag},
		{in: "id,many_to_many", err: model.ErrBadTag},
		{in: "id,fk", err: model.ErrBadTag},
		{in: "id,table:x", err: model.ErrBadTag},
		{in: "i\x00d", err: model.ErrBadTag},
		{in: "id,default:a\x00b", err: model.ErrBadTag},
	} {
		got, err := model.ParseFieldTag(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("ParseFieldTag(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFieldTag(%q): %v", tc.in, err)
			continue
		}
		if got.Name != tc.want.Name || len(got.Options) != len(tc.want.Options) ||
			(len(got.Options) > 0 && !reflect.DeepEqual(got.Options, tc.want.Options)) {
			t.Errorf("ParseFieldTag(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestParseTableTag(t *testing.T) {
	t.Parallel()
	got, err := model.ParseTableTag("table:order, schema:sales")
	if err != nil || got.Name != "" || len(got.Options) != 2 {
		t.Fatalf("ParseTableTag = %#v, %v", got, err)
	}
	if o, ok := got.Lookup("schema"); !ok || o.Value != "sales" {
		t.Errorf("schema = %#v", o)
	}
	if got, err := model.ParseTableTag(""); err != nil || len(got.Options) != 0 {
		t.Errorf("empty table tag: %#v, %v", got, err)
	}
	for _, bad := range []string{"table", "customer", "table:a,pk", "schema:", "table:a,table:b"} {
		if _, err := model.ParseTableTag(bad); !errors.Is(err, model.ErrBadTag) {
			t.Errorf("ParseTableTag(%q) error = %v, want ErrBadTag", bad, err)
		}
	}
}

// FuzzParseFieldTag checks that the parser never panics and that what it
// accepts is consistent: known keys only, no empty option, values given
// back verbatim from the input.
func FuzzParseFieldTag(f *testing.F) {
	for _, s := range []string{
		"", "id,pk", "email,notnull,unique", "s,default:'a,b'", "n,check:(n IN (1, 2))", `x,check:"a""b" > 0`,
		"p,type:NUMERIC(12,2)", "c,fk:s.t.c,ondelete:setnull", "id,default:'open", "((", "))", "'", `"`, ",,,",
		"a,unique:g,index:g,using:gin", ",belongs_to:customer_id", "a:b,c:d", "\x00", "é,default:'ü'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := model.ParseFieldTag(s)
		if err != nil {
			if !errors.Is(err, model.ErrBadTag) {
				t.Fatalf("ParseFieldTag(%q): error %v does not wrap ErrBadTag", s, err)
			}
			return
		}
		if utf8.ValidString(s) && !utf8.ValidString(tag.Name) {
			t.Fatalf("ParseFieldTag(%q): name %q not valid UTF-8", s, tag.Name)
		}
		if !strings.Contains(s, tag.Name) {
			t.Fatalf("ParseFieldTag(%q): name %q not from input", s, tag.Name)
		}
		keys := map[string]bool{}
		for _, o := range tag.Options {
			if o.Key == "" || keys[o.Key] {
				t.Fatalf("ParseFieldTag(%q): empty or repeated key in %#v", s, tag.Options)
			}
			keys[o.Key] = true
			if o.HasValue && (o.Value == "" || !strings.Contains(s, o.Value)) {
				t.Fatalf("ParseFieldTag(%q): bad value in %#v", s, o)
			}
		}
		// Parsing never panics for the table form either.
		_, _ = model.ParseTableTag(s)
	})
}

func TestShortenName(t *testing.T) {
	t.Parallel()
	short := "uq_customer_email"
	if got := model.ShortenName(short); got != short {
		t.Errorf("ShortenName(%q) = %q", short, got)
	}
	exact := strings.Repeat("x", 63)
	if got := model.ShortenName(exact); got != exact {
		t.Errorf("63-byte name changed: %q", got)
	}
	a := "uq_" + strings.Repeat("very_long_table_name_", 4) + "column_a"
	b := "uq_" + strings.Repeat("very_long_table_name_", 4) + "column_b"
	sa, sb := model.ShortenName(a), model.ShortenName(b)
	if len(sa) > 63 || len(sb) > 63 || sa == sb || sa[:54] != a[:54] {
		t.Errorf("ShortenName: %q (%d), %q (%d)", sa, len(sa), sb, len(sb))
	}
	if model.ShortenName(a) != sa {
		t.Error("ShortenName is not deterministic")
	}
	multi := "ix_" + strings.Repeat("é", 40) // 83 bytes; byte 54 is inside a rune
	if s := model.ShortenName(multi); len(s) > 63 || !utf8.ValidString(s) {
		t.Errorf("ShortenName cut a character: %q", s)
	}
}

func TestSnakeCase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ID": "id", "CustomerID": "customer_id", "HTTPServer": "http_server", "IsActive": "is_active",
		"Name": "name", "OrderLine2": "order_line2", "already_snake": "already_snake", "APIKeyV2": "api_key_v2",
		"UserAudit": "user_audit", "A": "a",
	} {
		if got := model.SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
