# The two commands a newcomer needs: `make demo` and `make test`.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
GOBIN ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck

.PHONY: demo test bench faults mutate tools postgres

demo: postgres
	$(GO) run ./cmd/uno demo

# `go test ./...` includes the short form of the fault drills (internal/faults, about a minute).
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

# Fault drills, uno beside plain pgxpool, on a private cluster (a few minutes);
# see docs/RELIABILITY.md. FAULTS_FLAGS=-short for each drill a few seconds.
faults: postgres
	$(GO) run ./internal/faults/cmd $(FAULTS_FLAGS)

# Mutation testing of one package (not part of `make test`; engine takes
# about half an hour on 2 cores): see docs/RELIABILITY.md. MUTATE_FLAGS
# adds flags, e.g. MUTATE_FLAGS="-sample 100 -seed 1" or "-files tx.go".
PKG ?= ./engine
MUTATE_ENGINE := $(if $(filter ./engine engine,$(PKG)),-tests ./engine/replicatest -equivalent scripts/mutate/equivalent-engine.txt)
mutate: postgres
	$(GO) run ./scripts/mutate -j 2 $(MUTATE_ENGINE) $(MUTATE_FLAGS) $(PKG)

postgres:
	@./scripts/ensure-postgres.sh

tools: $(STATICCHECK)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
