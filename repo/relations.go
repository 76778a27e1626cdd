package repo

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/uno-db/uno/engine"
	"github.com/uno-db/uno/model"
)

// ErrRelation is returned by Load for a relation it cannot load.
var ErrRelation = errors.New("repo: cannot load relation")

// Load fills the named relationship fields (Go field names, as in the
// model: "Author", "Books") of every row with one query per relation,
// never one per row: a belongs-to field gets the row its foreign key
// points to, a has-many field the rows pointing to it, a many-to-many field
// the rows linked through the association table (soft-deleted ones left
// out of both), ordered by their primary key. Empty names: every relation
// of the model. Composite foreign keys are not supported (ErrRelation).
func (r *Repository[T]) Load(ctx context.Context, rows []T, relations ...string) error {
	var rels []*model.Relation
	if len(relations) == 0 {
		rels = r.s.table.Relations
	} else {
		for _, name := range relations {
			var found *model.Relation
			for _, rel := range r.s.table.Relations {
				if rel.Field == name {
					found = rel
				}
			}
			if found == nil {
				return r.errorf("load", &FieldError{Field: name, Err: ErrUnknownField, Reason: "not a relationship field"})
			}
			rels = append(rels, found)
		}
	}
	for _, rel := range rels {
		if rel.ForeignKey == nil || len(rel.ForeignKey.Columns) != 1 ||
			(rel.Kind == model.ManyToMany && (rel.TargetForeignKey == nil || len(rel.TargetForeignKey.Columns) != 1)) {
			return r.errorf("load", fmt.Errorf("%s: %w: only foreign keys over one column", rel.Field, ErrRelation))
		}
	}
	if len(rows) == 0 {
		return nil
	}
	for _, rel := range rels {
		if err := r.load(ctx, rows, rel); err != nil {
			return r.errorf("load "+rel.Field, err)
		}
	}
	return nil
}

func (r *Repository[T]) load(ctx context.Context, rows []T, rel *model.Relation) error {
	fk := rel.ForeignKey
	target := rel.Target
	// here is the column of T holding the join value; there the column
	// matched against it (of the target, or of the association table).
	var here, there *model.Column
	switch rel.Kind {
	case model.BelongsTo:
		here, there = fk.Columns[0], fk.RefColumns[0]
	default: // HasMany, ManyToMany: the foreign key points to T
		here, there = fk.RefColumns[0], fk.Columns[0]
	}
	vt := here.GoType
	for vt.Kind() == reflect.Pointer {
		vt = vt.Elem()
	}
	if !vt.Comparable() {
		return fmt.Errorf("%w: join column %s is not comparable", ErrRelation, here.Name)
	}
	// Values read from there are converted to vt before they are looked
	// up: a string foreign key matches a types.String26 key.
	tt := there.GoType
	for tt.Kind() == reflect.Pointer {
		tt = tt.Elem()
	}
	if tt != vt && !sameKindClass(tt, vt) {
		return fmt.Errorf("%w: join columns %s (%s) and %s.%s (%s) hold different types", ErrRelation,
			here.Name, vt, there.Table.Name, there.Name, tt)
	}
	// Distinct join values, typed as the column's value type.
	keys := reflect.MakeSlice(reflect.SliceOf(vt), 0, len(rows))
	seen := map[any]bool{}
	rowKeys := make([]any, len(rows))
	for i := range rows {
		k := r.s.row(&rows[i]).Value(here)
		rowKeys[i] = k
		if k == nil || seen[k] {
			continue
		}
		seen[k] = true
		keys = reflect.Append(keys, reflect.ValueOf(k))
	}
	if keys.Len() == 0 {
		return nil
	}
	b := make([]byte, 0, 256)
	b = append(b, "SELECT "...)
	if rel.Kind == model.ManyToMany {
		// SELECT l.link, t.cols FROM target t JOIN through l ON
		// l.tlink = t.tref WHERE l.link = ANY($1)
		tfk := rel.TargetForeignKey
		b = append(b, `"uno_l".`...)
		b = append(b, there.QuotedName...)
		b = append(b, ", "...)
		b = appendColumns(b, target.Columns, `"uno_t".`)
		b = append(b, " FROM "...)
		b = append(b, target.QualifiedName...)
		b = append(b, ` AS "uno_t" JOIN `...)
		b = append(b, rel.Through.QualifiedName...)
		b = append(b, ` AS "uno_l" ON "uno_l".`...)
		b = append(b, tfk.Columns[0].QuotedName...)
		b = append(b, ` = "uno_t".`...)
		b = append(b, tfk.RefColumns[0].QuotedName...)
		b = append(b, ` WHERE "uno_l".`...)
	} else {
		b = appendColumns(b, target.Columns, `"uno_t".`)
		b = append(b, " FROM "...)
		b = append(b, target.QualifiedName...)
		b = append(b, ` AS "uno_t" WHERE "uno_t".`...)
	}
	b = append(b, there.QuotedName...)
	b = append(b, " = ANY($1::"...)
	b = append(b, paramType(there)...)
	b = append(b, "[])"...)
	if rel.Kind != model.BelongsTo && target.SoftDelete {
		b = append(b, ` AND NOT "uno_t".`...)
		b = append(b, target.DeletedColumn.QuotedName...)
	}
	b = append(b, " ORDER BY "...)
	b = appendColumns(b, target.PrimaryKey.Columns, `"uno_t".`)
	q := string(b)

	found := map[any][]reflect.Value{} // join value -> *Target values
	err := r.run1(ctx, false, func(ctx context.Context, db engine.Querier) error {
		clear(found)
		rs, err := db.Query(ctx, q, keys.Interface())
		if err != nil {
			return err
		}
		defer rs.Close()
		buf := make([]any, 0, len(target.Columns)+1)
		for rs.Next() {
			p := reflect.New(target.Type)
			var link reflect.Value
			dst := buf[:0]
			if rel.Kind == model.ManyToMany {
				link = reflect.New(there.GoType)
				dst = append(dst, link.Interface())
			}
			trow, err := target.Row(p.Interface())
			if err != nil {
				return err
			}
			if err := rs.Scan(trow.AppendAddrs(dst)...); err != nil {
				return err
			}
			var k any
			if rel.Kind == model.ManyToMany {
				if l := link.Elem(); l.Kind() != reflect.Pointer || !l.IsNil() {
					k = reflect.Indirect(l).Interface()
				}
			} else {
				k = trow.Value(there)
			}
			if k != nil && tt != vt {
				k = reflect.ValueOf(k).Convert(vt).Interface()
			}
			found[k] = append(found[k], p)
		}
		return rs.Err()
	})
	if err != nil {
		return err
	}
	ft := rel.GoType
	for i := range rows {
		field := reflect.ValueOf(&rows[i]).Elem().FieldByIndex(rel.Index)
		var matches []reflect.Value
		if rowKeys[i] != nil {
			matches = found[rowKeys[i]]
		}
		if rel.Kind == model.BelongsTo {
			switch {
			case len(matches) == 0:
				field.SetZero()
			case ft.Kind() == reflect.Pointer:
				field.Set(matches[0])
			default:
				field.Set(matches[0].Elem())
			}
			continue
		}
		s := reflect.MakeSlice(ft, 0, len(matches))
		for _, m := range matches {
			if ft.Elem().Kind() == reflect.Pointer {
				s = reflect.Append(s, m)
			} else {
				s = reflect.Append(s, m.Elem())
			}
		}
		field.Set(s)
	}
	return nil
}

// sameKindClass reports whether values of a convert to b without changing
// meaning: both strings, both integers, both unsigned integers, both
// floats or both booleans (reflect's ConvertibleTo also allows an integer
// to become a one-rune string).
func sameKindClass(a, b reflect.Type) bool {
	class := func(t reflect.Type) int {
		switch t.Kind() {
		case reflect.String:
			return 1
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return 2
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return 3
		case reflect.Float32, reflect.Float64:
			return 4
		case reflect.Bool:
			return 5
		}
		return 0
	}
	return class(a) != 0 && class(a) == class(b) && a.ConvertibleTo(b)
}
