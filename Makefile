# wasmlet: the two commands of the README, and the steps they are made of.
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: run test build examples vet cross bench soak

# A node in the foreground running the example manifests; Ctrl-C stops the
# pods gracefully.
run: build examples
	./wasmlet up -f wasm-examples/manifests/

# Everything CI runs. vet has run every analyzer on every package, test
# files included, so go test does not run its subset of them again.
test: examples vet cross
	CGO_ENABLED=1 $(GO) test -race -vet=off -timeout 30m ./...

# The binary as a release builds it: static (CGO_ENABLED=0), without the
# build machine's paths, debug information or symbol table, and stamped
# with the version and the commit it was built from.
VERSION ?= $(shell sed -n 's/^var Version = "\(.*\)"$$/\1/p' internal/version/version.go)$(shell git rev-parse --short=12 HEAD 2>/dev/null | sed 's/^/./')
build:
	$(GO) build -trimpath -ldflags='-s -w -X github.com/wasmlet/wasmlet/internal/version.Version=$(VERSION)' -o wasmlet ./cmd/wasmlet

examples:
	$(GO) generate ./wasm-examples

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# The node runs on Linux on every architecture Go has (a Raspberry Pi is
# arm64 or arm): the system-call code must build for more than this machine.
cross:
	GOARCH=arm64 $(GO) build ./...
	GOARCH=arm $(GO) build ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

# A node under attack: hostile pods cycling through internal/hostile's
# corpus beside 100 myweb pods, for SOAK_MINUTES; prints the normal pods'
# and the API's latency, the node's memory, and whether it stayed up.
# SOAK_FLAGS adds flags (-skip CASE,..., -unfixed).
SOAK_MINUTES ?= 2
soak: examples
	$(GO) run ./internal/soak -minutes $(SOAK_MINUTES) -hostile 10 -normal 100 $(SOAK_FLAGS)
