package uno

import "github.com/uno-db/uno/model"

// Model marks a struct as a model; embed it with a tag naming the table:
//
//	type Customer struct {
//		uno.Model `uno:"table:customer"`
//		ID    types.String26  `uno:"id,pk,default:generate_ulid()"`
//		Name  types.String255 `uno:"name"`
//		Email types.String255 `uno:"email,unique"`
//	}
//
// It is an alias of model.BaseModel, so the table options live in one
// place; the model package documents the tags.
type Model = model.BaseModel
