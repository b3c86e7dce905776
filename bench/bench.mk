# bench/bench.mk -- `make bench`, included by the top Makefile.
#
#   make bench              build build/bench/*, run every server, interleaved,
#                           print the table, write docs/bench.md (and every
#                           round's values to build/bench/results.csv)
#   make bench-bin          only build
#   make bench BENCH_ARGS='-r 3 -q'   fewer rounds / shorter windows
#
# Not part of `make check`: a timing never goes into the test suite.
# libuv, libevent and libev come from Debian packages; this file installs
# nothing, it says which packages are missing and stops.

BENCH_DIR    := $(BUILD)/bench
BENCH_OBJDIR := $(BUILD)/obj/bench
# -O2 whatever OPT the rest of the build uses: the servers are measured.
BENCH_CFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -MMD -MP -Iinclude \
                -Ibench
BENCH_ARGS   ?=
BENCH_OUT    ?= docs/bench.md

BENCH_SERVERS := $(BENCH_DIR)/srv-raw $(BENCH_DIR)/srv-uv \
                 $(BENCH_DIR)/srv-event $(BENCH_DIR)/srv-ev \
                 $(BENCH_DIR)/srv-hangup $(BENCH_DIR)/srv-hangup-uring
BENCH_BINS    := $(BENCH_DIR)/load $(BENCH_SERVERS) $(BENCH_DIR)/watch-churn
BENCH_COMMON  := $(BENCH_OBJDIR)/common.o

.PHONY: bench-deps bench-bin bench-watch

# Each library is looked for the way the compiler will use it: a header
# that compiles and a library that links (Debian's libev ships no .pc).
bench-deps:
	@missing=; \
	for t in "libuv1-dev:uv.h:uv_version:-luv" \
	         "libevent-dev:event2/event.h:event_get_version:-levent" \
	         "libev-dev:ev.h:ev_version_major:-lev"; do \
	    pkg=$${t%%:*}; r=$${t#*:}; hdr=$${r%%:*}; r=$${r#*:}; \
	    fn=$${r%%:*}; lib=$${r#*:}; \
	    printf '#include <%s>\nint main(void){return (int)%s();}\n' \
	        "$$hdr" "$$fn" | $(CC) -x c - $$lib -o /dev/null \
	        >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "make bench: missing the libraries hangup is measured against."; \
	    echo "Install them with:"; \
	    echo "    apt-get install$$missing"; \
	    exit 1; \
	fi

bench-bin: $(BENCH_BINS)

bench: bench-deps
	$(MAKE) --no-print-directory lib bench-bin
	$(BENCH_DIR)/load -o $(BENCH_OUT) --csv $(BENCH_DIR)/results.csv \
	    $(BENCH_ARGS) \
	    "raw epoll=$(BENCH_DIR)/srv-raw" \
	    "libuv=$(BENCH_DIR)/srv-uv" \
	    "libevent=$(BENCH_DIR)/srv-event" \
	    "libev=$(BENCH_DIR)/srv-ev" \
	    "hangup=$(BENCH_DIR)/srv-hangup" \
	    "hangup io_uring=$(BENCH_DIR)/srv-hangup-uring"
	bench/watch-bench.sh $(BUILD) $(BENCH_OUT)

# `hangup watch` under churn (bench/watch-bench.sh; root, else it says so).
bench-watch: $(TOOL) $(BENCH_DIR)/watch-churn
	bench/watch-bench.sh $(BUILD)

$(BENCH_DIR)/watch-churn: $(BENCH_OBJDIR)/watch-churn.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^

$(BENCH_OBJDIR)/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -c -o $@ $<

$(BENCH_DIR)/load: $(BENCH_OBJDIR)/load.o $(BENCH_OBJDIR)/load-tests.o \
                   $(BENCH_OBJDIR)/load-report.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lm

$(BENCH_DIR)/srv-raw: $(BENCH_OBJDIR)/srv-raw.o $(BENCH_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^

$(BENCH_DIR)/srv-uv: $(BENCH_OBJDIR)/srv-uv.o $(BENCH_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -luv

$(BENCH_DIR)/srv-event: $(BENCH_OBJDIR)/srv-event.o $(BENCH_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -levent

$(BENCH_DIR)/srv-ev: $(BENCH_OBJDIR)/srv-ev.o $(BENCH_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lev

$(BENCH_DIR)/srv-hangup: $(BENCH_OBJDIR)/srv-hangup.o $(BENCH_COMMON) \
                         $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(BENCH_OBJDIR)/srv-hangup.o $(BENCH_COMMON) $(STATIC)

# The same server on the io_uring backend (issue 16).
$(BENCH_OBJDIR)/srv-hangup-uring.o: bench/srv-hangup.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -DSRV_BACKEND=HU_BACKEND_IO_URING -c -o $@ $<

$(BENCH_DIR)/srv-hangup-uring: $(BENCH_OBJDIR)/srv-hangup-uring.o \
                               $(BENCH_COMMON) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(BENCH_OBJDIR)/srv-hangup-uring.o $(BENCH_COMMON) $(STATIC)

-include $(wildcard $(BENCH_OBJDIR)/*.d)
