# Shared fixtures for the bats suites: a throwaway account, mbox builders and
# a transcript runner.  Every test gets its own directory ($T).
load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

: "${POP3D:=$BATS_TEST_DIRNAME/../pop3d}"
# The uid/gid test accounts are served as when the suite runs as root: a
# number that no real account uses.
TEST_UID=${TEST_UID:-40123}
TEST_GID=${TEST_GID:-40123}

# searchable DIR: the served user must be able to reach DIR: open it and
# the directories above it (bats makes them 0700) for search.
searchable() {
	local d=$1
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
}

# wait_for_text FILE TEXT: until FILE (CRs removed) has TEXT, 5 s at most.
wait_for_text() {
	local i
	for ((i = 0; i < 50; i++)); do
		tr -d '\r' <"$1" | grep -qF -- "$2" && return 0
		sleep 0.1
	done
	echo "no '$2' in:"
	cat "$1"
	return 1
}

setup_account() {
	T=$BATS_TEST_TMPDIR
	searchable "$T"
	# sha512crypt of "secret", made once per test run.
	HASH=${HASH:-$(openssl passwd -6 -salt testsalt secret)}
	if [ "$(id -u)" -eq 0 ]; then
		printf 'alice:%s:%s:%s:%s\n' "$HASH" "$TEST_UID" "$TEST_GID" "$T" >"$T/passwd"
	else
		printf 'alice:%s\n' "$HASH" >"$T/passwd"
	fi
	chmod 600 "$T/passwd"
	mkdir -p "$T/mail"
	chmod 1777 "$T/mail"
	MBOX=$T/mail/alice
	# The state directory pop3d uses by default ($DEFAULT_STATE): as root,
	# ~/.pop3d, made here (the home, $T, is root's: without it pop3d would
	# make one under /var/lib/pop3d); as an ordinary user, beside the
	# mailbox.
	if [ "$(id -u)" -eq 0 ]; then
		DEFAULT_STATE=$T/.pop3d
		mkdir -p -m 700 "$DEFAULT_STATE"
		own "$DEFAULT_STATE"
	else
		DEFAULT_STATE=$T/mail/.pop3d-alice
	fi
}

# own FILE...: give files to the test account (a no-op unless root).
own() {
	if [ "$(id -u)" -eq 0 ]; then
		chown "$TEST_UID:$TEST_GID" "$@"
	fi
}

# msg FROM SUBJECT BODY: one mbox message (From_ line, headers, body), with
# the blank separator line after it.
msg() {
	printf 'From %s Mon Jan  1 00:00:00 2024\nFrom: %s\nSubject: %s\n\n%b\n\n' "$1" "$1" "$2" "$3"
}

# write_mbox: stdin becomes alice's mailbox, mode 600, owned by her.
write_mbox() {
	cat >"$MBOX"
	chmod 600 "$MBOX"
	own "$MBOX"
}

# pop LINE...: sends the lines (CRLF added) after logging in as alice and
# prints the server's replies with CRs removed.  POP3D_ARGS adds options.
pop() {
	{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@"; } |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 ${POP3D_ARGS:-} |
		tr -d '\r'
}

# pop_raw: stdin is sent as is; replies printed as is (CRs kept).
pop_raw() {
	"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 ${POP3D_ARGS:-}
}

# no_leak_check: $ASAN_OPTIONS without LeakSanitizer, for pop3d under strace
# (LeakSanitizer cannot run under ptrace and reports a fatal error instead).
no_leak_check() {
	echo "${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# with_syslog FILE CMD [ARG...]: runs CMD in a mount namespace of its own
# where /dev/log is tests/syslog-capture's socket, so that what CMD sends
# to syslog is appended to FILE (the rest of /dev is the real one, bound
# file by file).  Root only (the namespace); exits with CMD's status.
with_syslog() {
	local file=$1 dev=$BATS_TEST_TMPDIR/syslog-dev
	shift
	mkdir -p "$dev"
	: >>"$file"
	unshare -m --propagation private bash -c '
		dev=$1 file=$2 capture=$3
		shift 3
		for n in null zero full random urandom tty; do
			[ -e "/dev/$n" ] || continue
			: >"$dev/$n"
			mount --bind "/dev/$n" "$dev/$n" || exit 99
		done
		mount --rbind "$dev" /dev || exit 99
		# The directory is reused by every call of the test: a ready
		# file and socket left by the last capture are not this one.
		rm -f "$dev/ready" "$dev/log"
		"$capture" /dev/log "$file" >"$dev/ready" &
		pid=$!
		for i in $(seq 200); do
			[ -s "$dev/ready" ] && break
			kill -0 "$pid" 2>/dev/null || exit 99
			sleep 0.05
		done
		rc=0
		"$@" || rc=$?
		python3 -c "import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"<0>syslog-capture: end\", \"/dev/log\")"
		wait "$pid"
		exit $rc
	' with_syslog "$dev" "$file" "$BATS_TEST_DIRNAME/syslog-capture" "$@"
}

# needs_root_ns REASON: skips the test unless root can make a mount namespace.
needs_root_ns() {
	if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
		skip "needs root and unshare -m: $1"
	fi
}
