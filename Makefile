# The two commands a newcomer needs: `make demo` and `make test`.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
GOBIN ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck

.PHONY: demo test lint tools postgres

demo: postgres
	$(GO) run ./cmd/uno demo

test: postgres tools
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) test -race -count=1 -timeout 20m ./...

postgres:
	@./scripts/ensure-postgres.sh

tools: $(STATICCHECK)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
