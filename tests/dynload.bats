#!/usr/bin/env bats
# Libraries loaded when used (dynload.h): pop3d links neither libssl,
# libcrypto nor libpam.  A session that needs none of them opens none; TLS
# loads OpenSSL and -a pam loads libpam in the root parent at startup; and
# when one cannot be loaded pop3d refuses to start, naming it.

load helpers
load net

setup() {
	setup_account
	msg a@example.org one 'hello' | write_mbox
}

# opened [ARG...]: a session (login, STAT, QUIT) with ARGs, traced: "PID
# LIBRARY" for each OpenSSL or PAM library that pop3d's processes open,
# pop3d-session's left out (digest.c loads libcrypto there for a scan).
# The first line of $T/trace is the root parent's.
opened() {
	ASAN_OPTIONS=$(no_leak_check) strace -f -e trace=execve,openat -o "$T/trace" \
	    "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 "$@" \
	    < <(printf 'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n') >"$T/out" 2>"$T/err"
	grep -q '^+OK alice has 1 message' "$T/out"
	awk '/execve\(".*pop3d-session"/ { s[$1] = 1 }
	    !s[$1] && /openat\(/ && !/ENOENT/ &&
	    match($0, /lib(ssl|crypto|pam)\.so[.0-9]*/) {
		print $1, substr($0, RSTART, RLENGTH) }' "$T/trace"
}

@test "with the password file and no TLS, no process before the user's session opens OpenSSL or PAM" {
	command -v strace >/dev/null || skip "strace is not installed"
	run opened
	assert_success
	assert_output ''
	# The trace did see libraries opened: the test can tell.
	grep -q 'openat(.*libcrypt\.so' "$T/trace"
}

@test "--tls loads libssl and libcrypto once, in the root parent before the login process" {
	command -v strace >/dev/null || skip "strace is not installed"
	make_pki
	run opened --tls=stls $TLS_FILES
	assert_success
	root=$(head -n 1 "$T/trace" | cut -d' ' -f1)
	assert_line "$root libssl.so.3"
	assert_line "$root libcrypto.so.3"
	[ "${#lines[@]}" -eq 2 ]
}

# without LIBRARY CMD...: CMD in a private mount namespace where the file
# LIBRARY (a soname) resolves to is empty.
without() {
	local lib
	lib=$(ldconfig -p | awk -v n="$1" '$1 == n && /x86-64|64bit/ { print $NF; exit }')
	[ -n "$lib" ] || lib=$(ldconfig -p | awk -v n="$1" '$1 == n { print $NF; exit }')
	[ -n "$lib" ] || return 99
	shift
	unshare -m sh -e -c 'mount --make-rprivate / &&
		mount --bind /dev/null "$(readlink -f "$0")" && exec "$@"' "$lib" "$@"
}

@test "OpenSSL or libpam missing: pop3d refuses to start, and says which" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a private mount namespace"
	make_pki
	run without libssl.so.3 "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" \
	    --tls=stls $TLS_FILES </dev/null
	assert_failure
	assert_output --regexp 'TLS: cannot load OpenSSL: .*libssl\.so\.3'
	run without libpam.so.0 "$POP3D" -a pam -m "$T/mail/%u" </dev/null
	assert_failure
	assert_output --regexp 'PAM: cannot load libpam\.so\.0: '
	# The control: the same with the libraries there.
	run without libpam.so.0 "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" \
	    --tls=stls $TLS_FILES < <(printf 'QUIT\r\n')
	assert_success
	assert_line --index 0 --partial '+OK pop3d ready'
}
