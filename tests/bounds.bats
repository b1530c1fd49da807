#!/usr/bin/env bats
# Hostile input meets a bound: line length, argument count and size, message
# numbers, TOP counts, mailbox limits, idle timeouts, user names that would
# leave the mail directory, and mailboxes that are not plain files.

bats_require_minimum_version 1.5.0
load helpers
load login

setup() {
	setup_account
	{ msg a@example.org one 'hello'; msg b@example.org two 'line 1\nline 2\nline 3'; } | write_mbox
}

# long N: a string of N 'x'.
long() {
	head -c "$1" /dev/zero | tr '\0' x
}

@test "a command line of 255 octets is read; 256 and 100000 are refused, and the session goes on" {
	run pop "LIST $(head -c 250 /dev/zero | tr '\0' 1)" "LIST $(head -c 251 /dev/zero | tr '\0' 1)" \
		"$(long 100000)" STAT QUIT
	assert_success
	assert_line --index 3 '-ERR invalid message number'
	assert_line --index 4 '-ERR command line too long'
	assert_line --index 5 '-ERR command line too long'
	assert_line --index 6 --regexp '^\+OK 2 [0-9]+$'
}

@test "argument counts: missing and extra arguments are refused" {
	run pop 'LIST 1 2' 'TOP 1' 'TOP 1 2 3' 'RETR' 'DELE 1 1' 'STAT 1' 'UIDL 1 2 3 4 5 6' QUIT
	assert_success
	assert_line --index 3 '-ERR too many arguments'
	assert_line --index 4 '-ERR missing argument'
	assert_line --index 5 '-ERR too many arguments'
	assert_line --index 6 '-ERR missing argument'
	assert_line --index 7 '-ERR too many arguments'
	assert_line --index 8 '-ERR too many arguments'
	assert_line --index 9 '-ERR too many arguments'
	assert_line --index 10 --regexp '^\+OK bye, 2 messages left$'
}

@test "argument size: a user name of 64 octets is taken, 65 refused" {
	run session "USER $(long 64)" "USER $(long 65)" QUIT
	assert_success
	assert_line --index 1 '+OK send the password'
	assert_line --index 2 '-ERR user name too long'
}

@test "message numbers: 0, past the end, past 32 bits, signs, junk and deleted are refused" {
	run pop 'LIST 0' 'LIST 3' 'LIST 4294967297' 'LIST 18446744073709551617' \
		'LIST 99999999999' 'LIST -1' 'LIST +1' 'LIST 1x' 'LIST 0x1' 'LIST ' \
		'DELE 1' 'RETR 1' 'LIST 2' QUIT
	assert_success
	assert_line --index 3 '-ERR no such message'
	assert_line --index 4 '-ERR no such message'
	assert_line --index 5 '-ERR no such message'
	for i in 6 7 8 9 10 11 12; do
		assert_line --index "$i" '-ERR invalid message number'
	done
	assert_line --index 13 '+OK message 1 deleted'
	assert_line --index 14 '-ERR message is deleted'
	assert_line --index 15 --regexp '^\+OK 2 [0-9]+$'
}

@test "TOP line counts: 0, more than the body, 10 digits; negative and 11 digits refused" {
	run pop 'TOP 2 0' 'TOP 2 9999999999' 'TOP 2 -1' 'TOP 2 99999999999' 'TOP 2 1x' QUIT
	assert_success
	# TOP 2 0: the headers and the blank line (which $lines leaves out).
	assert_line --index 3 '+OK top of message follows'
	assert_line --index 4 'From: b@example.org'
	assert_line --index 5 'Subject: two'
	assert_line --index 6 '.'
	# TOP 2 9999999999: all of it.
	assert_line --index 10 'line 1'
	assert_line --index 12 'line 3'
	assert_line --index 13 '.'
	assert_line --index 14 '-ERR invalid line count'
	assert_line --index 15 '-ERR invalid line count'
	assert_line --index 16 '-ERR invalid line count'
}

@test "--max-messages: a mailbox of more messages is refused with [SYS/PERM]" {
	msg c@example.org three 'x' >>"$MBOX"
	POP3D_ARGS=--max-messages=3 run pop STAT QUIT
	assert_success
	assert_line --index 3 --regexp '^\+OK 3 [0-9]+$'
	POP3D_ARGS=--max-messages=2 run session 'USER alice' 'PASS secret' STAT
	assert_failure 1
	assert_line --index 2 '-ERR [SYS/PERM] the mailbox is too large to serve'
	refute_line --regexp '^\+OK 3'
	grep -q "mailbox $MBOX: too large" "$T/log"
}

@test "--max-mailbox-size: a larger mailbox is refused with [SYS/PERM]" {
	local size; size=$(stat -c %s "$MBOX")
	POP3D_ARGS=--max-mailbox-size=$size run pop STAT QUIT
	assert_line --index 3 --regexp '^\+OK 2 '
	POP3D_ARGS=--max-mailbox-size=$((size - 1)) run session 'USER alice' 'PASS secret' STAT
	assert_failure 1
	assert_line --index 2 '-ERR [SYS/PERM] the mailbox is too large to serve'
	grep -q "mailbox $MBOX: too large" "$T/log"
	POP3D_ARGS=--max-mailbox-size=1K run pop STAT QUIT
	assert_line --index 3 --regexp '^\+OK 2 '
}

@test "limits and timeouts refuse values out of range" {
	for bad in --max-messages=0 --max-messages=-1 --max-messages=1x \
		--max-mailbox-size=0 --max-mailbox-size=1T --max-mailbox-size=K \
		--max-mailbox-size=99999999999999G --login-timeout=0 --login-timeout=x \
		--timeout=0; do
		run "$POP3D" -a "file:$T/passwd" "$bad" </dev/null
		assert_failure 2
	done
	run "$POP3D" --help
	assert_output --partial '--max-messages=N'
	assert_output --partial '--max-mailbox-size=BYTES'
	assert_output --partial '--login-timeout=SECONDS'
	assert_output --partial '--apop=FILE'
}

# idle SECONDS ARGS LINES...: sends the lines, then stays silent for SECONDS
# (plus TIME_SLACK_MS) with the connection open; prints the replies, then
# "after N ms" (when pop3d ended, counted from the start).
idle() {
	local wait=$(($1 + ${TIME_SLACK_MS:-0} / 1000)) args=$2 t0
	shift 2
	t0=$(now_ms)
	{ printf '%s\r\n' "$@"; sleep "$wait"; } |
		{ "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -d $args 2>"$T/log" | tr -d '\r'
		  echo "after $(($(now_ms) - t0)) ms"; }
}

# within LINE MS: the "after N ms" line says N < MS (plus TIME_SLACK_MS,
# which slow runs such as valgrind's set).
within() {
	local n=${1#after }
	n=${n% ms}
	(( n < $2 + ${TIME_SLACK_MS:-0} ))
}

@test "the idle timeout ends a silent client before login, without a reply" {
	run idle 3 '-t 1' CAPA
	assert_line --index 1 '+OK capability list follows'
	within "${lines[-1]}" 2500
	assert_equal "${lines[-2]}" '.'
	grep -q 'session end before login peer=local end=timeout' "$T/log"
}

@test "the idle timeout ends a silent client after login, and nothing is deleted" {
	run idle 3 '-t 1' 'USER alice' 'PASS secret' 'DELE 1'
	assert_line --index 3 '+OK message 1 deleted'
	within "${lines[-1]}" 2500
	grep -q 'session end user=alice .*end=timeout' "$T/log"
	run pop STAT QUIT
	assert_line --index 3 --regexp '^\+OK 2 '
}

@test "--login-timeout is shorter before login, and -t applies after it" {
	run idle 3 '-t 3 --login-timeout=1' 'USER alice'
	within "${lines[-1]}" 2500
	grep -q 'end=timeout' "$T/log"
	# Logged in: 2 s of silence is within -t 3.
	{ printf 'USER alice\r\nPASS secret\r\n'; sleep 2; printf 'STAT\r\nQUIT\r\n'; } |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 3 --login-timeout=1 | tr -d '\r' >"$T/out"
	grep -qx '+OK 2 [0-9]*' "$T/out"
	grep -qx '+OK bye, 2 messages left' "$T/out"
}

@test "--login-timeout is never longer than -t" {
	run idle 3 '-t 1 --login-timeout=30' CAPA
	within "${lines[-1]}" 2500
	grep -q 'end=timeout' "$T/log"
}

# drip ARGS CHUNK...: pop3d with ARGS, and a client that sends the CHUNKs
# (printf %b) in turn, over and over, one every 0.5 s, until pop3d ends (or
# is stopped after 20 s); prints the replies, then "status N" (pop3d's, 124
# when it had to be stopped) and "after N ms".
drip() {
	local args=$1 t0
	shift
	t0=$(now_ms)
	{ while :; do for c in "$@"; do printf '%b' "$c" || exit 0; sleep 0.5; done; done; } |
		{ timeout 20 "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -d $args 2>"$T/log" | tr -d '\r'
		  echo "status ${PIPESTATUS[0]}"
		  echo "after $(($(now_ms) - t0)) ms"; }
}

@test "--login-timeout bounds the whole AUTHORIZATION state: bytes or commands every 0.5 s do not extend it" {
	# One byte at a time, never a line end.
	run drip '-t 30 --login-timeout=3' x
	assert_equal "${lines[-2]}" 'status 1'
	within "${lines[-1]}" 6000
	grep -q 'session end before login peer=local end=timeout' "$T/log"
	# Whole commands, failing ones among them (never 10 failures in a row).
	run drip '-t 30 --login-timeout=3' 'NOOP\r\n' 'CAPA\r\n'
	assert_line --index 1 '-ERR command not valid in this state'
	assert_line --index 2 '+OK capability list follows'
	assert_equal "${lines[-2]}" 'status 1'
	within "${lines[-1]}" 6000
	grep -q 'session end before login peer=local end=timeout' "$T/log"
	# Commands as fast as the client can send them: still 3 s.
	t0=$(now_ms)
	run bash -c "yes CAPA | timeout 20 '$POP3D' -a 'file:$T/passwd' -d -t 30 --login-timeout=3 2>'$T/log' >/dev/null"
	assert_failure 1
	(( $(now_ms) - t0 < 6000 + ${TIME_SLACK_MS:-0} ))
	grep -q 'end=timeout' "$T/log"
}

@test "user names with '/', '..', or control characters are refused even with the right password" {
	# The backend knows these names and their password: only the name check
	# stands between them and a mailbox path outside the mail directory.
	local entry; entry=$(sed -n 's/^alice//p' "$T/passwd")
	printf '%s%s\n' '../alice' "$entry" 'a/b' "$entry" '..' "$entry" \
		"$(printf 'al\001ice')" "$entry" "$(printf 'al\033ice')" "$entry" >>"$T/passwd"
	# Three failures end the connection: three names a session.
	run session 'USER ../alice' 'PASS secret' 'USER a/b' 'PASS secret' 'USER ..' 'PASS secret'
	assert_failure 1
	assert_equal "$(grep -c '^-ERR \[AUTH\] authentication failed$' <<<"$output")" 3
	refute_line --regexp '^\+OK .* has'
	run session "AUTH PLAIN $(plain '' $'al\001ice' secret)" \
		"AUTH PLAIN $(plain '' $'al\033ice' secret)" 'QUIT'
	assert_line --index 1 '-ERR [AUTH] authentication failed'
	assert_line --index 2 '-ERR [AUTH] authentication failed'
	refute_line --regexp '^\+OK .* has'
	grep -q 'login failed user=(unknown)' "$T/log"
	# ... and on the USER line a control character is refused outright.
	run session $'USER al\001ice' QUIT
	assert_line --index 1 '-ERR invalid characters in command'
}

# refused_mailbox WHY: logging in is answered -ERR and the log says why.
refused_mailbox() {
	run session 'USER alice' 'PASS secret' STAT
	assert_failure 1
	assert_line --index 2 --regexp '^-ERR \[SYS/(PERM|TEMP)\] cannot open the mailbox$'
	refute_line --regexp '^\+OK [0-9]'
	grep -q "mailbox $MBOX: $1" "$T/log"
}

@test "a mailbox that is a symlink is refused and logged" {
	mv "$MBOX" "$T/real"
	ln -s "$T/real" "$MBOX"
	refused_mailbox 'a symbolic link: pop3d opens only the file itself (point --mailbox at it)$'
}

@test "a mailbox that is a FIFO is refused and logged (and not waited on)" {
	rm "$MBOX"
	mkfifo -m 600 "$MBOX"
	own "$MBOX"
	refused_mailbox 'not a regular file'
}

@test "a mailbox with a second hard link is refused and logged" {
	ln "$MBOX" "$T/mail/copy"
	refused_mailbox "2 hard links: another name could change it behind pop3d's back"
}

@test "a mailbox that is a device is refused and logged" {
	[ "$(id -u)" -eq 0 ] || skip "mknod needs root"
	rm "$MBOX"
	mknod -m 666 "$MBOX" c 1 3
	refused_mailbox 'not a regular file'
}

@test "a mailbox owned by another user is refused and logged" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the mailbox to another uid"
	chmod 666 "$MBOX"
	chown "$((TEST_UID + 1))" "$MBOX"
	refused_mailbox "owned by uid $((TEST_UID + 1)), not by the user (uid $TEST_UID): chown $TEST_UID $MBOX\$"
}

@test "a root-owned mailbox: the log says so and what to change" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the mailbox to root"
	chown 0 "$MBOX"
	refused_mailbox "owned by uid 0 (root), not by the user (uid $TEST_UID): chown $TEST_UID $MBOX\$"
}

@test "a mailbox of mode 000: the log says so and what to change" {
	chmod 000 "$MBOX"
	refused_mailbox "mode 0000: not readable and writable by its owner (chmod 600 $MBOX)\$"
}

@test "a directory on the way the user cannot search: the log names it and what to change" {
	mkdir -p "$T/locked/spool"
	chmod 1777 "$T/locked/spool"
	mv "$MBOX" "$T/locked/spool/alice"
	chmod 0700 "$T/locked"
	[ "$(id -u)" -eq 0 ] || chmod 000 "$T/locked"
	MBOX=$T/locked/spool/alice POP3D_ARGS="-m $T/locked/spool/%u" refused_mailbox \
		"directory $T/locked (mode 0[70]00, uid [0-9]*, gid [0-9]*) cannot be searched by the user (uid [0-9]*): give the user x permission on it (chmod o+x, or a group of the user)$"
	chmod 0755 "$T/locked"
}

@test "a missing mailbox is an empty one; a missing spool directory is -ERR [SYS/PERM] and logged" {
	rm "$MBOX"
	run session 'USER alice' 'PASS secret' STAT QUIT
	assert_success
	assert_line --index 2 '+OK alice has 0 messages (0 octets)'
	POP3D_ARGS="-m $T/nospool/%u" run session 'USER alice' 'PASS secret' STAT
	assert_failure 1
	assert_line --index 2 '-ERR [SYS/PERM] cannot open the mailbox'
	grep -q "mailbox $T/nospool/alice: directory $T/nospool does not exist$" "$T/log"
	# A file where a directory should be.
	: >"$T/file"
	POP3D_ARGS="-m $T/file/%u" run session 'USER alice' 'PASS secret' STAT
	assert_line --index 2 '-ERR [SYS/PERM] cannot open the mailbox'
	grep -q "mailbox $T/file/alice: $T/file is not a directory$" "$T/log"
}

@test "--mailbox and --state-dir patterns are checked at startup: exit 2, the problem named" {
	while IFS='|' read -r opt says; do
		run -2 --separate-stderr "$POP3D" -a "file:$T/passwd" "$opt" </dev/null
		assert_output ''
		[ "$stderr" = "pop3d: $says" ]
	done <<-'EOF'
	--mailbox=/var/mail/%user|bad --mailbox: /var/mail/%user (%user is %u followed by "ser": write %u)
	--mailbox=~/mbox|bad --mailbox: ~/mbox (~ is not expanded: write %h for the home directory)
	--mailbox=mail/%u|bad --mailbox: mail/%u (a relative path: start it with / or %h)
	--mailbox=/var/mail/%s|bad --mailbox: /var/mail/%s (unknown escape %s: %u, %h or %%)
	--mailbox=/var/mail/%d|bad --mailbox: /var/mail/%d (unknown escape %d: %u, %h or %%)
	--mailbox=/var/mail/%|bad --mailbox: /var/mail/% (a % at the end: write %% for a %)
	--state-dir=.pop3d|bad --state-dir: .pop3d (a relative path: start it with /, %h or %d)
	--state-dir=%home/.pop3d|bad --state-dir: %home/.pop3d (%home is %h followed by "ome": write %h)
	--state-dir=%d/%x|bad --state-dir: %d/%x (unknown escape %x: %u, %h, %d or %%)
	--state-dir=~/.pop3d|bad --state-dir: ~/.pop3d (~ is not expanded: write %h for the home directory)
	EOF
	# What is right passes: %h, %d, %% and a fixed path.
	for opt in --mailbox=%h/mbox --mailbox=/var/mail/%u%%x --state-dir=%d/.pop3d-%u --state-dir=/var/lib/pop3d/%u; do
		printf 'QUIT\r\n' | "$POP3D" -a "file:$T/passwd" "$opt" | grep -q '^+OK pop3d ready'
	done
}
