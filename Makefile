# varibased — the one build entry. `make help` lists the targets.
#
#   make            ./learner and ./actor (CPU backend; CUDA too when nvcc is found), and the example
#                   task-family plugin build/examples/libgridnavi.so (`make examples` alone)
#   make test       build everything, run the unit tests (Criterion) and gradient checks
#   make SAN=1 ...  the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   make CUDA=0     never compile CUDA sources, even when nvcc is present
#   make deps       install the Debian packages the project needs (idempotent)
#   make fuzz       libFuzzer harnesses (tests/fuzz), FUZZ_SECONDS each (default 60)
#   make gpu-parity the CUDA backend against the CPU reference (skipped without a device)
#   make bench      the benchmarks (bench/*.c); make bench-peers: the GRU window and the planner against JAX/PyTorch

CC      ?= cc
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
PKGS    := libzmq libprotobuf-c libuv libcyaml openblas
SAN     ?= 0
CUDA    ?= $(if $(NVCC),1,0)

ifeq ($(SAN),1)
  MODE     := san
  OPTFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDSAN    := -fsanitize=address,undefined
else
  MODE     := release
  # -O2's vectoriser with the full cost model (-O2 alone vectorises only loops
  # that need no remainder, which leaves most elementwise loops scalar), and
  # libm calls that set no errno, so sqrtf is one instruction and loops around
  # it vectorise. Neither changes a result: fp contraction and reassociation
  # stay off.
  OPTFLAGS := -O2 -g -fvect-cost-model=dynamic -fno-math-errno
  LDSAN    :=
endif
ifeq ($(CUDA),1)
  MODE := $(MODE)-cuda
endif

BUILD   := build/$(MODE)
GEN     := $(BUILD)/gen
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation -Wvla \
           $(OPTFLAGS) -MMD -MP -I. -Iinclude -I$(GEN) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lm -lpthread -ldl
LDFLAGS := $(LDSAN)

# --- sources -------------------------------------------------------------
COMMON_SRC := $(shell find common kernels/cpu -name '*.c' 2>/dev/null | sort)
PROTO_SRC  := $(wildcard proto/*.proto)
PROTO_GEN  := $(patsubst proto/%.proto,$(GEN)/proto/%.pb-c.c,$(PROTO_SRC))
CUDA_SRC   := $(shell find kernels/cuda -name '*.cu' 2>/dev/null | sort)
TEST_SRC   := $(shell find tests/unit -name '*.c' 2>/dev/null | sort)
TOOL_SRC   := $(wildcard tools/*.c)
BENCH_SRC  := $(wildcard bench/*.c)

ifeq ($(CUDA),1)
  CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
  CFLAGS    += -DVB_HAVE_CUDA=1 -I$(CUDA_HOME)/include
  LDLIBS    += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas -lstdc++
  NVARCH    ?=
  NVFLAGS   := -O2 -std=c++17 -I. -Xcompiler -Wall,-Werror -Werror all-warnings --expt-relaxed-constexpr \
               -Wno-deprecated-gpu-targets -DVB_HAVE_CUDA=1 $(NVARCH)
  CUDA_OBJ  := $(patsubst %.cu,$(BUILD)/%.cu.o,$(CUDA_SRC))
else
  CUDA_OBJ  :=
endif

COMMON_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(COMMON_SRC)) $(PROTO_GEN:.c=.o) $(CUDA_OBJ)
LIB        := $(BUILD)/libvb.a
LEARNER_OBJ:= $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/learner/*.c))
ACTOR_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/actor/*.c))
TEST_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRC))
TEST_BIN   := $(BUILD)/tests/unit_tests
TOOL_BIN   := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
BENCH_BIN  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.SECONDARY:
.PHONY: all examples test unit gradcheck bench bench-peers deps train clean help config-table fuzz fuzz-build fuzz-seeds gpu-parity FORCE
.DEFAULT_GOAL := all

all: learner actor examples

# The root binaries are shared by all build modes: relink when the mode changes.
.build-mode: FORCE
	@echo '$(MODE)' | cmp -s - $@ || echo '$(MODE)' > $@

learner: $(LEARNER_OBJ) $(LIB) .build-mode
	$(CC) $(LDFLAGS) -o $@ $(LEARNER_OBJ) $(LIB) $(LDLIBS)

actor: $(ACTOR_OBJ) $(LIB) .build-mode
	$(CC) $(LDFLAGS) -o $@ $(ACTOR_OBJ) $(LIB) $(LDLIBS)

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c | $(PROTO_GEN) $(GEN)/build_info.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The git commit the binaries are built from ("" outside a git tree; "-dirty"
# with uncommitted changes), for the run folder's provenance. Rewritten only
# when it changes, so a commit recompiles only the file that includes it.
$(GEN)/build_info.h: FORCE
	@mkdir -p $(@D)
	@c=$$(git rev-parse --short=12 HEAD 2>/dev/null || true); \
	 if [ -n "$$c" ] && ! git diff --quiet HEAD -- 2>/dev/null; then c="$$c-dirty"; fi; \
	 printf '#define VB_GIT_COMMIT "%s"\n' "$$c" > $@.tmp; \
	 cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

# The CPU backend's loops are the hot path of acting and planning: let the
# compiler vectorise them (release builds only; sanitizer builds keep -O1).
ifneq ($(SAN),1)
$(BUILD)/kernels/cpu/%.o: CFLAGS += -O3 -fno-trapping-math
$(BUILD)/common/nn/softmax_cells.o: CFLAGS += -O3 -fno-trapping-math
endif

$(BUILD)/%.cu.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVFLAGS) -MMD -MP -c -o $@ $<

# protobuf-c code is generated at build time, never committed.
$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) $<

$(GEN)/proto/%.pb-c.o: $(GEN)/proto/%.pb-c.c
	$(CC) $(filter-out -Wextra -Wshadow,$(CFLAGS)) -c -o $@ $<

# --- task-family plugins: the example, and the tests' faulty ones --------
# Mode-independent paths: a plugin needs nothing but include/varibased.
PLUGIN_CFLAGS := -std=c11 -O2 -g -fPIC -shared -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -Iinclude
TEST_PLUGINS  := $(patsubst tests/plugins/%.c,build/test-plugins/lib%.so,$(wildcard tests/plugins/*.c))

# The Python bridge (plugins/python) where CPython's embedding library is installed (make deps).
PYTHON_EMBED := $(shell pkg-config --cflags --libs python3-embed 2>/dev/null)
PY_BRIDGE    := $(if $(PYTHON_EMBED),build/plugins/libvb_python.so build/plugins/vb_python.py)

examples: build/examples/libgridnavi.so $(PY_BRIDGE)

build/plugins/libvb_python.so: plugins/python/vb_python.c include/varibased/task_family.h
	@mkdir -p $(@D)
	$(CC) $(PLUGIN_CFLAGS) -D_GNU_SOURCE -o $@ $< $(PYTHON_EMBED)

build/plugins/vb_python.py: plugins/python/vb_python.py
	@mkdir -p $(@D)
	cp $< $@

build/examples/libgridnavi.so: examples/gridnavi_plugin/gridnavi.c include/varibased/task_family.h
	@mkdir -p $(@D)
	$(CC) $(PLUGIN_CFLAGS) -o $@ $<

build/test-plugins/lib%.so: tests/plugins/%.c include/varibased/task_family.h
	@mkdir -p $(@D)
	$(CC) $(PLUGIN_CFLAGS) -o $@ $<

$(TEST_BIN): $(TEST_OBJ) $(LIB) $(TEST_PLUGINS) build/examples/libgridnavi.so $(PY_BRIDGE)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(LDLIBS) $(shell pkg-config --libs criterion)

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# --- running -------------------------------------------------------------
# Criterion runs each test in its own process; two jobs for the two cores.
# `make test` runs the gradient checks first so that Criterion's summary is
# the last line.
GRADCHECK_BIN := $(if $(wildcard tools/gradcheck.c),$(BUILD)/tools/gradcheck)

unit: all $(TEST_BIN)
	VB_ROOT=$(CURDIR) LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 $(TEST_BIN) --jobs 2

gradcheck: $(BUILD)/tools/gradcheck
	$(BUILD)/tools/gradcheck

test: all $(TEST_BIN) $(GRADCHECK_BIN)
	$(if $(GRADCHECK_BIN),$(GRADCHECK_BIN))
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	$(MAKE) --no-print-directory gpu-parity
	VB_ROOT=$(CURDIR) LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 $(TEST_BIN) --jobs 2

# --- GPU parity (tests/gpu/parity.c) ---------------------------------------
# The CUDA backend against the CPU reference, op by op and layer by layer.
# Built from kernels/ and common/nn (with rng, crc32c, fs and par) by cc and nvcc
# alone, the CPU GEMM without BLAS: it builds where only the CUDA toolkit is
# installed. Without a CUDA device it reports itself skipped.
PARITY_DIR    := build/gpu-parity
PARITY_CSRC   := tests/gpu/parity.c kernels/cpu/backend_cpu.c kernels/cpu/dists_cpu.c kernels/cpu/gemm_nt_cpu.c \
                 kernels/cpu/s5_discretize_cpu.c $(wildcard common/nn/*.c) common/base/rng.c \
                 common/base/crc32c.c common/base/fs.c common/base/par.c
PARITY_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -I. \
                 -DVB_NO_CBLAS -DVB_HAVE_CUDA=1 -I$(CUDA_HOME)/include

ifeq ($(CUDA),1)
$(PARITY_DIR)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(PARITY_CFLAGS) -MMD -MP -c -o $@ $<

$(PARITY_DIR)/parity: $(patsubst %.c,$(PARITY_DIR)/%.o,$(PARITY_CSRC)) $(CUDA_OBJ)
	$(CC) -o $@ $^ -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas -lstdc++ -lm -lpthread

gpu-parity: $(PARITY_DIR)/parity
	$(PARITY_DIR)/parity
else
gpu-parity:
	@echo "gpu-parity: skipped: this build has no CUDA (nvcc not found; CUDA=0)"
endif

bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done

# Optional: the GRU window and the planner call against JAX (and PyTorch where
# its CPU wheels are reachable, or from PyPI, about 3 GB, with PEERS_TORCH=pypi),
# installed into build/peers/venv; 3 alternating rounds.
bench-peers: $(BUILD)/bench/bench_numerics $(BUILD)/bench/bench_planner
	bash bench/peers/run.sh $(BUILD)/bench/bench_numerics 3 $(BUILD)/bench/bench_planner

CONFIG ?= configs/gridworld.yaml
train: deps all
	./learner --config $(CONFIG)

deps:
	@bash scripts/install-deps.sh

clean:
	rm -rf build learner actor .build-mode

help:
	@sed -n '1,12p' Makefile | sed 's/^# \{0,1\}//'

# --- fuzzing ---------------------------------------------------------------
# libFuzzer harnesses (clang, ASan + UBSan) for the message decoders, checkpoint
# read + restore, and config load + --set; seeds in tests/fuzz/corpus/<name>,
# what a run finds in build/fuzz/corpus/<name>. `make test` runs each for
# TEST_FUZZ_SECONDS; `make fuzz FUZZ_SECONDS=N` for longer.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
TEST_FUZZ_SECONDS ?= 10
FUZZ_BUILD   := build/fuzz
FUZZ_NAMES   := messages checkpoint config
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
                -MMD -MP -I. -Iinclude -I$(GEN) $(PKG_CFLAGS)
FUZZ_LIBSRC  := $(shell find common kernels/cpu -name '*.c' 2>/dev/null | sort) cmd/learner/run.c
FUZZ_OBJ     := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(FUZZ_LIBSRC)) $(FUZZ_BUILD)/gen/proto/varibased.pb-c.o
FUZZ_BIN     := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))

$(FUZZ_BUILD)/%.o: %.c | $(PROTO_GEN) $(GEN)/build_info.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/gen/proto/%.pb-c.o: $(GEN)/proto/%.pb-c.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# Every harness for FUZZ_SECONDS on its seeds and what earlier runs found; a
# crash stops make with the reproducer's path.
fuzz: $(FUZZ_BIN)
	@for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$n- $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
	    > $(FUZZ_BUILD)/$$n.log 2>&1 || { tail -n 40 $(FUZZ_BUILD)/$$n.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_BUILD)/$$n.log | tr '\n' ' '; echo; \
	done

# Rewrite the seed corpus from the harnesses themselves (after a format change).
fuzz-seeds: $(FUZZ_BIN)
	@for n in $(FUZZ_NAMES); do \
	  rm -rf tests/fuzz/corpus/$$n; mkdir -p tests/fuzz/corpus/$$n; \
	  VB_FUZZ_SEEDS=tests/fuzz/corpus/$$n $(FUZZ_BUILD)/fuzz_$$n || exit 1; \
	done
	@cp configs/*.yaml tests/fuzz/corpus/config/

-include $(shell find build -name '*.d' 2>/dev/null)

# Reference tables for docs/configuration.md, generated from the schema.
config-table: $(BUILD)/tools/config_table
	@$(BUILD)/tools/config_table
