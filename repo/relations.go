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
// points to, a has-many field the rows pointing to it (soft-deleted ones
// left out), ordered by their primary key. Empty names: every belongs-to
// and has-many relation of the model. Many-to-many relations and
// composite foreign keys are not supported (ErrRelation).
func (r *Repository[T]) Load(ctx context.Context, rows []T, relations ...string) error {
	var rels []*model.Relation
	if len(relations) == 0 {
		for _, rel := range r.table.Relations {
			if rel.Kind != model.ManyToMany {
				rels = append(rels, rel)
			}
		}
	} else {
		for _, name := range relations {
			var found *model.Relation
			for _, rel := range r.table.Relations {
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
		if rel.Kind == model.ManyToMany || rel.ForeignKey == nil || len(rel.ForeignKey.Columns) != 1 {
			return r.errorf("load", fmt.Errorf("%s: %w: only belongs-to and has-many over one column", rel.Field, ErrRelation))
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
	// here is the column of T holding the join value; there the column of
	// the target matched against it.
	here, there := fk.Columns[0], fk.RefColumns[0]
	if rel.Kind == model.HasMany {
		here, there = fk.RefColumns[0], fk.Columns[0]
	}
	target := rel.Target
	// Distinct join values, typed as the column's value type.
	vt := here.GoType
	for vt.Kind() == reflect.Pointer {
		vt = vt.Elem()
	}
	if !vt.Comparable() {
		return fmt.Errorf("%w: join column %s is not comparable", ErrRelation, here.Name)
	}
	keys := reflect.MakeSlice(reflect.SliceOf(vt), 0, len(rows))
	seen := map[any]bool{}
	rowKeys := make([]any, len(rows))
	for i := range rows {
		addr, err := here.Addr(&rows[i])
		if err != nil {
			return err
		}
		k := valueAt(addr)
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
	q := "SELECT " + string(appendColumns(nil, target.Columns, "")) + " FROM " + target.QuotedName +
		" WHERE " + there.QuotedName + " = ANY($1::" + there.SQLType + "[])"
	if rel.Kind == model.HasMany && target.SoftDelete {
		q += " AND NOT " + target.DeletedColumn.QuotedName
	}
	q += " ORDER BY " + string(appendColumns(nil, target.PrimaryKey.Columns, ""))
	found := map[any][]reflect.Value{} // join value -> *Target values
	err := r.run(ctx, false, func(ctx context.Context, db engine.Querier) error {
		clear(found)
		rs, err := db.Query(ctx, q, keys.Interface())
		if err != nil {
			return err
		}
		defer rs.Close()
		buf := make([]any, 0, len(target.Columns))
		for rs.Next() {
			p := reflect.New(target.Type)
			addrs, err := target.Addrs(p.Interface(), buf[:0])
			if err != nil {
				return err
			}
			if err := rs.Scan(addrs...); err != nil {
				return err
			}
			k := valueAt(addrs[there.Ordinal])
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
		matches := found[rowKeys[i]]
		if rowKeys[i] == nil {
			matches = nil
		}
		switch rel.Kind {
		case model.BelongsTo:
			if len(matches) == 0 {
				field.SetZero()
				continue
			}
			if ft.Kind() == reflect.Pointer {
				field.Set(matches[0])
			} else {
				field.Set(matches[0].Elem())
			}
		case model.HasMany:
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
	}
	return nil
}
