# kanzleisync — the two set-up commands are `make run` and `make test`
# (README.md). Each installs the Debian packages it needs when missing.

GO      ?= go
PKGS    ?= ./...
export CGO_ENABLED := 1

.PHONY: run test build sim bench lint deps-run deps-test deps-bench

## run: the demo. Until the tray application exists it starts the Microsoft
## 365 emulator with the demo tenant and prints where each service listens.
run: deps-run
	$(GO) run ./cmd/m365sim

## test: every test, headless, with a private D-Bus session and keyring.
test: deps-test
	$(GO) vet $(PKGS)
	.ci/with-keyring $(GO) test -timeout 20m $(PKGS)

## build: all programs into bin/.
build:
	$(GO) build -o bin/ ./cmd/...

## sim: the emulator alone (flags: make sim ARGS="-faults 429=0.1").
sim:
	$(GO) run ./cmd/m365sim $(ARGS)

## bench: speed and memory; ends with one `figure: NAME = VALUE UNIT` line per figure.
bench: deps-bench
	.ci/with-keyring $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s $(PKGS) | tee bench.out
	KANZLEISYNC_KILLS=20 $(GO) test -count=1 -run '^TestKilledExport$$' -v ./app/export/ | tee -a bench.out
	KANZLEISYNC_KILLS=20 $(GO) test -count=1 -run '^TestKilledFetch$$' -v ./app/mail/ | tee -a bench.out
	KANZLEISYNC_FIGURES=1 $(GO) test -count=1 -timeout 30m -run '^TestExportFigures$$' -v ./app/export/ | tee export-figures.out
	KANZLEISYNC_FIGURES=1 $(GO) test -count=1 -timeout 20m -run '^TestPOP3Figures$$' -v ./app/mail/ | tee pop3-figures.out
	@.ci/bench-figures < bench.out
	@grep '^figure:' export-figures.out
	@grep '^figure:' pop3-figures.out

## lint: gofmt, go vet, staticcheck.
lint: deps-test
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

deps-run:
	@.ci/install-deps run

deps-test:
	@.ci/install-deps test

deps-bench:
	@.ci/install-deps bench
