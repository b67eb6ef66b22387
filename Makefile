# ferry — build, run, test.  `make` builds build/ferry; `make run` and `make test`
# first install whatever Debian packages are missing (scripts/deps.sh).

CC       ?= gcc
PKGS     := liburing
LIBS     := -laio
CSTD     := -std=c11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT      ?= -O2 -g
DEFS     ?=
CFLAGS   += $(CSTD) $(WARN) $(OPT) $(DEFS) -Isrc $(if $(PKGS),$(shell pkg-config --cflags $(PKGS)))
LDLIBS   += $(if $(PKGS),$(shell pkg-config --libs $(PKGS))) $(LIBS)

BUILD    ?= build
SRCS     := $(sort $(wildcard src/*/*.c))
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(filter-out $(BUILD)/obj/core/main.o,$(OBJS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all run test test-asan unit deps bench-small fuzz soak clean
all: $(BUILD)/ferry

$(BUILD)/ferry: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $^ $(LDLIBS)

-include $(OBJS:.o=.d)

deps:
	@scripts/deps.sh

run: deps all
	@echo "ferry: serving www/ on http://127.0.0.1:8080/ (Ctrl-C stops)"
	$(BUILD)/ferry -r www -l 127.0.0.1:8080

unit: $(UNIT_BINS)

# The whole suite: C unit tests, then integration tests against the real binary.
# The last line reads "N passed, N failed"; the exit status is non-zero on any failure.
# build/hooks/ferry is the same server with the fault-injection hooks of the
# tests compiled in (FY_TEST_HOOKS); the production binary has none.
test: deps all unit
	@$(MAKE) --no-print-directory BUILD=build/hooks DEFS=-DFY_TEST_HOOKS all
	@FERRY_BIN=$(BUILD)/ferry FERRY_HOOKS_BIN=build/hooks/ferry UNIT_DIR=$(BUILD)/tests tests/run.sh

# The same suite on an AddressSanitizer + UndefinedBehaviorSanitizer build.
test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" \
		DEFS=-DFY_TEST_HOOKS all unit
	@FERRY_BIN=build/asan/ferry FERRY_HOOKS_BIN=build/asan/ferry UNIT_DIR=build/asan/tests FERRY_SANITIZED=1 \
		tests/run.sh

# libFuzzer targets (tests/fuzz/), built with Debian's clang; FUZZ_SECONDS per target (default 60).
# Not part of `make test`: a long run is a separate job.
fuzz:
	@FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) tests/fuzz/run.sh

# 10 minutes of mixed load; RSS and fd count of the server sampled over time (DURATION=seconds to shorten).
soak: deps all
	@FERRY_BIN=$(BUILD)/ferry scripts/soak.sh

bench-small: deps all
	bench/small.sh

clean:
	rm -rf build
