# Ferry's single entry point; CI calls the same targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
PKGS ?= ./...
TESTBED := deploy/testbed/testbed.sh
STATICCHECK_VERSION := v0.8.2
FUZZTIME ?= 15s
DATA_DIR ?= .data/standalone
LISTEN ?= 127.0.0.1:8083
RESTART_TESTS := TestRocketMQSurvivesRestart|TestBrokerRestart|TestClusterBrokerRestart

.PHONY: all build ferry image run test test-deploy test-unit chaos lint bench fuzz tidy testbed-up testbed-down clean

all: build

# The version and commit stamped into the binary (ferry --version, GET /,
# ferry_build_info).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.buildVersion=$(VERSION) -X main.buildCommit=$(COMMIT)

# TAGS are the ferry binary's build tags: nomsgpack leaves out gin's
# MessagePack codec, which Ferry never uses (9 MB of binary); add
# ferry_no_<connector> tags for a binary with fewer connectors
# (docs/operations.md, "A smaller binary"), e.g.
#   make ferry TAGS='nomsgpack ferry_no_dts ferry_no_sls ferry_no_mns'
TAGS ?= nomsgpack

build: ferry ## compile the ferry binary and the emulators into bin/
	$(GO) build -o $(BIN)/ferry-emulator ./cmd/ferry-emulator

ferry: ## compile the ferry binary alone (the container image's build step)
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/ferry ./cmd/ferry

# image builds deploy/Dockerfile (Docker with BuildKit); the context has no
# .git, so the version and commit are passed in.
IMAGE ?= ferry:$(VERSION)
image:
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

run: build ## a standalone worker with the example pipeline (generator -> file)
	mkdir -p $(DATA_DIR)
	$(BIN)/ferry standalone --data-dir $(DATA_DIR) --listen $(LISTEN) examples/generator-to-file.json

# CHAOS_DURATION is how long make test's chaos stage (TestChaos, last: it
# restarts the shared broker and MariaDB) runs; make chaos takes 5m.
CHAOS_DURATION ?= 3m

# test brings the test bed up (reusing a running one), runs every unit and
# integration test with the race detector, and stops only what it started
# (KEEP_TESTBED=1 keeps it running). Tests that restart the shared RocketMQ
# broker run afterwards, one at a time, so they never pull the broker from
# under other packages' tests. The SLS consumer-library test runs once
# more without -race: the upstream SDK races in its own goroutines, so the
# race run skips it.
test: build
	$(TESTBED) up
	set -a; source .testbed/env; set +a; \
	$(GO) test -race -count=1 -timeout 25m -skip '$(RESTART_TESTS)' $(PKGS) && \
	$(GO) test -race -count=1 -timeout 10m -p 1 -run '$(RESTART_TESTS)' ./internal/testbed ./state/rocketmq ./cmd/ferry && \
	$(GO) test -count=1 -run 'TestConsumerLibrary' ./internal/emulator/sls/ && \
	$(MAKE) test-deploy && \
	FERRY_CHAOS=1 FERRY_CHAOS_DURATION=$(CHAOS_DURATION) $(GO) test -count=1 -timeout 20m -run '^TestChaos$$' -v ./cmd/ferry 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test\.go:'; rc=$${PIPESTATUS[0]}; \
	if [ -z "$$KEEP_TESTBED" ]; then $(TESTBED) down --started; fi; \
	exit $$rc

# test-deploy checks deploy/ (Dockerfile, Kubernetes, systemd, Prometheus,
# Grafana) in its own module, deploy/deploytest, so that the validators'
# dependencies stay out of go.mod. It needs bin/ferry (flag names).
DEPLOYTEST := deploy/deploytest
test-deploy: build
	cd $(DEPLOYTEST) && $(GO) vet ./... && $(GO) test -count=1 ./...

# chaos runs TestChaos (docs/testing.md): a three-worker cluster under load
# for FERRY_CHAOS_DURATION (default 5m) while workers are SIGKILLed every
# 15 s and the broker and MariaDB restart once each. It restarts shared
# services, so it runs alone.
chaos: build
	$(TESTBED) up
	set -a; source .testbed/env; set +a; \
	FERRY_CHAOS=1 $(GO) test -count=1 -timeout 20m -run '^TestChaos$$' -v ./cmd/ferry 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test\.go:' ; rc=$${PIPESTATUS[0]}; \
	if [ -z "$$KEEP_TESTBED" ]; then $(TESTBED) down --started; fi; \
	exit $$rc

test-unit: ## tests that need no services (integration tests skip outside CI)
	$(GO) test -race -count=1 $(PKGS)

lint: ## formatting, vet, the layout rule and staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "not gofmt-ed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 ./internal/layout
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench: ## hot-path benchmarks; figures go to docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./runtime/... ./state ./connectors/... ./api/... ./transform/... ./worker/cluster ./internal/bench

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

tidy: ## go mod tidy; fails when go.mod/go.sum drifted
	$(GO) mod tidy
	cd $(DEPLOYTEST) && $(GO) mod tidy
	git diff --exit-code go.mod go.sum $(DEPLOYTEST)/go.mod $(DEPLOYTEST)/go.sum

testbed-up:
	$(TESTBED) up

testbed-down:
	$(TESTBED) down

clean:
	rm -rf $(BIN) .data
