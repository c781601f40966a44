# wasmlet: the two commands of the README, and the steps they are made of.
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: run test build examples vet bench

# A node in the foreground running the example manifests; Ctrl-C stops the
# pods gracefully.
run: build examples
	./wasmlet up -f wasm-examples/manifests/

# Everything CI runs.
test: examples vet
	CGO_ENABLED=1 $(GO) test -race -timeout 30m ./...

build:
	$(GO) build -trimpath -o wasmlet ./cmd/wasmlet

examples:
	$(GO) generate ./wasm-examples

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
