# ferry — build, run, test.  `make` builds build/ferry; `make run` and `make test`
# first install whatever Debian packages are missing (scripts/deps.sh).

CC       ?= gcc
PKGS     := liburing libssl libcrypto libxcrypt libnghttp2
LIBS     := -laio -lz -lzstd -lbrotlienc -pthread
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

.PHONY: all run test test-asan unit deps bench-small bench bench-quick bench-compare fuzz soak clean deb
all: $(BUILD)/ferry

$(BUILD)/ferry: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -o $@ $^ $(LDLIBS)

-include $(OBJS:.o=.d)

# The benchmark's download client (bench/fetch.c): libc and OpenSSL (its -s, HTTPS), not ferry's LDLIBS.
$(BUILD)/fetch: bench/fetch.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags openssl) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs openssl)

# What each way from the disk to the socket costs (bench/sendpath.c).
$(BUILD)/sendpath: bench/sendpath.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $<

deps:
	@scripts/deps.sh

# The welcome page (www/index.html) and its demo: doc/demo.conf serves www/ on 127.0.0.1:8080, the
# docs from the source tree (/source/), a listing of www/demo/, whose large file and video
# scripts/demo.sh makes once.  As root (a fresh machine, CI) it says so explicitly with -u root,
# since ferry otherwise refuses to serve as root.
run: deps all
	@scripts/demo.sh www/demo
	@echo "ferry: serving $(CURDIR)/www on http://127.0.0.1:8080/ (Ctrl-C stops; a line per request below)"
	$(BUILD)/ferry -c doc/demo.conf $(if $(filter 0,$(shell id -u)),-u root)

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

# The benchmark suite (bench/run.sh, bench/README.md): W1-W7, ferry's backends vs nginx and lighttpd.
# Writes bench/out/results.tsv, report.md and PNG plots.  bench-quick: fewer, shorter points (about 3 min).
bench: deps all $(BUILD)/fetch
	bench/run.sh

bench-quick: deps all $(BUILD)/fetch
	bench/run.sh --quick

# Two builds of ferry interleaved on one workload, with the ratio and its spread (bench/compare.sh):
# make bench-compare A=/tmp/old/ferry B=build/ferry [W=W2|W3] [ROUNDS=9] [PEERS="lighttpd h2o"]
bench-compare: $(BUILD)/fetch
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make bench-compare A=BIN B=BIN [W=W1|W2|W3] [ROUNDS=N] [PEERS=...]"; exit 2; }
	bench/compare.sh -w $(or $(W),W1) -r $(or $(ROUNDS),7) $(foreach p,$(PEERS),-p $(p)) $(A) $(B)

# Installation: `make install PREFIX=/usr DESTDIR=/tmp/pkg`; `make uninstall` with the same values.
# The unit expects its configuration in $(SYSCONFDIR)/ferry/ferry.conf (start from the sample in $(DOCDIR)).
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/ferry
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
INSTALL    ?= install
INSTALLED  := $(SBINDIR)/ferry $(MANDIR)/man8/ferry.8 $(MANDIR)/man5/ferry.conf.5 $(DOCDIR)/ferry.conf $(DOCDIR)/config.md \
              $(UNITDIR)/ferry.service $(UNITDIR)/ferry.socket

.PHONY: install uninstall
install: $(BUILD)/ferry
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 755 $(BUILD)/ferry $(DESTDIR)$(SBINDIR)/ferry
	$(INSTALL) -m 644 doc/ferry.8 $(DESTDIR)$(MANDIR)/man8/ferry.8
	$(INSTALL) -m 644 doc/ferry.conf.5 $(DESTDIR)$(MANDIR)/man5/ferry.conf.5
	$(INSTALL) -m 644 doc/ferry.conf doc/config.md $(DESTDIR)$(DOCDIR)/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' dist/ferry.service >$(BUILD)/ferry.service
	$(INSTALL) -m 644 $(BUILD)/ferry.service $(DESTDIR)$(UNITDIR)/ferry.service
	$(INSTALL) -m 644 dist/ferry.socket $(DESTDIR)$(UNITDIR)/ferry.socket

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# A Debian package (debian/), built with debhelper from a copy of the tree in
# build/deb/ (dpkg-buildpackage writes its results next to the tree it builds),
# then checked with lintian: build/deb/ferry_VERSION_ARCH.deb.
DEB_TREE := $(BUILD)/deb/ferry
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(DEB_TREE)
	tar --exclude=./build --exclude=./.git --exclude=./bench/out -cf - . | tar -xf - -C $(DEB_TREE)
	cd $(DEB_TREE) && dpkg-buildpackage -b -us -uc
	lintian --fail-on error $(BUILD)/deb/ferry_*.deb

clean:
	rm -rf build
