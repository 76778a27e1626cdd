// Package ent is ent's generated client for the bench tables (from
// ./schema). The generated code is committed so the bench module builds
// without running codegen; regenerate with go generate ./ent from bench/.
package ent

//go:generate go run -mod=mod entgo.io/ent/cmd/ent generate --feature sql/upsert,sql/execquery ./schema
