# mproxy: a plain Makefile. The user's CC, CFLAGS, CPPFLAGS, LDFLAGS, DESTDIR and
# PREFIX always win; site settings may go in config.mak. A cross build is
#   make CC=mips-linux-musl-gcc STRIP=mips-linux-musl-strip BEARSSL_SRC=/path
-include config.mak

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
DESTDIR ?=
ifeq ($(origin CC),default)
CC = musl-gcc
endif
STRIP ?= strip
AR ?= ar
BUILD ?= build/release
BEARSSL_SRC ?= build/bearssl-src
# no unwind tables: C without exceptions needs none (-40 KB of .eh_frame)
OPT ?= -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables
# -z noseparate-code: no page of padding between code and read-only data
LINK_STATIC ?= -static -Wl,--gc-sections -Wl,-z,noseparate-code
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla
MP_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -I. -I$(BEARSSL_SRC)/inc
PYTHON ?= python3

SRC := $(filter-out $(EXCLUDE),$(sort $(wildcard core/*.c conf/*.c proto/*.c tls/*.c)))
OBJ := $(SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(filter-out $(EXCLUDE),$(sort $(wildcard test/unit/*.c)))
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BEARSSL_LIB := $(BUILD)/libbearssl.a
BEARSSL_STAMP := $(BEARSSL_SRC)/inc/bearssl.h

all: mproxy
	@printf 'mproxy: %s bytes stripped\n' "$$(cp mproxy $(BUILD)/mproxy.strip && $(STRIP) $(BUILD)/mproxy.strip && wc -c < $(BUILD)/mproxy.strip)"

mproxy: $(BUILD)/mproxy
	cp $(BUILD)/mproxy $@

$(BUILD)/mproxy: $(BUILD)/mproxy.o $(OBJ) $(BEARSSL_LIB)
	$(CC) $(MP_CFLAGS) $(CFLAGS) $(LINK_STATIC) $(LDFLAGS) -o $@ $(BUILD)/mproxy.o $(OBJ) $(BEARSSL_LIB)

$(BUILD)/%.o: %.c $(BEARSSL_STAMP) $(wildcard */*.h) | $(BUILD)/dirs
	$(CC) $(MP_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/dirs:
	mkdir -p $(BUILD)/core $(BUILD)/conf $(BUILD)/proto $(BUILD)/tls $(BUILD)/test/unit $(BUILD)/fuzz $(BUILD)/bearssl
	touch $@

# BearSSL: Debian's source package (scripts/fetch-bearssl) or a tree given as
# BEARSSL_SRC=DIR. Compiled here with our compiler and flags, so a cross build
# cross-compiles it too; --gc-sections keeps only what mproxy calls.
$(BEARSSL_STAMP):
	scripts/fetch-bearssl $(BEARSSL_SRC)

$(BEARSSL_LIB): $(BEARSSL_STAMP) | $(BUILD)/dirs
	@echo "building BearSSL from $(BEARSSL_SRC) into $@"
	@set -e; objs=; for f in $(BEARSSL_SRC)/src/*.c $(BEARSSL_SRC)/src/*/*.c; do [ -f $$f ] || continue; \
	  o=$(BUILD)/bearssl/$$(basename $$f .c).o; objs="$$objs $$o"; \
	  if [ ! -f $$o ] || [ $$f -nt $$o ]; then \
	    $(CC) -std=c99 $(OPT) $(BEARSSL_CFLAGS) $(CPPFLAGS) $(CFLAGS) -I$(BEARSSL_SRC)/inc -I$(BEARSSL_SRC)/src -c -o $$o $$f; fi; \
	done; rm -f $@; $(AR) rcs $@ $$(printf '%s\n' $$objs | sort -u)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(OBJ) $(BEARSSL_LIB)
	$(CC) $(MP_CFLAGS) $(CFLAGS) $(LINK_STATIC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(OBJ) $(BEARSSL_LIB)

unit: $(BUILD)/unit-tests

# The README's test command. Unit tests, then integration tests against real
# peers (Dovecot, Postfix, ...). Ends with "N passed, M failed".
test: mproxy $(BUILD)/unit-tests
	MPROXY=$(CURDIR)/mproxy UNIT=$(CURDIR)/$(BUILD)/unit-tests $(PYTHON) test/run.py $(TESTS)

# The same tree built with glibc + clang + ASan/UBSan, and the same tests.
CHECK_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# BearSSL reads unaligned words on purpose on x86; UBSan would stop at the first.
SANITIZE_BEARSSL = -DBR_LE_UNALIGNED=0 -DBR_BE_UNALIGNED=0
check:
	$(MAKE) BUILD=build/check CC=clang OPT="$(CHECK_FLAGS)" BEARSSL_CFLAGS="$(SANITIZE_BEARSSL)" LINK_STATIC= build/check/mproxy build/check/unit-tests
	MPROXY=$(CURDIR)/build/check/mproxy UNIT=$(CURDIR)/build/check/unit-tests \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(PYTHON) test/run.py $(TESTS)

# The same tests with every mproxy under valgrind's memcheck (a plain glibc
# build, so valgrind sees every malloc). Slow: a subset by default.
VALGRIND_TESTS ?= test_imap test_pop3. test_smtp. test_auth. test_backend_tls
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
valgrind:
	$(MAKE) BUILD=build/valgrind CC=gcc OPT="-O1 -g" LINK_STATIC= build/valgrind/mproxy
	MPROXY=$(CURDIR)/build/valgrind/mproxy MPROXY_WRAP="$(VALGRIND)" MPT_SLOW=1 \
	  $(PYTHON) test/run.py $(VALGRIND_TESTS)

# libFuzzer targets, one per parser (fuzz/*.c); FUZZ_SECONDS bounds each run.
FUZZ_SECONDS ?= 20
FUZZ_SRC := $(filter-out $(EXCLUDE),$(sort $(wildcard fuzz/*.c)))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" BEARSSL_CFLAGS="$(SANITIZE_BEARSSL)" LINK_STATIC= fuzz-bins
fuzz-bins: $(FUZZ_BIN)
build/fuzz/%: fuzz/%.c $(OBJ) $(BEARSSL_LIB)
	$(CC) $(MP_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(OBJ) $(BEARSSL_LIB)
fuzz-run: fuzz
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 build/fuzz/corpus-$$n fuzz/corpus/$$n >build/fuzz/$$n.log 2>&1 || { tail -40 build/fuzz/$$n.log; exit 1; }; done

# The kqueue back-end must keep compiling on Linux, against a stand-in header.
kqueue-check: | $(BUILD)/dirs
	$(CC) $(MP_CFLAGS) -DMP_FORCE_KQUEUE -Itest/compat -fsyntax-only core/loop_kqueue.c

bench: mproxy
	bench/run

install: mproxy
	mkdir -p $(DESTDIR)$(BINDIR)
	cp mproxy $(DESTDIR)$(BINDIR)/mproxy
	$(STRIP) $(DESTDIR)$(BINDIR)/mproxy

clean:
	rm -rf build/release build/check build/fuzz mproxy

distclean: clean
	rm -rf build

.PHONY: all unit test check valgrind fuzz fuzz-bins fuzz-run kqueue-check bench install clean distclean
