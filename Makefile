# mockloop — the two set-up commands are `make demo` and `make test`.
# Everything they need comes from the Go module proxy; nothing is installed by hand.

GO          ?= go
BIN         := bin/mockloop
VERSION     := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
INFLUXD     := $(CURDIR)/.cache/bin/influxd
FUZZTIME    ?= 30s

.PHONY: all build demo serve test test-stress test-deps bench lint cross influxd fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mockloop

## demo: run the demo protocol on the simulated rig (no Pi, no server needed)
demo: build
	./$(BIN) run configs/protocols/demo.yaml

## serve: the live bench view of the simulated rig on http://127.0.0.1:8080/
serve: build
	./$(BIN) serve

## test: the whole test suite, with the InfluxDB server and report-checking
## tools it needs (built and installed on first use). Test artifacts (the
## web view's end-to-end screenshot; the simulator's credibility report,
## fidelity.{json,html,pdf}, of `mockloop fidelity`) are kept under
## .cache/test-artifacts.
test: influxd test-deps
	mkdir -p $(CURDIR)/.cache/test-artifacts
	MOCKLOOP_INFLUXD=$(INFLUXD) $(GO) test -count=1 -timeout 30m -artifacts -outputdir $(CURDIR)/.cache/test-artifacts ./...

## test-crash: the kill loop with 50 SIGKILLs (the suite runs it with 8)
.PHONY: test-crash
test-crash: influxd
	MOCKLOOP_INFLUXD=$(INFLUXD) MOCKLOOP_KILLS=50 $(GO) test -count=1 -timeout 30m -run '^TestKillLoop$$' -v ./cmd/mockloop

## test-stress: the whole suite while two CPU-bound processes load the
## machine (scripts/stress.sh); wall-clock tests must hold under it
test-stress: influxd test-deps
	./scripts/stress.sh $(MAKE) --no-print-directory test

## test-deps: Chromium, qpdf, poppler-utils, libxml2-utils from Debian's packages
test-deps:
	./scripts/test-deps.sh

## bench: every Go benchmark, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## endurance: the dry run of 24 h of the default rig (ENDURANCE=24h), with
## the committed profile (cmd/mockloop/default.pgo) as `go build` uses it
## for mockloop; fails when over the 90 s target (rig BenchmarkEndurance)
ENDURANCE ?= 24h
.PHONY: endurance pgo dry-run-rp
endurance:
	MOCKLOOP_ENDURANCE=$(ENDURANCE) $(GO) test -pgo=$(CURDIR)/cmd/mockloop/default.pgo -count=1 -timeout 60m -run '^$$' -bench '^BenchmarkEndurance$$' -benchtime 1x -benchmem ./rig

## pgo: make cmd/mockloop/default.pgo again from a representative run (1 h
## of the endurance dry run's CPU profile)
pgo:
	MOCKLOOP_ENDURANCE=1h $(GO) test -pgo=off -count=1 -run '^$$' -bench '^BenchmarkEndurance$$' -benchtime 1x -cpuprofile $(CURDIR)/.cache/endurance.pprof -o $(CURDIR)/.cache/rig.test ./rig || true
	cp $(CURDIR)/.cache/endurance.pprof cmd/mockloop/default.pgo

## dry-run-rp: the Impella RP's whole approved support, 14 days, dry-run on
## the simulated rig (one CI job): wall time, peak RSS and record size
dry-run-rp: build
	./scripts/dry-run.sh configs/rigs/sim-rp.yaml configs/protocols/endurance-impella-rp.yaml

## lint: gofmt, go vet, staticcheck (pinned)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## cross: the Raspberry Pi builds (64-bit and 32-bit ARMv7)
cross:
	GOOS=linux GOARCH=arm64 $(GO) build -ldflags "$(LDFLAGS)" -o bin/mockloop-linux-arm64 ./cmd/mockloop
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -ldflags "$(LDFLAGS)" -o bin/mockloop-linux-armv7 ./cmd/mockloop

## test-arm: the tests (-short) and the demo for linux/arm64 and linux/arm
## GOARM=7 under qemu user emulation (qemu-user-static, installed if missing)
.PHONY: test-arm
test-arm: cross
	GO="$(GO)" ./scripts/test-arm.sh

## influxd: InfluxDB 1.8.10 OSS for the integration tests, built from the module proxy
influxd: $(INFLUXD)
$(INFLUXD):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/influxdata/influxdb/cmd/influxd@v1.8.10

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
