# hangup -- plain GNU Makefile.
#
#   make              library (static + shared), the hangup tool, examples, tests
#   make check        the test suite, then the same suite under ASan+UBSan
#   make test         the test suite once, for the current BUILD
#   make install      PREFIX=/usr/local DESTDIR= (header, libs, hangup.pc, man)
#   make bench        benchmarks (see bench/README.md)
#
# Every source file is found by wildcard: src/*.c is the library, cli/*.c
# and cli/*/*.c the tool (a folder per big command: cli/lab/), tests/t-*.c
# the C tests, tests/helper/*.c small peer programs that the shell tests
# drive (like git's test-tool; not tests themselves, so not t-*),
# examples/*.c one program each.

# The version lives in one place, include/hangup.h; the library's file
# name and SONAME are read from it.
hu_ver     = $(shell sed -n 's/^\#define HU_VERSION_$(1) \([0-9]*\)$$/\1/p' \
               include/hangup.h)
VERSION   := $(call hu_ver,MAJOR).$(call hu_ver,MINOR).$(call hu_ver,PATCH)
SOVERSION := $(call hu_ver,MAJOR)
PREFIX    ?= /usr/local
LIBDIR    ?= $(PREFIX)/lib
INCDIR    ?= $(PREFIX)/include
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DESTDIR   ?=

CC        ?= cc
BUILD     ?= build
SAN       ?=
OPT       ?= -O2
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wpointer-arith -Wformat=2
CFLAGS    ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP \
             -Iinclude
LIB_CFLAGS = $(ALL_CFLAGS) -fPIC -fvisibility=hidden
LDLIBS    ?=

ifeq ($(SAN),1)
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all
endif

LIB_SRC   := $(sort $(wildcard src/*.c))
CLI_SRC   := $(sort $(wildcard cli/*.c cli/*/*.c))
TEST_SRC  := $(sort $(wildcard tests/t-*.c))
TLIB_SRC  := $(sort $(wildcard tests/lib/*.c))
HELP_SRC  := $(sort $(wildcard tests/helper/*.c))
EX_SRC    := $(sort $(wildcard examples/*.c))
SH_TESTS  := $(sort $(wildcard tests/t-*.sh))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TLIB_OBJ  := $(TLIB_SRC:%.c=$(BUILD)/obj/%.o)
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HELPERS   := $(HELP_SRC:tests/%.c=$(BUILD)/tests/%)
EXAMPLES  := $(EX_SRC:examples/%.c=$(BUILD)/%)

STATIC    := $(BUILD)/libhangup.a
SHARED    := $(BUILD)/libhangup.so.$(VERSION)
SONAME    := libhangup.so.$(SOVERSION)
TOOL      := $(BUILD)/hangup

.PHONY: all lib tests examples check test install uninstall clean bench \
        format format-check soak fuzz fuzz-smoke valgrind
.DEFAULT_GOAL := all

# Objects are built by pattern rules on the way to a program, which makes them
# intermediate files that make deletes afterwards (and rebuilds next time).
# Keep them all: rebuilds stay incremental and the .d files stay true.
.SECONDARY:

all: lib $(TOOL) examples tests

lib: $(STATIC) $(SHARED) $(BUILD)/$(SONAME) $(BUILD)/libhangup.so \
     $(BUILD)/hangup.pc

$(BUILD)/obj/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/obj/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icli -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -Itests -c -o $@ $<

$(BUILD)/obj/examples/%.o: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/$(SONAME): $(SHARED)
	ln -sf libhangup.so.$(VERSION) $@

$(BUILD)/libhangup.so: $(SHARED)
	ln -sf libhangup.so.$(VERSION) $@

$(BUILD)/hangup.pc: hangup.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# The tool links the static library: one self-contained binary.
$(TOOL): $(CLI_OBJ) $(STATIC)
	$(CC) $(SANFLAGS) -o $@ $(CLI_OBJ) $(STATIC) $(LDLIBS) -lm

examples: $(EXAMPLES)

$(BUILD)/%: $(BUILD)/obj/examples/%.o $(STATIC)
	$(CC) $(SANFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

tests: $(TESTS) $(HELPERS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TLIB_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $< $(TLIB_OBJ) $(STATIC) $(LDLIBS) -lm

# Helpers are plain peers built on libc alone: a test of the library must not
# use the library to play the other side.
$(BUILD)/tests/helper/%: $(BUILD)/obj/tests/helper/%.o
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $< $(LDLIBS)

# The suite: C tests and shell tests, run by prove. HU_BUILD tells the shell
# tests where the binaries are. PROVE_JOBS may be set to run them in parallel.
PROVE      ?= prove
PROVE_JOBS ?= 2
#
# Then the loop's tests again on the io_uring backend (HANGUP_BACKEND, which
# every program built on hangup obeys): the C tests that run a loop, and
# the shell tests of the commands that do. t-backend checks that this pass
# really runs on a ring.
LOOP_TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(shell grep -l \
                'hu_loop_new\|looplib\.h' $(TEST_SRC)))
LOOP_SH    := tests/t-cli-edges.sh tests/t-connect.sh tests/t-examples.sh \
              tests/t-listen.sh tests/t-loop-syscalls.sh
test: all
	HU_BUILD=$(abspath $(BUILD)) HU_SAN=$(SAN) HU_SANFLAGS="$(SANFLAGS)" \
	    $(PROVE) -j$(PROVE_JOBS) --exec '' \
	    $(TESTS) $(SH_TESTS)
	@echo "== the loop's tests again, on io_uring (HANGUP_BACKEND=io_uring)"
	HANGUP_BACKEND=io_uring HU_BUILD=$(abspath $(BUILD)) HU_SAN=$(SAN) \
	    HU_SANFLAGS="$(SANFLAGS)" $(PROVE) -j$(PROVE_JOBS) --exec '' \
	    $(LOOP_TESTS) $(LOOP_SH)

# `make check`: the suite as built, then again under ASan+UBSan.
# `make check`: the suite as built, then again under ASan+UBSan, then a
# short run of every fuzzer when clang can build one (else it says so).
check:
	$(MAKE) test
	$(MAKE) test BUILD=build/asan SAN=1 OPT=-O1
	@if printf '%s\n' 'int LLVMFuzzerTestOneInput(const char *d, long n)' \
	    '{ (void)d; (void)n; return 0; }' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then \
	    $(MAKE) fuzz-smoke; \
	else echo "check: no libFuzzer ($(FUZZ_CC) -fsanitize=fuzzer): fuzz-smoke skipped"; fi

# The C tests under valgrind (children too: every case runs in a fork).
# Not into sh, nft, ip (drop_all_tcp() and others run them): they are not ours, and
# nft's own valgrind errors would fail the case.
VALGRIND ?= valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite \
	--error-exitcode=99 --trace-children=yes \
	--trace-children-skip='*/sh,*/bash,*/nft,*/ip,*/strace'
valgrind: all
	@fail=0; for t in $(TESTS); do \
	    echo "== $$t"; \
	    HU_BUILD=$(abspath $(BUILD)) HU_VALGRIND=1 $(VALGRIND) $$t \
	        > $(BUILD)/valgrind.log 2>&1 || { fail=1; cat $(BUILD)/valgrind.log; }; \
	    echo "   passed cases: $$(grep '^ok' $(BUILD)/valgrind.log | grep -vc '# SKIP')," \
	        "skipped: $$(grep -c '^ok.*# SKIP' $(BUILD)/valgrind.log)"; \
	done; exit $$fail

# Every function hangup.h exports gets a page of its own in man3 that
# sources hangup(3) (`.so`, as man-db and mandoc read it), so that
# `man 3 hu_recv` finds it. tests/t-docs.sh checks that each has an
# entry in hangup(3).
# (LP: a '(' that make's own parenthesis count does not see.)
LP := (
MAN3_LINKS = $(shell sed -n \
    's/^HU_EXPORT .*[ *]\(hu_[a-z0-9_]*\)[$(LP)].*/\1/p' include/hangup.h)

install: lib $(TOOL)
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 include/hangup.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libhangup.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf libhangup.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libhangup.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    hangup.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/hangup.pc
	install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/
	for m in docs/*.1; do [ -f "$$m" ] && \
	    install -m 644 "$$m" $(DESTDIR)$(MANDIR)/man1/ || true; done
	for m in docs/*.3; do [ -f "$$m" ] && \
	    install -m 644 "$$m" $(DESTDIR)$(MANDIR)/man3/ || true; done
	for f in $(MAN3_LINKS); do \
	    echo '.so man3/hangup.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3; done
	@# Into the system itself (no DESTDIR): the loader finds a new
	@# libhangup.so.0 only once ldconfig has rebuilt its cache.
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null 2>&1; then \
	    echo ldconfig; ldconfig || true; \
	    ldconfig -p | grep -q 'libhangup\.so\.$(SOVERSION) ' || \
	    echo "install: $(LIBDIR) is not in the loader's path:" \
	        "add it to /etc/ld.so.conf.d/ (then ldconfig), or" \
	        "set LD_LIBRARY_PATH=$(LIBDIR)"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/hangup.h $(DESTDIR)$(LIBDIR)/libhangup.* \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/hangup.pc $(DESTDIR)$(BINDIR)/hangup \
	    $(DESTDIR)$(MANDIR)/man1/hangup.1 $(DESTDIR)$(MANDIR)/man3/hangup.3 \
	    $(MAN3_LINKS:%=$(DESTDIR)$(MANDIR)/man3/%.3)

FORMAT_FILES = $(wildcard include/*.h src/*.c src/*.h cli/*.c cli/*.h \
               cli/*/*.c cli/*/*.h \
               tests/*.c tests/*.h tests/lib/*.c tests/lib/*.h \
               tests/helper/*.c examples/*.c \
               bench/*.c bench/*.h)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

# `make soak`: minutes of load that ends connections every way there is
# (tests/soak/soak.c says how); not part of `make check`. As root it runs
# in a private network namespace and includes dead peers.
SOAK_ARGS ?=
$(BUILD)/soak: tests/soak/soak.c $(BUILD)/obj/tests/lib/tap.o $(STATIC)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(BUILD)/obj/tests/lib/tap.o \
	    $(STATIC) $(LDLIBS)
soak: $(BUILD)/soak
	$(BUILD)/soak $(SOAK_ARGS)

# Fuzzing (libFuzzer, clang): every tests/fuzz/fuzz-*.c is a target,
# linked with the library built again with coverage and ASan+UBSan.
# `make fuzz` runs each for FUZZ_SECONDS in a scratch corpus seeded from
# tests/fuzz/corpus/NAME, then merges what found new coverage back into
# the committed corpus (minimized). `make fuzz-smoke` (part of `make check`
# when clang can build a fuzzer) replays the committed corpus and runs each
# target for FUZZ_SMOKE_SECONDS, writing nothing.
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS    = -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) -Iinclude
FUZZ_SRC      := $(sort $(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BIN      := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/fuzz/obj/%.o)

$(BUILD)/fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Isrc -c -o $@ $<

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ)

# fuzz-cli drives the CLI's option parsers: it links the tool's own files
# (not main.c, which has main(), nor the lab).
FUZZ_CLI_OBJ  := $(patsubst %,$(BUILD)/fuzz/obj/cli/%.o,args events sink stdin lifecycle listen connect)
$(BUILD)/fuzz/obj/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Icli -c -o $@ $<
$(BUILD)/fuzz/fuzz-cli: tests/fuzz/fuzz-cli.c $(FUZZ_CLI_OBJ) $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Icli -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_CLI_OBJ) $(FUZZ_LIB_OBJ)

fuzz: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_BIN); do \
	    name=$$(basename $$t); corpus=tests/fuzz/corpus/$$name; \
	    work=$(BUILD)/fuzz/work-$$name; mkdir -p $$corpus $$work; \
	    echo "== $$name: $(FUZZ_SECONDS) s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=tests/fuzz/ $$work $$corpus; \
	    $$t -merge=1 $$corpus $$work 2>&1 | tail -1; \
	done

fuzz-smoke: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_BIN); do \
	    name=$$(basename $$t); corpus=tests/fuzz/corpus/$$name; \
	    scratch=$$(mktemp -d); \
	    echo "fuzz-smoke: $$name: replay the corpus, then $(FUZZ_SMOKE_SECONDS) s"; \
	    $$t -runs=0 $$corpus >$$scratch/log 2>&1 || { cat $$scratch/log; exit 1; }; \
	    $$t -max_total_time=$(FUZZ_SMOKE_SECONDS) -artifact_prefix=$$scratch/ \
	        $$scratch >>$$scratch/log 2>&1 || { cat $$scratch/log; exit 1; }; \
	    rm -rf $$scratch; \
	done

-include bench/bench.mk

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TLIB_OBJ:.o=.d) \
         $(TESTS:$(BUILD)/tests/%=$(BUILD)/obj/tests/%.d) \
         $(HELPERS:$(BUILD)/tests/%=$(BUILD)/obj/tests/%.d) \
         $(EXAMPLES:$(BUILD)/%=$(BUILD)/obj/examples/%.d)
