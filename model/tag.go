package model

import (
	"fmt"
	"strings"
)

// Tag is a parsed `uno:"…"` struct tag: an optional name followed by
// comma-separated options, each a bare key or key:value.
//
// The SQL value of default, check, type, generated and collate runs to the
// next comma that is outside parentheses, brackets, single-quoted strings
// and double-quoted identifiers, so SQL such as `default:'a,b'` or
// `check:(x IN (1, 2))` needs no escaping; other values and the name run
// to the next comma.
type Tag struct {
	Name    string      // the column name; empty for the default
	Options []TagOption // in tag order
}

// TagOption is one option of a [Tag].
type TagOption struct {
	Key      string // the option name, such as pk or default
	Value    string // the text after the colon, trimmed
	HasValue bool   // a colon was present
}

// Lookup returns the option with the given key.
func (t Tag) Lookup(key string) (TagOption, bool) {
	for _, o := range t.Options {
		if o.Key == key {
			return o, true
		}
	}
	return TagOption{}, false
}

// Has reports whether the tag holds an option with the given key.
func (t Tag) Has(key string) bool {
	_, ok := t.Lookup(key)
	return ok
}

// valueRule says whether an option takes a value.
type valueRule uint8

const (
	noValue valueRule = iota
	optionalValue
	requiredValue
)

// fieldOptions are the options of a field tag.
var fieldOptions = map[string]valueRule{
	"pk":           noValue,
	"notnull":      noValue,
	"null":         noValue,
	"unique":       optionalValue,
	"index":        optionalValue,
	"using":        requiredValue,
	"default":      requiredValue,
	"identity":     optionalValue,
	"check":        requiredValue,
	"fk":           requiredValue,
	"ondelete":     requiredValue,
	"onupdate":     requiredValue,
	"type":         requiredValue,
	"generated":    requiredValue,
	"collate":      requiredValue,
	"serial":       noValue,
	"deferrable":   optionalValue,
	"belongs_to":   optionalValue,
	"has_many":     optionalValue,
	"many_to_many": requiredValue,
}

// tableOptions are the options of the tag on an embedded [BaseModel].
var tableOptions = map[string]valueRule{
	"table":  requiredValue,
	"schema": requiredValue,
}

// sqlOptions take SQL as their value: it may hold commas inside
// parentheses, brackets and quotes.
var sqlOptions = map[string]bool{"default": true, "check": true, "type": true, "generated": true, "collate": true}

// ParseFieldTag parses the tag of a model field: the column name (empty
// for the default) followed by options. It checks syntax, option names and
// value presence; whether options fit the field is checked at registration.
//
// The name and the values of options other than default, check, type,
// generated and collate run to the next comma and are taken verbatim
// (quotes included); the SQL values of those five run to the next comma
// outside parentheses, brackets, '…' and "…".
func ParseFieldTag(s string) (Tag, error) {
	name, rest, _ := strings.Cut(s, ",")
	t := Tag{Name: strings.TrimSpace(name)}
	if strings.ContainsRune(t.Name, 0) {
		return Tag{}, fmt.Errorf("%w: NUL byte in name", ErrBadTag)
	}
	if !strings.Contains(s, ",") {
		return t, nil
	}
	parts, err := splitOptions(rest)
	if err != nil {
		return Tag{}, err
	}
	t.Options, err = parseOptions(parts, fieldOptions)
	return t, err
}

// ParseTableTag parses the tag of an embedded [BaseModel]: options only,
// such as table:name and schema:name.
func ParseTableTag(s string) (Tag, error) {
	if strings.TrimSpace(s) == "" {
		return Tag{}, nil
	}
	parts, err := splitOptions(s)
	if err != nil {
		return Tag{}, err
	}
	opts, err := parseOptions(parts, tableOptions)
	return Tag{Options: opts}, err
}

func parseOptions(parts []string, allowed map[string]valueRule) ([]TagOption, error) {
	opts := make([]TagOption, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("%w: empty option", ErrBadTag)
		}
		var o TagOption
		if i := strings.IndexByte(p, ':'); i >= 0 {
			o = TagOption{Key: strings.TrimSpace(p[:i]), Value: strings.TrimSpace(p[i+1:]), HasValue: true}
		} else {
			o = TagOption{Key: p}
		}
		rule, ok := allowed[o.Key]
		if !ok {
			return nil, fmt.Errorf("%w: unknown option %q", ErrBadTag, o.Key)
		}
		switch {
		case rule == noValue && o.HasValue:
			return nil, fmt.Errorf("%w: option %q takes no value", ErrBadTag, o.Key)
		case rule == requiredValue && o.Value == "":
			return nil, fmt.Errorf("%w: option %q needs a value", ErrBadTag, o.Key)
		case o.HasValue && o.Value == "":
			return nil, fmt.Errorf("%w: option %q has an empty value", ErrBadTag, o.Key)
		case strings.ContainsRune(o.Value, 0):
			return nil, fmt.Errorf("%w: NUL byte in option %q", ErrBadTag, o.Key)
		}
		for _, prev := range opts {
			if prev.Key == o.Key {
				return nil, fmt.Errorf("%w: option %q given twice", ErrBadTag, o.Key)
			}
		}
		opts = append(opts, o)
	}
	return opts, nil
}

// splitOptions splits s into options at commas; inside the value of a
// default, check, type, generated or collate option, commas within (),
// [], '…' and "…" do not split.
func splitOptions(s string) ([]string, error) {
	var parts []string
	for {
		key, _, _ := strings.Cut(s, ",")
		k, _, hasValue := strings.Cut(key, ":")
		end := len(key)
		if hasValue && sqlOptions[strings.TrimSpace(k)] {
			var err error
			if end, err = sqlEnd(s); err != nil {
				return nil, err
			}
		}
		parts = append(parts, s[:end])
		if end == len(s) {
			return parts, nil
		}
		s = s[end+1:]
	}
}

// sqlEnd returns the index of the first comma of s outside (), [], '…'
// and "…", or len(s).
func sqlEnd(s string) (int, error) {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote {
				if i+1 < len(s) && s[i+1] == quote { // doubled quote inside a string
					i++
					continue
				}
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '(', '[':
			depth++
		case ')', ']':
			depth--
			if depth < 0 {
				return 0, fmt.Errorf("%w: unbalanced %q at byte %d", ErrBadTag, c, i)
			}
		case ',':
			if depth == 0 {
				return i, nil
			}
		}
	}
	if quote != 0 {
		return 0, fmt.Errorf("%w: unterminated %c quote", ErrBadTag, quote)
	}
	if depth != 0 {
		return 0, fmt.Errorf("%w: unbalanced parentheses", ErrBadTag)
	}
	return len(s), nil
}
