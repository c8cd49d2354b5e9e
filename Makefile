# kanzleisync — the two set-up commands are `make run` and `make test`
# (README.md). Each installs the Debian packages it needs when missing.

GO      ?= go
PKGS    ?= ./...
export CGO_ENABLED := 1

# Every build uses a copy of Fyne whose event loop idles at 10 Hz instead of
# 60 Hz while no window is visible (.ci/fyne-overlay explains; issue 6). The
# script checks Go and downloads Fyne on a fresh machine; the caller's own
# GOFLAGS (e.g. -modcacherw) are kept, and PLAIN_GOFLAGS is them without the
# patched go.mod, for tools installed with `go install/run pkg@version`.
PLAIN_GOFLAGS := $(filter-out -modfile=%,$(GOFLAGS))
FYNE_MODFILE := $(shell .ci/fyne-overlay)
ifeq ($(FYNE_MODFILE),)
$(error .ci/fyne-overlay failed: see its message above)
endif
export GOFLAGS := $(strip $(PLAIN_GOFLAGS) -modfile=$(FYNE_MODFILE))

SCREENSHOT_DIR ?= docs/screenshots
FYNE_TOOL      ?= fyne.io/tools/cmd/fyne@v1.7.4
# The Windows build takes name, id, version and icon from FyneApp.toml.
toml = $(shell sed -n 's/^ *$(1) *= *"*\([^"]*\)"*$$/\1/p' FyneApp.toml | head -1)

.PHONY: run test build sim bench lint screenshots windows deps-run deps-build deps-test deps-bench deps-screenshots deps-windows

## run: the demo — kanzleisync's tray application against the built-in
## Microsoft 365 emulator. Without a display it runs what it can in the
## terminal (emulator, sign-in link, Anbindung testen, one export, test mail).
run: deps-run
	@if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then echo "make run: keine Anzeige (DISPLAY) – die Demo läuft im Terminal."; fi
	@if [ -z "$${DBUS_SESSION_BUS_ADDRESS:-}" ]; then .ci/with-keyring $(GO) run ./cmd/kanzleisync demo; else $(GO) run ./cmd/kanzleisync demo; fi

## screenshots: the real application under Xvfb in a D-Bus session; one PNG per screen into SCREENSHOT_DIR.
screenshots: deps-screenshots
	SCREENSHOT_DIR=$(SCREENSHOT_DIR) .ci/screenshots

## windows: cross-builds bin/kanzleisync.exe (the tray; icon and metadata of FyneApp.toml) and
## bin/kanzleisync-cli.exe (the same program for the console) with mingw-w64, and packs both
## into bin/kanzleisync.msi (msitools' wixl).
windows: deps-windows
	GOFLAGS="$(PLAIN_GOFLAGS)" GOBIN="$(CURDIR)/bin" $(GO) install $(FYNE_TOOL)
	cd cmd/kanzleisync && CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
	  "$(CURDIR)/bin/fyne" package --os windows --release --name "$(call toml,Name)" --app-id "$(call toml,ID)" \
	  --app-version "$(call toml,Version)" --app-build "$(call toml,Build)" --icon "$(CURDIR)/$(call toml,Icon)"
	mkdir -p bin && mv -f "cmd/kanzleisync/$(call toml,Name).exe" bin/kanzleisync.exe
	# the same program as a console-subsystem exe: IT's commands in cmd.exe and
	# PowerShell print, pipe and set %ERRORLEVEL% (the GUI exe has no console)
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
	  $(GO) build -trimpath -tags release -ldflags "-s -w" -o bin/kanzleisync-cli.exe ./cmd/kanzleisync
	# the Windows Installer package for roll-out (assets/windows/kanzleisync.wxs)
	.ci/build-msi bin/kanzleisync.msi "$(call toml,Version)"
	@ls -l bin/kanzleisync.exe bin/kanzleisync-cli.exe bin/kanzleisync.msi

## test: every test, headless, with a private D-Bus session and keyring;
## then the Windows build, smoke-tested under Wine (.ci/wine-smoke), and the
## package tests built for Windows, run under Wine (.ci/wine-tests).
test: deps-test
	$(GO) vet $(PKGS)
	.ci/with-keyring $(GO) test -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory windows
	.ci/wine-smoke bin/kanzleisync.exe
	.ci/wine-tests

## build: all programs into bin/.
build: deps-build
	$(GO) build -o bin/ ./cmd/...

## sim: the emulator alone (flags: make sim ARGS="-faults 429=0.1").
sim:
	$(GO) run ./cmd/m365sim $(ARGS)

## bench: speed and memory; ends with one `figure: NAME = VALUE UNIT` line per figure.
bench: deps-bench
	.ci/with-keyring $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s $(PKGS) | tee bench.out
	KANZLEISYNC_KILLS=20 $(GO) test -count=1 -run '^TestKilledExport$$' -v ./app/export/ | tee -a bench.out
	KANZLEISYNC_KILLS=20 $(GO) test -count=1 -run '^TestKilledFetch$$' -v ./app/mail/ | tee -a bench.out
	KANZLEISYNC_KILLS=40 $(GO) test -count=1 -run '^TestKilledHandoff$$' -v ./app/handoff/ | tee -a bench.out
	KANZLEISYNC_KILLS=20 $(GO) test -count=1 -run '^TestKilledOutbox$$' -v ./app/handoff/ | tee -a bench.out
	KANZLEISYNC_KILLS=40 $(GO) test -count=1 -run '^TestKilledMailDrop$$' -v ./app/handoff/ | tee -a bench.out
	KANZLEISYNC_FIGURES=1 $(GO) test -count=1 -timeout 30m -run '^TestExportFigures$$' -v ./app/export/ | tee export-figures.out
	KANZLEISYNC_FIGURES=1 $(GO) test -count=1 -timeout 40m -run '^TestChangeFigures$$' -v ./app/export/ | tee change-figures.out
	KANZLEISYNC_FIGURES=1 KANZLEISYNC_KILLS=20 $(GO) test -count=1 -timeout 40m -run '^TestBudgetFigures$$' -v ./app/export/ | tee budget-figures.out
	KANZLEISYNC_FIGURES=1 $(GO) test -count=1 -timeout 20m -run '^TestPOP3Figures$$' -v ./app/mail/ | tee pop3-figures.out
	KANZLEISYNC_FIGURES=1 $(GO) test -count=1 -timeout 20m -run '^TestHandoffFigures$$' -v ./app/handoff/ | tee handoff-figures.out
	KANZLEISYNC_FIGURES=1 .ci/with-keyring $(GO) test -count=1 -timeout 20m -run '^TestIdleFigures$$' -v ./cmd/kanzleisync/ | tee idle-figures.out
	KANZLEISYNC_FIGURES=1 .ci/with-keyring $(GO) test -count=1 -timeout 30m -run '^TestServeFigures$$' -v ./cmd/kanzleisync/ | tee serve-figures.out
	@.ci/bench-figures < bench.out
	@grep '^figure:' bench.out || true
	@grep '^figure:' export-figures.out
	@grep '^figure:' change-figures.out
	@grep '^figure:' budget-figures.out
	@grep '^figure:' pop3-figures.out
	@grep '^figure:' handoff-figures.out
	@grep '^figure:' idle-figures.out
	@grep '^figure:' serve-figures.out

## lint: gofmt, go vet, staticcheck.
lint: deps-test
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	# ST1005 off: many errors are German sentences shown to people as they are.
	GOFLAGS="$(PLAIN_GOFLAGS)" $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -checks inherit,-ST1005 $(PKGS)

deps-run:
	@.ci/install-deps run

deps-build:
	@.ci/install-deps build

deps-test:
	@.ci/install-deps test

deps-bench:
	@.ci/install-deps bench

deps-screenshots:
	@.ci/install-deps screenshots

deps-windows:
	@.ci/install-deps windows
