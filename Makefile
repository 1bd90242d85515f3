# Thin wrapper over CMake. `make demo` and `make test` are the two commands of the README.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
PYTEST      = /usr/bin/python3 -m pytest
# make fuzz: seconds per harness, and which harnesses (default: all; e.g. FUZZERS="url lso")
FUZZ_TIME       ?= 600
FUZZ_SMOKE_TIME ?= 5
FUZZERS         ?=

.PHONY: all build deps demo demo-down test test-unit test-integration test-asan test-auth test-all \
	bench fuzz fuzz-build fuzz-smoke format clean deb

all: build

deps:
	@scripts/deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: deps build
	@scripts/demo.sh

# The Debian package (docs/deploy.md): binaries, the locus user, /etc/locus/*.json, systemd units.
deb: deps build
	@scripts/mkdeb.sh $(BUILD) $(BUILD)/deb

demo-down:
	@$(BUILD)/bin/locus cluster down --dir $(CURDIR)/demo-cluster

test: deps build
	@cd $(BUILD) && ctest -j $(JOBS) --output-on-failure -E integration
	@$(MAKE) --no-print-directory fuzz-smoke
	@LOCUS_BIN_DIR=$(CURDIR)/$(BUILD)/bin $(PYTEST) -q -p no:cacheprovider -m "not slow" tests/integration

test-all: deps build
	@cd $(BUILD) && ctest -j $(JOBS) --output-on-failure -E integration
	@$(MAKE) --no-print-directory fuzz-smoke
	@LOCUS_BIN_DIR=$(CURDIR)/$(BUILD)/bin $(PYTEST) -q -p no:cacheprovider tests/integration
	@$(MAKE) --no-print-directory test-auth

# The integration suite again with auth on: every cluster requires AuthN tokens and every request
# of the suite carries an admin token (docs/security.md §4); the tests of 401/403 send their own.
test-auth: deps build
	@LOCUS_TEST_AUTH=1 LOCUS_BIN_DIR=$(CURDIR)/$(BUILD)/bin $(PYTEST) -q -p no:cacheprovider \
		-m "not slow" tests/integration

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLOCUS_ASAN=ON -DLOCUS_UBSAN=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest -j $(JOBS) --output-on-failure -E integration
	@LOCUS_BIN_DIR=$(CURDIR)/$(ASAN_BUILD)/bin LOCUS_ASAN=1 \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(PYTEST) -q -p no:cacheprovider -m "not slow" tests/integration

# obj on the default cluster (~3 min) and on one target against one nginx, like for like, with
# the S3 path next to nginx's relay (~1.5 min), GetBatch against plain GETs (~15 s), then the
# seed's FLAC -> WAV experiment at a size that takes ~8 min on 2 cores
bench: deps build
	@$(BUILD)/bin/locus-bench obj --sizes 4KiB,128KiB,64MiB --md $(BUILD)/bench-obj.md
	@$(BUILD)/bin/locus-bench obj --sizes 4KiB --targets 1 --pin \
		--paths proxy,direct,nginx,disk,disk-net,s3,nginx307,nginxrelay --md $(BUILD)/bench-obj-1t.md
	@$(BUILD)/bin/locus-bench batch --rounds 7
	@$(BUILD)/bin/locus-bench etl-ffmpeg --files 2500 --md $(BUILD)/etl-ffmpeg.md \
		--png $(BUILD)/etl-ffmpeg.png

# libFuzzer harnesses (tests/fuzz, docs/fuzzing.md): clang, ASan+UBSan, a build directory of
# their own. `make fuzz` runs each for FUZZ_TIME seconds; `make test` runs each for
# FUZZ_SMOKE_TIME seconds over its checked-in corpus. Any finding fails the target.
fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DLOCUS_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	@$(call fuzz_run,,$(FUZZ_TIME))

fuzz-smoke: fuzz-build
	@$(call fuzz_run,--smoke,$(FUZZ_SMOKE_TIME))

# $(1): run.sh flags, $(2): seconds. One summary line per harness; fails if any harness failed.
# Harnesses are single-threaded: JOBS of them run at once.
define fuzz_run
names="$(FUZZERS)"; [ -n "$$names" ] || names=$$(ls $(FUZZ_BUILD)/fuzz | sed 's/^fuzz_//'); \
echo "fuzzing $$(echo $$names | wc -w) harnesses, $(2) s each, $(JOBS) at a time (logs, crashes: $(FUZZ_BUILD)/fuzz-work/)"; \
printf '%s\n' $$names | xargs -P $(JOBS) -I{} \
	tests/fuzz/run.sh $(1) $(FUZZ_BUILD)/fuzz/fuzz_{} $(2) $(FUZZ_BUILD)/fuzz-work
endef

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
