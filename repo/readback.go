package repo

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uno-db/uno/model"
)

// rawKind says whether a column's value in a result row can be compared
// with the struct's field as it arrives (its wire bytes), so that a field
// already holding the row's value is neither decoded nor allocated again.
type rawKind uint8

const (
	rawNone   rawKind = iota // decoded every time
	rawString                // a plain Go string kind in a TEXT or VARCHAR column
	rawInt                   // a plain Go integer in a SMALLINT, INTEGER or BIGINT column
	rawBool                  // a plain Go bool in a BOOLEAN column
)

// rawKindOf returns c's rawKind: the columns of exactColumn, whose value
// reads back exactly as written, compare byte for byte (a string) or by
// value (an integer, a bool); any other column is decoded.
func rawKindOf(c *model.Column) rawKind {
	if !exactColumn(c) {
		return rawNone
	}
	switch c.GoType.Kind() {
	case reflect.String:
		return rawString
	case reflect.Bool:
		return rawBool
	}
	return rawInt
}

// rawKinds caches the rawKind of every column of a table, by ordinal.
var rawKinds syncMap[*model.Table, []rawKind]

func rawKindsOf(t *model.Table) []rawKind {
	if k, ok := rawKinds.Load(t); ok {
		return k
	}
	k := make([]rawKind, len(t.Columns))
	for i, c := range t.Columns {
		k[i] = rawKindOf(c)
	}
	rawKinds.Store(t, k)
	return k
}

// fieldInt returns the integer field of c (a rawInt column) in row.
func fieldInt(row model.Row, c *model.Column) int64 {
	p := reflect.ValueOf(row.Addr(c)).UnsafePointer()
	switch c.GoType.Kind() {
	case reflect.Int16:
		return int64(*(*int16)(p))
	case reflect.Int32:
		return int64(*(*int32)(p))
	case reflect.Int64:
		return *(*int64)(p)
	}
	return int64(*(*int)(p))
}

// fieldBool returns the bool field of c (a rawBool column) in row.
func fieldBool(row model.Row, c *model.Column) bool {
	return *(*bool)(reflect.ValueOf(row.Addr(c)).UnsafePointer())
}

// decodeInt decodes an integer result value in format (binary: 2, 4 or 8
// bytes big-endian; text: decimal). ok is false for NULL or anything else.
func decodeInt(format int16, b []byte) (v int64, ok bool) {
	if b == nil {
		return 0, false
	}
	if format == pgx.BinaryFormatCode {
		switch len(b) {
		case 2:
			return int64(int16(binary.BigEndian.Uint16(b))), true
		case 4:
			return int64(int32(binary.BigEndian.Uint32(b))), true
		case 8:
			return int64(binary.BigEndian.Uint64(b)), true
		}
		return 0, false
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		u = u*10 + uint64(ch-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// decodeBool decodes a boolean result value in format; ok is false for NULL.
func decodeBool(format int16, b []byte) (v, ok bool) {
	if len(b) == 0 {
		return false, false
	}
	if format == pgx.BinaryFormatCode {
		return b[0] != 0, true
	}
	return b[0] == 't', true
}

// rawEqual reports whether the result value b (in format) of column c,
// of kind k, equals c's field in row.
func rawEqual(k rawKind, format int16, b []byte, row model.Row, c *model.Column) bool {
	if b == nil {
		return false
	}
	switch k {
	case rawString:
		s, ok := row.String(c)
		// The text and binary formats of text and varchar are both the
		// UTF-8 bytes.
		return ok && string(b) == s
	case rawInt:
		v, ok := decodeInt(format, b)
		return ok && v == fieldInt(row, c)
	case rawBool:
		v, ok := decodeBool(format, b)
		return ok && v == fieldBool(row, c)
	}
	return false
}

// fillRow scans the current result row of q into row: the values from
// result column lead on are the table's columns in order (the leading ones
// are not scanned). A column whose value already equals the field (see
// rawKind) is skipped, so an input read back unchanged costs no decoding
// and no allocation. dst is a buffer of len(fds) entries.
func fillRow(q pgx.Rows, fds []pgconn.FieldDescription, raw [][]byte, lead int, kinds []rawKind, row model.Row, dst []any) error {
	cols := row.Table().Columns
	if len(raw) != lead+len(cols) || len(fds) != len(raw) || len(dst) != len(raw) {
		return fmt.Errorf("result of %d columns, want %d", len(raw), lead+len(cols))
	}
	for j := range lead {
		dst[j] = nil
	}
	scan := false
	for j, c := range cols {
		if k := kinds[j]; k != rawNone && rawEqual(k, fds[lead+j].Format, raw[lead+j], row, c) {
			dst[lead+j] = nil
			continue
		}
		dst[lead+j] = row.Addr(c)
		scan = true
	}
	if !scan {
		return nil
	}
	return q.Scan(dst...)
}

// keyIndex finds an input row by the key values of a result row. It
// serves the merges whose key columns are all of a rawKind and have no
// collation of their own (keyIndexable): their values are equal in SQL
// exactly when they are equal byte for byte (a deterministic collation
// tells strings equal only when their bytes are), so the key a row comes
// back with names the one input row it came from.
type keyIndex struct {
	cols   []*model.Column
	kinds  []rawKind
	single bool           // one string or integer key column
	strs   map[string]int // one string key, or the encoded values of any other key
	ints   map[int64]int  // one integer key
	buf    []byte
	n      int // rows indexed
}

// keyIndexable reports whether a merge on key can find its rows with a
// keyIndex.
func keyIndexable(key []*model.Column) bool {
	for _, c := range key {
		if rawKindOf(c) == rawNone || c.Collation != "" {
			return false
		}
	}
	return len(key) > 0
}

// fitKeys cuts to n characters each key value longer than its VARCHAR(n)
// column whose excess is all spaces: the database stores it so cut (as
// the SQL standard asks), and the row must come back with the key it was
// sent with. A longer value with other excess characters is left for the
// database to reject (22001, string_data_right_truncation).
func fitKeys(key []*model.Column, rows []model.Row) {
	for _, c := range key {
		w := varcharWidth(c.SQLType)
		if w == 0 || rawKindOf(c) != rawString {
			continue
		}
		for _, row := range rows {
			s, _ := row.String(c)
			if len(s) <= w || utf8.RuneCountInString(s) <= w {
				continue
			}
			cut := 0
			for range w {
				_, size := utf8.DecodeRuneInString(s[cut:])
				cut += size
			}
			if strings.Trim(s[cut:], " ") == "" {
				row.SetString(c, s[:cut])
			}
		}
	}
}

// keyIndexes recycles keyIndexes, whose maps keep their room.
var keyIndexes = sync.Pool{New: func() any { return new(keyIndex) }}

// maxPooledKeys bounds the rows of a keyIndex put back in keyIndexes.
const maxPooledKeys = 4096

// getKeyIndex indexes rows by key; two rows with the same key are
// ErrDuplicateInput. Release it when done.
func getKeyIndex(key []*model.Column, rows []model.Row) (*keyIndex, error) {
	x := keyIndexes.Get().(*keyIndex)
	if err := x.build(key, rows); err != nil {
		x.release()
		return nil, err
	}
	return x, nil
}

// release empties x and puts it back in keyIndexes.
func (x *keyIndex) release() {
	if x.n > maxPooledKeys {
		return
	}
	clear(x.strs)
	clear(x.ints)
	x.cols, x.kinds, x.n = nil, x.kinds[:0], 0
	keyIndexes.Put(x)
}

func (x *keyIndex) build(key []*model.Column, rows []model.Row) error {
	x.cols, x.n = key, len(rows)
	for _, c := range key {
		x.kinds = append(x.kinds, rawKindOf(c))
	}
	dup := func(prev, i int) error { return fmt.Errorf("%w: rows %d and %d", ErrDuplicateInput, prev, i) }
	x.single = len(key) == 1 && x.kinds[0] != rawBool
	switch {
	case x.single && x.kinds[0] == rawString:
		if x.strs == nil {
			x.strs = make(map[string]int, len(rows))
		}
		for i, row := range rows {
			s, _ := row.String(key[0])
			if prev, ok := x.strs[s]; ok {
				return dup(prev, i)
			}
			x.strs[s] = i
		}
	case x.single:
		if x.ints == nil {
			x.ints = make(map[int64]int, len(rows))
		}
		for i, row := range rows {
			v := fieldInt(row, key[0])
			if prev, ok := x.ints[v]; ok {
				return dup(prev, i)
			}
			x.ints[v] = i
		}
	default:
		if x.strs == nil {
			x.strs = make(map[string]int, len(rows))
		}
		for i, row := range rows {
			x.buf = x.buf[:0]
			for j, c := range key {
				switch x.kinds[j] {
				case rawString:
					s, _ := row.String(c)
					x.buf = appendKeyPart(x.buf, s)
				case rawInt:
					x.buf = binary.BigEndian.AppendUint64(append(x.buf, 8), uint64(fieldInt(row, c)))
				case rawBool:
					x.buf = append(x.buf, 1, boolByte(fieldBool(row, c)))
				}
			}
			k := string(x.buf)
			if prev, ok := x.strs[k]; ok {
				return dup(prev, i)
			}
			x.strs[k] = i
		}
	}
	return nil
}

// appendKeyPart appends a string part of a composite key: its length, so
// that no two keys share an encoding, then its bytes.
func appendKeyPart[S string | []byte](b []byte, s S) []byte {
	b = binary.BigEndian.AppendUint32(append(b, 0), uint32(len(s)))
	return append(b, s...)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// lookup returns the input row of the result row whose table columns
// start at raw[lead] (and their formats at fds[lead]); ok is false when no
// input row has its key.
func (x *keyIndex) lookup(fds []pgconn.FieldDescription, raw [][]byte, lead int) (i int, ok bool) {
	at := func(c *model.Column) (int16, []byte, bool) {
		j := lead + c.Ordinal
		if j >= len(raw) || j >= len(fds) || raw[j] == nil {
			return 0, nil, false
		}
		return fds[j].Format, raw[j], true
	}
	if x.single && x.kinds[0] == rawInt {
		f, b, ok := at(x.cols[0])
		if !ok {
			return 0, false
		}
		v, ok := decodeInt(f, b)
		if !ok {
			return 0, false
		}
		i, ok = x.ints[v]
		return i, ok
	}
	if x.single {
		_, b, ok := at(x.cols[0])
		if !ok {
			return 0, false
		}
		i, ok = x.strs[string(b)]
		return i, ok
	}
	x.buf = x.buf[:0]
	for j, c := range x.cols {
		f, b, ok := at(c)
		if !ok {
			return 0, false
		}
		switch x.kinds[j] {
		case rawString:
			x.buf = appendKeyPart(x.buf, b)
		case rawInt:
			v, ok := decodeInt(f, b)
			if !ok {
				return 0, false
			}
			x.buf = binary.BigEndian.AppendUint64(append(x.buf, 8), uint64(v))
		case rawBool:
			v, ok := decodeBool(f, b)
			if !ok {
				return 0, false
			}
			x.buf = append(x.buf, 1, boolByte(v))
		}
	}
	i, ok = x.strs[string(x.buf)]
	return i, ok
}

// keyArrays returns, for each key column, the values of the rows whose
// index is in idx, as a typed slice for an array parameter.
func (x *keyIndex) keyArrays(rows []model.Row, idx []int) []any {
	out := make([]any, len(x.cols))
	for j, c := range x.cols {
		switch x.kinds[j] {
		case rawString:
			vs := make([]string, len(idx))
			for n, i := range idx {
				vs[n], _ = rows[i].String(c)
			}
			out[j] = vs
		case rawInt:
			vs := make([]int64, len(idx))
			for n, i := range idx {
				vs[n] = fieldInt(rows[i], c)
			}
			out[j] = vs
		case rawBool:
			vs := make([]bool, len(idx))
			for n, i := range idx {
				vs[n] = fieldBool(rows[i], c)
			}
			out[j] = vs
		}
	}
	return out
}
