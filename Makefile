# quire: the one build entry. Switches: SANITIZE=address,undefined  CUDA=1  O=<build dir>
# Targets: all (default), run, test, test-long, bench-*, fuzz, clean.

CC      ?= cc
SANITIZE ?=
CUDA    ?= 0
CUDA_HOME ?= /usr/local/cuda

ifneq ($(SANITIZE),)
O ?= build-san
else ifeq ($(CUDA),1)
O ?= build-cuda
else
O ?= build
endif

PKGS := libcjson libcurl libcrypto
CPPFLAGS += -D_GNU_SOURCE -Ilib -Icgi -Iworker -Ictl $(shell pkg-config --cflags $(PKGS)) $(shell mariadb_config --include)
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -O2 -g -pthread -fno-strict-aliasing
LDLIBS  += -lfcgi $(shell mariadb_config --libs) $(shell pkg-config --libs $(PKGS)) -lopenblas -lm -lpthread

# Engines of the worker (issue 6); present on every machine the deps script set up.
ENGINE_PKGS := libavformat libavcodec libswresample libavutil pocketsphinx sphinxbase espeak-ng lame
ENGINE_CPPFLAGS := $(shell pkg-config --cflags $(ENGINE_PKGS) 2>/dev/null) -isystem /usr/include/flite
ENGINE_LDLIBS := $(shell pkg-config --libs $(ENGINE_PKGS) 2>/dev/null) \
                 -lflite_cmu_us_slt -lflite_cmu_us_kal -lflite_cmu_us_rms -lflite_cmu_us_awb \
                 -lflite_usenglish -lflite_cmulex -lflite

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRC := $(filter-out lib/blas_cuda.c,$(wildcard lib/*.c))
ifeq ($(CUDA),1)
CPPFLAGS += -DQUIRE_CUDA=1 -I$(CUDA_HOME)/include
LIB_SRC  += lib/blas_cuda.c
LDLIBS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart
endif

API_SRC    := $(filter-out cgi/main.c,$(wildcard cgi/*.c))
WORKER_SRC := $(filter-out worker/main.c,$(wildcard worker/*.c))
UNIT_SRC   := $(wildcard tests/unit/*.c)
ITEST_SRC  := $(wildcard tests/integration/*.c)
TLIB_SRC   := $(wildcard tests/lib/*.c)
BENCH_SRC  := $(wildcard tests/bench/*.c)

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

LIBQ    := $(O)/libquire.a
LIBAPI  := $(O)/libapi.a
LIBWRK  := $(O)/libworker.a
LIBT    := $(O)/libtest.a
BINS    := $(O)/quire-api $(O)/quire-worker $(O)/quirectl
UNIT_BINS  := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(UNIT_SRC))
ITEST_BINS := $(patsubst tests/integration/%.c,$(O)/tests/integration/%,$(ITEST_SRC))
BENCH_BINS := $(patsubst tests/bench/%.c,$(O)/tests/bench/%,$(BENCH_SRC))

.PHONY: all run test test-long test-chaos clean deps fuzz
# test objects named here are ordinary targets, not intermediates make deletes
all: $(BINS) $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS) $(call obj,$(UNIT_SRC) $(ITEST_SRC) $(BENCH_SRC))

$(O)/obj/worker/%.o: CPPFLAGS += $(ENGINE_CPPFLAGS)
$(O)/obj/tests/%.o: CPPFLAGS += $(ENGINE_CPPFLAGS) -Itests/lib

# V=1 shows the whole command lines.
Q := $(if $(V),,@)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBQ): $(call obj,$(LIB_SRC))
	@rm -f $@; ar rcs $@ $^
$(LIBAPI): $(call obj,$(API_SRC))
	@rm -f $@; ar rcs $@ $^
$(LIBWRK): $(call obj,$(WORKER_SRC))
	@rm -f $@; ar rcs $@ $^
$(LIBT): $(call obj,$(TLIB_SRC))
	@rm -f $@; ar rcs $@ $^

$(O)/quire-api: $(O)/obj/cgi/main.o $(LIBAPI) $(LIBQ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/quire-worker: $(O)/obj/worker/main.o $(LIBWRK) $(LIBQ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ENGINE_LDLIBS) $(LDLIBS)
$(O)/quirectl: $(call obj,$(wildcard ctl/*.c)) $(LIBQ)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/%: $(O)/obj/tests/%.o $(LIBT) $(LIBAPI) $(LIBWRK) $(LIBQ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ENGINE_LDLIBS) $(LDLIBS)

deps:
	@scripts/deps.sh

# The local stack under ./var (or $QUIRE_VAR); Ctrl-C stops it.
run: deps
	@$(MAKE) --no-print-directory all
	@QUIRE_BIN=$(O) scripts/stack.sh run

# Every test: unit, then integration against a private stack, then browser.
test: deps
	@$(MAKE) --no-print-directory all
	@QUIRE_BIN=$(O) tests/run.sh

test-long: deps
	@$(MAKE) --no-print-directory all
	@QUIRE_BIN=$(O) QUIRE_TEST_LONG=1 tests/run.sh

# The chaos test alone (<= 3 minutes).
test-chaos: deps
	@$(MAKE) --no-print-directory all
	@QUIRE_BIN=$(O) tests/run.sh chaos

bench-%: deps
	@$(MAKE) --no-print-directory all
	@QUIRE_BIN=$(O) tests/bench.sh $*

# libFuzzer targets under ASan/UBSan (clang), FUZZ_SECONDS each (default 30);
# FUZZ_TARGETS picks some. Every target runs; any finding fails the whole.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= audio transcript json multipart tus router text
fuzz: deps
	@failed=; for t in $(FUZZ_TARGETS); do scripts/fuzz.sh $$t $(FUZZ_SECONDS) || failed="$$failed $$t"; done; \
	if [ -n "$$failed" ]; then echo "fuzz: findings in:$$failed (see build-fuzz/<target>/)" >&2; exit 1; fi

clean:
	rm -rf build build-san build-cuda build-fuzz

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
