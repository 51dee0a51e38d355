# Each target prints what it runs.
GO ?= go
PKGS := ./...

.PHONY: run test lint bench bench-pg bench-cache bench-restart e2e build fuzz

run: ## serve the demo (.streamlit/secrets.toml) on 127.0.0.1:6432
	$(GO) run ./cmd/xconnproxy --listen 127.0.0.1:6432

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/xconnproxy ./cmd/xconnproxy

test: ## every test, race detector on (backend tests skip unless XCONNPROXY_REQUIRE_BACKENDS=1)
	$(GO) test -race -count=1 $(PKGS)

lint:
	@echo "gofmt -l ."; out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench: ## testing.B benchmarks with allocations
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-pg: ## pgbench -S direct, through PgBouncer and through xconnproxy (needs pgbouncer)
	bash integration/bench/pgbench.sh

bench-cache: ## pgbench on a cached aggregate: direct, pgpool-II, xconnproxy's cache, a ceiling server (ROUNDS=3, DURATION=10)
	bash integration/bench/cache.sh

bench-restart: ## pgbench -S -c 4 through xconnproxy, PgBouncer, pgpool-II while PostgreSQL restarts (RESTARTS the local server)
	bash integration/bench/restart.sh

e2e: ## the end-to-end package only
	$(GO) test -race -count=1 -v ./integration/

fuzz: ## a short run of every fuzz target
	$(GO) test -run '^$$' -fuzz FuzzParseURL -fuzztime 20s ./secrets/
	$(GO) test -run '^$$' -fuzz FuzzSplit -fuzztime 20s ./internal/sqltext/
	$(GO) test -run '^$$' -fuzz FuzzClassify -fuzztime 20s ./internal/sqltext/
	$(GO) test -run '^$$' -fuzz FuzzRewrite -fuzztime 20s ./internal/sqltext/
	$(GO) test -run '^$$' -fuzz FuzzCacheability -fuzztime 20s ./internal/sqltext/
	$(GO) test -run '^$$' -fuzz FuzzSession -fuzztime 20s ./backends/bridge/
	$(GO) test -run '^$$' -fuzz FuzzInferTypes -fuzztime 20s ./backends/sqlite/
	$(GO) test -run '^$$' -fuzz FuzzParamTypes -fuzztime 20s ./backends/sqlite/
	$(GO) test -run '^$$' -fuzz FuzzRewriteCasts -fuzztime 20s ./backends/sqlite/
	$(GO) test -run '^$$' -fuzz FuzzKeywordValue -fuzztime 20s ./backends/postgres/
	$(GO) test -run '^$$' -fuzz FuzzParamTypes -fuzztime 20s ./backends/mysql/
