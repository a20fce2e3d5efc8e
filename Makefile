# aio — the two commands: `make demo` (the main job) and `make test` (every test).
# Each build configuration lives in build/<name> and is built once per run.

JOBS ?= $(shell nproc)
CMAKE_COMMON = -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON $(DEBUG_INFO)

# Line tables only (-g1): sanitizer reports, perf and gdb backtraces keep
# their file:line, and a clean build takes ~half the disk (full -g was ~10 GB
# for the three test configurations) and less time to compile and link.
DEBUG_INFO = -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_DEBUG=-g1

# name | compiler | build type | extra flags
CONFIG_gcc       = -DCMAKE_CXX_COMPILER=g++-12 -DCMAKE_BUILD_TYPE=RelWithDebInfo
# Examples, benchmarks and the per-header compile check build in the g++
# configurations; the clang ones build the library and every test.
CONFIG_clang     = -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIO_BUILD_BENCH=OFF -DAIO_BUILD_EXAMPLES=OFF -DAIO_HEADER_CHECK=OFF
CONFIG_asan      = -DCMAKE_CXX_COMPILER=g++-12 -DCMAKE_BUILD_TYPE=Debug -DAIO_SANITIZE=address,undefined -DAIO_BUILD_BENCH=OFF -DAIO_HEADER_CHECK=OFF
CONFIG_clang-asan = -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 -DAIO_SANITIZE=address,undefined -DAIO_BUILD_BENCH=OFF -DAIO_BUILD_EXAMPLES=OFF -DAIO_HEADER_CHECK=OFF
# clang-asan stays available (make test-clang-asan) but is not part of
# `make test`: g++ ASan+UBSan already runs the suite under the sanitizers,
# and CI must stay within its time budget on 2 cores.
TEST_CONFIGS = gcc clang asan
# The g++ sanitizer configuration runs the whole suite in debug mode too.
TEST_ENV_asan = AIO_DEBUG=1

# ccache: share the cache between clones in different folders (CI clones anew).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

ALL_CONFIGS = $(TEST_CONFIGS) clang-asan
.PHONY: all deps peers test demo tour serve bench clean fuzz $(addprefix build-,$(ALL_CONFIGS)) $(addprefix test-,$(ALL_CONFIGS))

all: build-gcc

deps:
	@bash scripts/install-deps.sh

# The real peers the tests and the demo run (MCP servers, an OpenAI-compatible
# mock, ADK's TypeScript client and web UI): npm ci from committed lockfiles.
PEER_DIRS = $(dir $(wildcard tests/*/package-lock.json))
peers: | deps
	@for d in $(PEER_DIRS); do bash scripts/install-peers.sh $$d || exit 1; done

# Static pattern rules: implicit rules are never searched for .PHONY targets.
$(addprefix build-,$(ALL_CONFIGS)): build-%: | deps
	@[ -f build/$*/build.ninja ] || cmake -S . -B build/$* $(CMAKE_COMMON) $(CONFIG_$*)
	cmake --build build/$* -j $(JOBS)

$(addprefix test-,$(ALL_CONFIGS)): test-%: build-% | peers
	cd build/$* && $(TEST_ENV_$*) ctest --output-on-failure -j $(JOBS)

# Every configuration: g++ and clang optimised, both with ASan+UBSan; then
# the libFuzzer target over StreamReader's parsing for a short time.
FUZZ_SECONDS ?= 20
FUZZ_SEED ?= 1
test: $(addprefix test-,$(TEST_CONFIGS)) fuzz
	@echo "make test: all configurations passed ($(TEST_CONFIGS)), fuzzing clean"

fuzz: | deps
	bash fuzz/run.sh $(FUZZ_SECONDS) build/fuzz $(FUZZ_SEED)

# The main job: adk-fake-llm + adk-server with the demo pipeline, one
# conversation streamed through /run_sse (demo/run_demo.sh; docs/demo.md).
# `make tour` runs the seed guide's examples one by one.
demo: | deps peers
	@[ -f build/gcc/build.ninja ] || cmake -S . -B build/gcc $(CMAKE_COMMON) $(CONFIG_gcc)
	cmake --build build/gcc -j $(JOBS) --target adk-demo
	@bash demo/run_demo.sh build/gcc

tour: build-gcc
	@bash examples/tour.sh build/gcc

# The server and ADK's web UI, in the foreground until Ctrl-C.
serve: build-gcc | peers
	@bash demo/serve.sh build/gcc

bench: build-gcc
	@bash scripts/install-deps.sh --bench
	@bash bench/run_all.sh build/gcc

clean:
	rm -rf build
