#!/usr/bin/env bats
# What cwrap cannot show, shown for real as root without touching the
# host's accounts: the session process's real uid, gids and saved gid
# (fake accounts from nss_wrapper, passwords from pam_matrix, but the
# kernel's setuid), and the shipped PAM service with the system's own
# pam_unix in a private mount namespace whose /etc/passwd, /etc/shadow,
# /etc/group, /etc/pam.d, /var/mail and /dev/log are the test's.
# Skipped, saying why, when not root.

load helpers
load cwrap

REPO=$BATS_TEST_DIRNAME/..

setup_file() {
	cwrap_build_module
}

setup() {
	needs_root "real setuid and mount namespaces"
	cwrap_setup
	{ msg a@example.org one 'hello'; msg b@example.org two 'world'; } >"$MBOX"
	chmod 600 "$MBOX"
	own_as "$ALICE_UID" "$MBOX"
}

# start_session ARGS...: pop3d with the fake accounts, fed from a FIFO that
# the test writes to ($IN, fd 5), replies in $T/out; $MONITOR is its pid.
start_session() {
	mkfifo "$T/fifo"
	cw_env
	env "${CW_ENV[@]}" "$POP3D" -d --pam-session -m "$T/mail/%u" -t 10 "$@" <"$T/fifo" >"$T/out" 2>>"$LOG" &
	MONITOR=$!
	exec 5>"$T/fifo"
}

# wait_for TEXT FILE: until FILE holds TEXT (5 s at most).
wait_for() {
	for _ in $(seq 50); do
		grep -q -e "$1" "$2" && return 0
		sleep 0.1
	done
	echo "no \"$1\" in $2:" >&2
	cat "$2" >&2
	return 1
}

@test "the session process really runs as the user; the monitor stays root and off the network" {
	# LeakSanitizer checks by ptrace()ing the process, which the kernel
	# refuses once its saved gid differs from its real one: no leak check
	# for this session under ASan.
	CW_ASAN=detect_leaks=0 start_session --lock-group=mail
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\n' >&5
	wait_for '^+OK 2 ' "$T/out"
	local child
	child=$(pgrep -P "$MONITOR")
	[ -n "$child" ]
	# Real, effective, saved and file-system ids; the saved gid is the
	# --lock-group (mail, 8), nothing else is kept.
	run grep -E '^(Uid|Gid|Groups):' "/proc/$child/status"
	assert_line --regexp "^Uid:[[:space:]]+$ALICE_UID[[:space:]]+$ALICE_UID[[:space:]]+$ALICE_UID[[:space:]]+$ALICE_UID\$"
	assert_line --regexp "^Gid:[[:space:]]+$ALICE_UID[[:space:]]+$ALICE_UID[[:space:]]+8[[:space:]]+$ALICE_UID\$"
	# initgroups: alice's own group and staff, of which she is a member.
	assert_line --regexp "^Groups:[[:space:]]+50 $ALICE_UID[[:space:]]*\$"
	# The monitor: root, its standard input and output are /dev/null.
	run grep -E '^Uid:' "/proc/$MONITOR/status"
	assert_output --regexp '^Uid:[[:space:]]+0[[:space:]]+0[[:space:]]+0[[:space:]]+0$'
	[ "$(readlink "/proc/$MONITOR/fd/0")" = /dev/null ]
	[ "$(readlink "/proc/$MONITOR/fd/1")" = /dev/null ]
	printf 'DELE 1\r\nQUIT\r\n' >&5
	exec 5>&-
	wait "$MONITOR" || { cat "$LOG"; false; }
	# The UPDATE left the mailbox the user's, private.
	[ "$(stat -c '%u:%g %a' "$MBOX")" = "$ALICE_UID:$ALICE_UID 600" ]
	run grep -c '^From ' "$MBOX"
	assert_output 1
	run grep -c '^close user=alice .* euid=0$' "$LOG"
	assert_output 1
}

@test "without --lock-group nothing is kept: the saved gid is the user's" {
	start_session
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\n' >&5
	wait_for '^+OK 2 ' "$T/out"
	run grep -E '^Gid:' "/proc/$(pgrep -P "$MONITOR")/status"
	assert_output --regexp "^Gid:[[:space:]]+$ALICE_UID[[:space:]]+$ALICE_UID[[:space:]]+$ALICE_UID[[:space:]]+$ALICE_UID\$"
	printf 'QUIT\r\n' >&5
	exec 5>&-
	wait "$MONITOR"
}

@test "a mailbox only another user may read is refused" {
	chown "$BOB_UID:$BOB_UID" "$MBOX"
	printf 'USER alice\r\nPASS secret\r\nQUIT\r\n' >"$T/in"
	run cw "$POP3D" -m "$T/mail/%u" <"$T/in"
	assert_failure 1
	# Any line: under valgrind, a warning of its own may come first.
	assert_line --regexp '^-ERR \[SYS/(PERM|TEMP)\] cannot open the mailbox'
	refute_line --regexp '^\+OK alice has'
}

@test "SIGTERM to the monitor ends the session without UPDATE and closes PAM" {
	start_session
	printf 'USER alice\r\nPASS secret\r\nDELE 1\r\n' >&5
	wait_for '^+OK message 1 deleted' "$T/out"
	kill -TERM "$MONITOR"
	local rc=0
	wait "$MONITOR" || rc=$?
	exec 5>&-
	[ "$rc" = 1 ]
	run grep -c '^From ' "$MBOX"
	assert_output 2
	run grep -c '^close user=alice ' "$LOG"
	assert_output 1
	run grep -c '^pop3d: session=[0-9a-f]* session process killed by signal 15$' "$LOG"
	assert_output 1
}

# ---- the system's pam_unix, in a private mount namespace -------------------

# in_namespace: runs pop3d as root with the default PAM backend and
# mailbox, in a mount namespace where the test's files are the system's;
# $T/in is the client, $T/out the replies, $T/syslog what reached /dev/log.
in_namespace() {
	export T POP3D REPO
	unshare -m sh -e -c '
		mount --make-rprivate /
		mount --bind "$T/etc/passwd" /etc/passwd
		mount --bind "$T/etc/shadow" /etc/shadow
		mount --bind "$T/etc/group" /etc/group
		mount --bind "$T/pam.d" /etc/pam.d
		mount --bind "$T/spool" /var/mail
		# A /dev of our own, with /dev/null and a /dev/log that we read.
		: >"$T/null"
		mount --bind /dev/null "$T/null"
		mount -t tmpfs none /dev
		: >/dev/null
		mount --bind "$T/null" /dev/null
		# The listener binds under another name and renames: once
		# /dev/log is there, it is read.  Mode 666 as on a real system:
		# the session of the user, a fresh pop3d, connects as the user.
		# A datagram is queued when it is
		# sent, so after pop3d has exited, an END datagram sent last
		# arrives after every line of its: no line is lost to a timer.
		python3 -c "
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(\"/dev/log.new\")
os.chmod(\"/dev/log.new\", 0o666)
os.rename(\"/dev/log.new\", \"/dev/log\")
with open(sys.argv[1], \"ab\", buffering=0) as f:
    while True:
        d = s.recv(65536)
        if d == b\"END\":
            break
        f.write(d + b\"\\n\")
" "$T/syslog" &
		listener=$!
		for i in $(seq 300); do
			[ -S /dev/log ] && break
			kill -0 $listener || exit 98
			sleep 0.1
		done
		rc=0
		"$POP3D" "$@" <"$T/in" >"$T/out" 2>>"$T/log" || rc=$?
		python3 -c "
import socket
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"END\", \"/dev/log\")"
		wait $listener
		exit $rc
	' sh "$@"
}

setup_system() {
	mkdir -p "$T/etc" "$T/pam.d" "$T/spool"
	local hash
	hash=$(openssl passwd -6 -salt rootsalt letmein)
	{
		grep '^root:' /etc/passwd
		echo "alice:x:$ALICE_UID:$ALICE_UID:Alice:$T/home/alice:/bin/sh"
		echo "dave:x:$BOB_UID:$BOB_UID:Dave:/nonexistent:/bin/sh"
	} >"$T/etc/passwd"
	{
		grep '^root:' /etc/shadow
		echo "alice:$hash:19000:0:99999:7:::"
		# An account that expired on 2 January 1970.
		echo "dave:$hash:19000:0:99999:7::1:"
	} >"$T/etc/shadow"
	chmod 640 "$T/etc/shadow"
	{
		grep -E '^(root|mail|shadow):' /etc/group
		echo "alice:x:$ALICE_UID:"
		echo "dave:x:$BOB_UID:"
	} >"$T/etc/group"
	cp /etc/pam.d/common-* /etc/pam.d/other "$T/pam.d/"
	cp "$REPO/pam.d/pop3" "$T/pam.d/pop3"
	chgrp mail "$T/spool"
	chmod 2775 "$T/spool"
	cp "$MBOX" "$T/spool/alice"
	chown "$ALICE_UID:$ALICE_UID" "$T/spool/alice"
	chmod 600 "$T/spool/alice"
}

@test "pam.d/pop3 with the system's pam_unix: login, served from /var/mail, logged to syslog" {
	setup_system
	printf 'USER alice\r\nPASS letmein\r\nSTAT\r\nDELE 2\r\nQUIT\r\n' >"$T/in"
	run in_namespace -d --pam-session
	assert_success
	run tr -d '\r' <"$T/out"
	assert_line --index 2 --regexp '^\+OK alice has 2 messages'
	assert_line --index 5 '+OK bye, 1 messages left'
	run grep -c '^From ' "$T/spool/alice"
	assert_output 1
	# syslog: facility mail (2), so <22> is mail.info; ident pop3d[pid].
	run cat "$T/syslog"
	assert_line --regexp "^<22>.* pop3d\[[0-9]+\]: session=[0-9a-f]{12} login user=alice peer=local method=USER uid=$ALICE_UID gid=$ALICE_UID messages=2 tls=no failures=0$"
	assert_line --regexp '^<22>.* pop3d\[[0-9]+\]: session=[0-9a-f]{12} session end user=alice peer=local retrieved=0/0 deleted=1 end=quit duration=[0-9]+\.[0-9]{3} sent=[0-9]+ top=0$'
	# pam_unix's own session lines, from inside pop3d.
	assert_line --partial 'pam_unix(pop3:session): session opened for user alice'
	assert_line --partial 'pam_unix(pop3:session): session closed for user alice'
	run grep -e letmein "$T/syslog" "$T/log"
	assert_failure
}

@test "pam_unix: a bad password, and an expired account, are refused alike" {
	setup_system
	printf 'USER alice\r\nPASS wrong\r\nUSER dave\r\nPASS letmein\r\nQUIT\r\n' >"$T/in"
	run in_namespace -d
	assert_success
	run tr -d '\r' <"$T/out"
	assert_line --index 2 '-ERR [AUTH] authentication failed'
	assert_line --index 4 '-ERR [AUTH] authentication failed'
	run cat "$T/syslog"
	assert_line --regexp '^<21>.* pop3d\[[0-9]+\]: session=[0-9a-f]{12} login failed user=alice peer=local method=USER reason=bad credentials$'
	assert_line --regexp '^<21>.* pop3d\[[0-9]+\]: session=[0-9a-f]{12} login failed user=dave peer=local method=USER reason=account expired or locked$'
	run grep -e letmein -e wrong "$T/syslog" "$T/log"
	assert_failure
}
