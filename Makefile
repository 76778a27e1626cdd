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

# Benchmarks against raw pgx, GORM and bun (BENCH_QUICK=1 for a short run).
bench: postgres
	cd bench && $(GO) run ./cmd/unobench -out results.json

postgres:
	@./scripts/ensure-postgres.sh

tools: $(STATICCHECK)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
