# The two commands a newcomer needs: `make demo` and `make test`.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
GOBIN ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck

.PHONY: demo test bench tools postgres

demo: postgres
	$(GO) run ./cmd/uno demo

test: postgres tools
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	cd bench && $(GO) vet ./... && $(STATICCHECK) ./... && $(GO) test -count=1 -timeout 10m ./...

# Benchmarks against raw pgx, GORM, bun and ent: 5 interleaved rounds
# (about 15 minutes). BENCH_QUICK=1 runs one short round to check that
# everything works; it writes bench/results-quick.json (not committed) so
# the measured results.json is never overwritten by a quick check.
BENCH_OUT ?= $(if $(BENCH_QUICK),results-quick.json,results.json)
bench: postgres
	cd bench && $(GO) run ./cmd/unobench -out $(BENCH_OUT)

postgres:
	@./scripts/ensure-postgres.sh

tools: $(STATICCHECK)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
