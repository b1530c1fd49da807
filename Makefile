# pop3d: see README (DESIGN for the code).  `make` builds ./pop3d, its
# objects in build/; `make check` runs every test.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wformat=2 -Wvla
# -Werror in the check builds only (check, the sanitizer and fuzz builds):
# a newer compiler's new warning must not fail a user's or the package's
# build.  `make WERROR=-Werror` asks for it in a plain build.
CHECK_GOALS = check check-valgrind check-sanitize fuzz fuzz-smoke fuzz-build
WERROR   = $(if $(filter $(CHECK_GOALS),$(MAKECMDGOALS)),-Werror)
HARDEN   = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
ALL_CFLAGS = -std=c17 -D_DEFAULT_SOURCE $(WARN) $(WERROR) $(HARDEN) $(CFLAGS)
LDFLAGS  ?=
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS     = -lcrypt -lmd -llockfile -lresolv

# Installation directories (GNU names).  sysconfdir is /etc whatever PREFIX
# is: PAM and xinetd read only there.
PREFIX     ?= /usr/local
sbindir    ?= $(PREFIX)/sbin
datadir    ?= $(PREFIX)/share
mandir     ?= $(datadir)/man
sysconfdir ?= /etc
systemdunitdir ?= $(PREFIX)/lib/systemd/system
exampledir ?= $(datadir)/pop3d
docdir     ?= $(datadir)/doc/pop3d
DESTDIR    ?=

SRCS = pop3d.c session.c mailbox.c index.c scan.c cache.c digest.c dynload.c update.c journal.c fdio.c \
	lock.c state.c uidl.c auth.c auth_pam.c privs.c io.c log.c tls.c \
	privsep.c login.c sasl.c base64.c apop.c netfs.c addr.c proxy.c handover.c \
	user.c
OBJS = $(SRCS:%.c=build/%.o)
HDRS = $(wildcard *.h)
# pop3d-session: the user's session (handover.h), which pop3d executes
# from its own directory; without libssl and libpam, and without libcrypto,
# which digest.c loads when a session first hashes much.
SESSION_SRCS = usermain.c user.c session.c mailbox.c index.c scan.c cache.c digest.c dynload.c \
	update.c journal.c fdio.c lock.c state.c uidl.c io.c log.c netfs.c
SESSION_LIBS = -lmd -llockfile

all: pop3d

pop3d: $(OBJS) pop3d-session
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LIBS)

pop3d-session: $(SESSION_SRCS:%.c=build/%.o)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(SESSION_LIBS)

build/%.o: %.c $(HDRS) build/flags
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The command line the objects were built with: when it changes (CC,
# CFLAGS) they are built again.  -Werror changes no object and is left
# out: otherwise the `make install` and `make pop3d` that tests run
# (install.bats, demo.bats) would relink ./pop3d under the suites running
# beside them (exec then finds it half-written: "Permission denied").  A
# fresh tree's `make check` (CI) builds everything with -Werror.
BUILD_CMD = $(CC) $(filter-out -Werror,$(ALL_CFLAGS)) $(ALL_LDFLAGS) $(LIBS)
build/flags: FORCE
	@mkdir -p build
	@echo '$(BUILD_CMD)' | cmp -s - $@ || echo '$(BUILD_CMD)' >$@
FORCE:

# The same sources with AddressSanitizer and UndefinedBehaviorSanitizer, in a
# separate directory so that the two builds never mix objects.
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
build-san/pop3d: $(SRCS) $(SESSION_SRCS) $(HDRS)
	@mkdir -p build-san
	$(CC) -std=c17 -D_DEFAULT_SOURCE $(WARN) -Werror $(SAN_FLAGS) -o $@ $(SRCS) $(LIBS)
	$(CC) -std=c17 -D_DEFAULT_SOURCE $(WARN) -Werror $(SAN_FLAGS) \
		-o build-san/pop3d-session $(SESSION_SRCS) $(SESSION_LIBS)

# libFuzzer targets (fuzz/): the session engine, the mbox scanner and the
# login parsers, built with clang from pop3d's own modules.  `make fuzz` runs
# each for FUZZ_SECONDS; `make fuzz-smoke` (part of check) for a few seconds,
# and says it skipped when clang cannot build libFuzzer binaries.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS = session mbox auth proxy cache change
FUZZ_FLAGS = -std=c17 -D_DEFAULT_SOURCE $(WARN) -Werror -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRCS = $(filter-out pop3d.c,$(SRCS))
build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/harness.h $(FUZZ_SRCS) $(HDRS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRCS) $(LIBS) -lcrypto

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

# The packages in .ci/packages that are missing are installed first (as
# root), so that `make check` works on a fresh Debian machine.
check-deps:
	@.ci/install $$(cat .ci/packages) || \
		echo "make check: tests that need them will skip or fail" >&2

check: check-deps pop3d build-san/pop3d
	tests/run
	POP3D=$(CURDIR)/build-san/pop3d tests/run
	$(MAKE) --no-print-directory check-valgrind
	$(MAKE) --no-print-directory fuzz-smoke
	@if command -v dpkg-buildpackage >/dev/null; then $(MAKE) deb-check; \
	else echo "deb-check skipped: dpkg-buildpackage is not installed"; fi

# The suites with pop3d under valgrind memcheck (tests/valgrind-run): every
# suite but update.bats, which injects faults with strace (valgrind under
# strace would test neither), and farm.bats, whose GlusterFS farm runs the
# same sessions as the plain and ASan runs against a real distributed file
# system (under valgrind it would outlast its bound).  VALGRIND_SUITES run
# four at a time, then
# VALGRIND_ALONE one test at a time: clients.bats runs real clients that
# are not safe side by side (fetchmail's lock).  Tests that measure pop3d's
# own memory, writes or /proc entries skip under valgrind and say so.
VALGRIND_SUITES ?= $(filter-out tests/update.bats tests/clients.bats \
	tests/farm.bats, \
	$(wildcard tests/*.bats))
VALGRIND_ALONE ?= tests/clients.bats
check-valgrind: pop3d
	tests/valgrind-run $(VALGRIND_SUITES)
	$(if $(VALGRIND_ALONE),TEST_JOBS=1 tests/valgrind-run $(VALGRIND_ALONE))

# What the Debian package build runs (debian/rules): suites that need only
# the Build-Depends (bats, openssl, python3), no network beyond loopback and
# no root (their root-only tests skip), and install nothing.
PACKAGE_SUITES = tests/basic.bats tests/protocol.bats tests/mbox.bats \
	tests/errors.bats
check-package: pop3d
	TESTS_UNPRIVILEGED=1 tests/run $(PACKAGE_SUITES)

# Builds the Debian package out of tree and checks what it installs.
deb-check:
	tests/deb-check

check-sanitize: build-san/pop3d
	POP3D=$(CURDIR)/build-san/pop3d tests/run

demo: 
	./demo/run

# Deployment files name the binary as @sbindir@.  pop3d.8 and the README,
# readable as they are in the source tree, name the default /usr/local
# paths: installed, they name the real ones.
SUBST = sed 's|@sbindir@|$(sbindir)|g'
DOCSUBST = sed -e 's|/usr/local/share/doc/pop3d|$(docdir)|g' \
	-e 's|/usr/local/share/pop3d|$(exampledir)|g' \
	-e 's|/usr/local/lib/systemd/system|$(systemdunitdir)|g' \
	-e 's|/usr/local/sbin|$(sbindir)|g' -e 's|PREFIX=/usr/local|PREFIX=$(PREFIX)|g'
XINETD_FILES = $(wildcard xinetd.d/*)
FAIL2BAN_FILES = fail2ban/filter.d/pop3d.conf fail2ban/jail.d/pop3d.conf

# The files in sysconfdir are the admin's once installed: an existing
# /etc/pam.d/pop3 or /etc/xinetd.d file is kept (and make says so), and
# uninstall removes one only when it is unchanged.
ETC_FILES = pam.d/pop3 $(XINETD_FILES)

install: pop3d
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 \
		$(DESTDIR)$(systemdunitdir) \
		$(DESTDIR)$(exampledir)/tcpserver $(DESTDIR)$(docdir) \
		$(DESTDIR)$(exampledir)/fail2ban/filter.d \
		$(DESTDIR)$(exampledir)/fail2ban/jail.d
	install -m 755 pop3d pop3d-session $(DESTDIR)$(sbindir)
	$(DOCSUBST) pop3d.8 >$(DESTDIR)$(mandir)/man8/pop3d.8
	$(DOCSUBST) pop3d-session.8 >$(DESTDIR)$(mandir)/man8/pop3d-session.8
	$(DOCSUBST) README >$(DESTDIR)$(docdir)/README
	chmod 644 $(DESTDIR)$(mandir)/man8/pop3d.8 \
		$(DESTDIR)$(mandir)/man8/pop3d-session.8 $(DESTDIR)$(docdir)/README
	set -e; for f in systemd/pop3d.socket systemd/pop3d@.service \
		systemd/pop3ds.socket systemd/pop3ds@.service; do \
		$(SUBST) $$f >$(DESTDIR)$(systemdunitdir)/$${f#systemd/}; \
		chmod 644 $(DESTDIR)$(systemdunitdir)/$${f#systemd/}; done
	$(SUBST) inetd/pop3d.conf >$(DESTDIR)$(exampledir)/inetd.conf
	$(SUBST) tcpserver/run >$(DESTDIR)$(exampledir)/tcpserver/run
	chmod 644 $(DESTDIR)$(exampledir)/inetd.conf
	chmod 755 $(DESTDIR)$(exampledir)/tcpserver/run
	# Examples, not configuration: fail2ban reads only /etc/fail2ban, and
	# a jail is the admin's to enable (README, pop3d.8 LOGGING).
	set -e; for f in $(FAIL2BAN_FILES); do \
		install -m 644 $$f $(DESTDIR)$(exampledir)/$$f; done
	@set -e; for f in $(ETC_FILES); do \
		t=$(DESTDIR)$(sysconfdir)/$$f; \
		if [ -e "$$t" ] || [ -L "$$t" ]; then \
			echo "$$t exists: kept, not overwritten (the new one is $$f)"; \
			continue; fi; \
		echo "installing $$t"; \
		install -d "$${t%/*}"; $(SUBST) $$f >"$$t"; chmod 644 "$$t"; done

# Directories left empty are removed: up to DESTDIR when one is given; on
# the live system only pop3d's own (the hierarchy's, such as /etc/xinetd.d
# or /usr/local/sbin, stay).
uninstall:
	rm -f $(DESTDIR)$(sbindir)/pop3d $(DESTDIR)$(sbindir)/pop3d-session \
		$(DESTDIR)$(mandir)/man8/pop3d.8 \
		$(DESTDIR)$(mandir)/man8/pop3d-session.8 \
		$(DESTDIR)$(docdir)/README \
		$(DESTDIR)$(systemdunitdir)/pop3d.socket \
		$(DESTDIR)$(systemdunitdir)/pop3d@.service \
		$(DESTDIR)$(systemdunitdir)/pop3ds.socket \
		$(DESTDIR)$(systemdunitdir)/pop3ds@.service \
		$(DESTDIR)$(exampledir)/inetd.conf \
		$(DESTDIR)$(exampledir)/tcpserver/run \
		$(addprefix $(DESTDIR)$(exampledir)/,$(FAIL2BAN_FILES))
	@for f in $(ETC_FILES); do \
		t=$(DESTDIR)$(sysconfdir)/$$f; \
		[ -e "$$t" ] || continue; \
		if $(SUBST) $$f | cmp -s - "$$t"; then rm -f "$$t"; \
		else echo "$$t was changed: kept"; fi; done
	@for d in $(DESTDIR)$(exampledir)/tcpserver \
		$(DESTDIR)$(exampledir)/fail2ban/filter.d \
		$(DESTDIR)$(exampledir)/fail2ban/jail.d \
		$(DESTDIR)$(exampledir)/fail2ban $(DESTDIR)$(exampledir) \
		$(DESTDIR)$(docdir) \
		$(if $(DESTDIR),$(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 \
		$(DESTDIR)$(systemdunitdir) $(DESTDIR)$(sysconfdir)/pam.d \
		$(DESTDIR)$(sysconfdir)/xinetd.d); do \
		while [ -d "$$d" ] && rmdir "$$d" 2>/dev/null; do \
			d=$${d%/*}; \
			[ -n "$(DESTDIR)" ] && [ "$$d" != "$(DESTDIR)" ] || break; \
		done; done

clean:
	rm -rf pop3d pop3d-session build build-san build-fuzz build-valgrind tests/tmp demo/state

.PHONY: all check check-deps check-package check-valgrind check-sanitize deb-check demo clean \
	install uninstall fuzz fuzz-smoke fuzz-build FORCE

# The benchmark (not part of check): see bench/README.md.
include bench/bench.mk
