# pop3d: see README.  `make` builds ./pop3d; `make check` runs every test.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
HARDEN   = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
ALL_CFLAGS = -std=c17 -D_DEFAULT_SOURCE $(WARN) $(HARDEN) $(CFLAGS)
LDFLAGS  ?=
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS     = -lcrypt -lmd -lcrypto

SRCS = pop3d.c session.c mailbox.c auth.c io.c log.c sasl.c base64.c apop.c
OBJS = $(SRCS:.c=.o)
HDRS = $(wildcard *.h)

all: pop3d

pop3d: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LIBS)

%.o: %.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The same sources with AddressSanitizer and UndefinedBehaviorSanitizer, in a
# separate directory so that the two builds never mix objects.
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
build-san/pop3d: $(SRCS) $(HDRS)
	@mkdir -p build-san
	$(CC) -std=c17 -D_DEFAULT_SOURCE $(WARN) $(SAN_FLAGS) -o $@ $(SRCS) $(LIBS)

# libFuzzer targets (fuzz/): the session engine, the mbox scanner and the
# login parsers, built with clang from pop3d's own modules.  `make fuzz` runs
# each for FUZZ_SECONDS; `make fuzz-smoke` (part of check) for a few seconds,
# and says it skipped when clang cannot build libFuzzer binaries.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS = session mbox auth
FUZZ_FLAGS = -std=c17 -D_DEFAULT_SOURCE $(WARN) -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRCS = $(filter-out pop3d.c,$(SRCS))
build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/harness.h $(FUZZ_SRCS) $(HDRS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRCS) $(LIBS)

fuzz-build: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

# Each target's corpus grows in build-fuzz/corpus-NAME (seeded from the
# hand-written fuzz/corpus-NAME); a crash is left in build-fuzz/ and fails
# the run.
fuzz fuzz-smoke:
	@if ! fuzz/available "$(FUZZ_CC)"; then \
		echo "fuzz: SKIPPED: $(FUZZ_CC) cannot build libFuzzer targets" \
		    "(install clang and libclang-rt-14-dev)"; exit 0; fi; \
	$(MAKE) --no-print-directory fuzz-build && \
	fuzz/run $(if $(filter fuzz,$@),$(FUZZ_SECONDS),$(FUZZ_SMOKE_SECONDS)) \
		$(FUZZ_TARGETS)

check: pop3d build-san/pop3d
	tests/run
	POP3D=$(CURDIR)/build-san/pop3d tests/run
	$(MAKE) --no-print-directory check-valgrind
	$(MAKE) --no-print-directory fuzz-smoke

# The suites with pop3d under valgrind memcheck (tests/valgrind-run).  A
# run of pop3d costs about a second under valgrind, so `make check` runs
# the protocol suites; VALGRIND_SUITES="tests/*.bats" runs them all.
VALGRIND_SUITES ?= tests/basic.bats tests/auth.bats tests/bounds.bats
check-valgrind: pop3d
	tests/valgrind-run $(VALGRIND_SUITES)

check-sanitize: build-san/pop3d
	POP3D=$(CURDIR)/build-san/pop3d tests/run

demo: 
	./demo/run

clean:
	rm -rf pop3d *.o build-san build-fuzz build-valgrind tests/tmp

.PHONY: all check check-valgrind check-sanitize demo clean fuzz fuzz-smoke fuzz-build
