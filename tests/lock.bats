#!/usr/bin/env bats
# Locking as Debian's MDAs do it (fcntl + dotlock), the session lock, mail
# delivered during a session, changes made by others, the state directory.

load helpers
load net

setup() {
	setup_account
	MB="python3 $BATS_TEST_DIRNAME/mbox.py"
	$MB gen "$T/orig" 8
	write_mbox <"$T/orig"
	STATE=$DEFAULT_STATE
}

teardown() {
	stop_server
	exec 4>&- 2>/dev/null || true
	[ -z "${SESSION:-}" ] || kill -9 "$SESSION" 2>/dev/null || true
	if [ -n "${HOLDER:-}" ]; then
		kill -9 "$HOLDER" 2>/dev/null || true
		wait "$HOLDER" 2>/dev/null || true
	fi
}

# A session that stays open: start_session logs in, say sends lines,
# wait_for REGEX waits (5 s at most) for a reply line, end_session quits.
start_session() {
	rm -f "$T/in1"
	mkfifo "$T/in1"
	"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 30 ${POP3D_ARGS:-} \
		<"$T/in1" >"$T/out1" 3>&- &
	SESSION=$!
	exec 4>"$T/in1"
	say 'USER alice' 'PASS secret'
	wait_for '+OK alice has'
}

say() {
	printf '%s\r\n' "$@" >&4
}

wait_for() {
	wait_for_text "$T/out1" "$1"
}

# end_session: QUIT, and wait for the UPDATE; then `run replies`.
end_session() {
	say QUIT
	exec 4>&-
	wait "$SESSION" || true
	SESSION=
}

replies() {
	tr -d '\r' <"$T/out1"
}

@test "a second session is refused with [IN-USE] while the first lives" {
	start_session
	run pop STAT QUIT
	assert_line --index 2 '-ERR [IN-USE] the mailbox is in use by another POP3 session'
	end_session
	run pop STAT QUIT
	assert_line --index 2 --regexp '^\+OK alice has 8 messages'
}

@test "a session killed with SIGKILL does not keep the mailbox locked" {
	start_session
	kill -9 "$SESSION"
	wait "$SESSION" || true
	SESSION=
	run pop STAT QUIT
	assert_line --index 2 --regexp '^\+OK alice has 8 messages'
}

@test "the delivery lock is free during a session: mail arrives and is kept at UPDATE" {
	start_session
	# The MDA takes fcntl + dotlock and appends while the session is open.
	run timeout 10 $MB append "$MBOX" new 3
	assert_output "$(printf 'new-1\nnew-2\nnew-3')"
	say 'STAT' 'RETR 1' 'RETR 8' 'DELE 1' 'DELE 4'
	wait_for 'message 4 deleted'
	end_session
	run replies
	assert_line --index 3 '+OK 8 '"$(stat_octets)"
	refute_output --partial -ERR
	assert_line --index 4 --regexp '^\+OK [0-9]+ octets$'
	assert_output --partial '+OK bye, 6 messages left'
	$MB expect "$T/orig" "$T/want" 1 4
	$MB one new 3 >>"$T/want"
	cmp "$T/want" "$MBOX"
	run pop STAT QUIT
	assert_line --index 2 --regexp '^\+OK alice has 9 messages'
}

# The octets STAT must give for the 8 original messages, counted here.
stat_octets() {
	python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(sum(len(c.rstrip(b"\n").split(b"\n",1)[1]) + c.rstrip(b"\n").count(b"\n") + 1 for c in d.split(b"\n\nFrom ")))' "$T/orig"
}

@test "an MDA delivering all along: every message kept once, byte for byte" {
	start_session
	# 25 deliveries, 40 ms apart, while the client reads and deletes.
	$MB append "$MBOX" mda 25 0.04 >"$T/delivered" 3>&- &
	local mda=$!
	local i
	for i in 1 2 3 4 5 6 7 8; do
		say "RETR $i"
		sleep 0.1
	done
	say 'DELE 2' 'DELE 3' 'DELE 5' 'DELE 8'
	wait_for 'message 8 deleted'
	end_session
	run replies
	refute_output --partial -ERR
	assert_output --partial '+OK bye, 4 messages left'
	wait "$mda"
	[ "$(wc -l <"$T/delivered")" -eq 25 ]
	$MB expect "$T/orig" "$T/want" 2 3 5 8
	$MB one mda 25 >>"$T/want"
	run $MB same "$MBOX" "$T/want"
	assert_success
	run pop STAT QUIT
	assert_line --index 2 --regexp '^\+OK alice has 29 messages'
}

@test "a change to the indexed part: RETR of it and UPDATE refuse, nothing lost" {
	start_session
	# Another program rewrites message 3's subject in place (same size).
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); d = f.read()
i = d.index(b"Subject: m3\n"); f.seek(i + 9); f.write(b"M")' "$MBOX"
	cp "$MBOX" "$T/before"
	say 'RETR 3' 'RETR 2' 'DELE 1'
	wait_for 'message 1 deleted'
	end_session
	run replies
	assert_line --index 3 '-ERR [SYS/TEMP] mailbox changed by another program'
	assert_line --index 4 --regexp '^\+OK [0-9]+ octets$'
	assert_line --index -1 '-ERR [SYS/TEMP] nothing deleted: mailbox changed by another program'
	cmp "$T/before" "$MBOX"
}

@test "a change to a message already read ahead: RETR sends it as scanned, whole; UPDATE refuses" {
	pop 'RETR 3' QUIT | sed -n '4,/^\.$/p' >"$T/want3"
	grep -qx 'Subject: m3' "$T/want3"
	start_session
	# RETR 1 reads the block that holds every message (the mailbox is
	# small); RETR 2 finds the file as scanned after that read.
	say 'RETR 1' 'RETR 2'
	wait_for 'Subject: m2'
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); d = f.read()
i = d.index(b"Subject: m3\n"); f.seek(i + 9); f.write(b"M")' "$MBOX"
	cp "$MBOX" "$T/before"
	say 'RETR 3' 'DELE 1'
	wait_for 'message 1 deleted'
	end_session
	run replies
	# RETR 3 sends what the index describes, from the block read before
	# the change, whole: never a mix of the two files.
	awk 'n == 2; $0 == "." { n++ }' <<<"$output" >"$T/sent3"
	diff "$T/want3" "$T/sent3"
	assert_line --index -1 '-ERR [SYS/TEMP] nothing deleted: mailbox changed by another program'
	cmp "$T/before" "$MBOX"
}

@test "a message moved under the session is not sent in its place" {
	start_session
	# Message 1 removed by someone else: message 2 now starts earlier.
	$MB expect "$T/orig" "$T/shifted" 1
	cat "$T/shifted" >"$MBOX"
	say 'RETR 2' 'RETR 1'
	end_session
	run replies
	assert_line --index 3 '-ERR [SYS/TEMP] mailbox changed by another program'
	assert_line --index 4 '-ERR [SYS/TEMP] mailbox changed by another program'
}

@test "fcntl held by another program: login waits, then -ERR [SYS/TEMP], nothing touched" {
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX); print("held", flush=True); time.sleep(20)' "$MBOX" >"$T/held" 3>&- &
	HOLDER=$!
	while ! grep -q held "$T/held"; do sleep 0.05; done
	cp "$MBOX" "$T/before"
	SECONDS=0
	run pop STAT QUIT
	assert_line --index 2 '-ERR [SYS/TEMP] cannot open the mailbox'
	[ "$SECONDS" -ge 4 ] && [ "$SECONDS" -le 8 ]
	cmp "$T/before" "$MBOX"
}

@test "a live dotlock holds off UPDATE: -ERR, nothing deleted; a dead one is stale" {
	start_session
	sleep 30 3>&- &
	HOLDER=$!
	printf '%s\n' "$HOLDER" >"$MBOX.lock"
	own "$MBOX.lock"
	cp "$MBOX" "$T/before"
	say 'DELE 1'
	end_session
	run replies
	assert_line --index -1 '-ERR [SYS/TEMP] nothing deleted: mailbox locked, try later'
	cmp "$T/before" "$MBOX"
	[ "$(cat "$MBOX.lock")" = "$HOLDER" ]
	kill -9 "$HOLDER"
	wait "$HOLDER" || true
	HOLDER=
	# The holder died: liblockfile (L_PID) sees the lock is stale at once.
	run pop 'DELE 1' QUIT
	assert_line --index -1 '+OK bye, 7 messages left'
	[ ! -e "$MBOX.lock" ]
}

@test "a spool only group mail may write: the setgid dotlockfile helper locks" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to make a spool the user cannot write"
	# LeakSanitizer ptrace()s the process: refused under strace and once
	# --lock-group keeps a saved gid (as in root.bats). No leak check here.
	export ASAN_OPTIONS=$(no_leak_check)
	getent group mail >/dev/null || skip "no group mail"
	mkdir "$T/spool"
	chown root:mail "$T/spool"
	chmod 2775 "$T/spool"
	mv "$MBOX" "$T/spool/alice"
	MBOX=$T/spool/alice
	POP3D_ARGS="-m $T/spool/%u --state-dir=$T/mail/st-%u"
	run pop 'DELE 1' QUIT
	assert_line --index -1 '+OK bye, 7 messages left'
	$MB expect "$T/orig" "$T/want" 1
	cmp "$T/want" "$MBOX"
	[ ! -e "$MBOX.lock" ]
	# The helper made the dotlock; with --lock-group=mail the kept group
	# does, and no helper runs.
	traced_execs() {
		# LeakSanitizer cannot run under ptrace (the ASan build).
		{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@"; } |
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			strace -f -qq -o "$T/execs" -e trace=execve "$POP3D" \
				-a "file:$T/passwd" -t 5 $POP3D_ARGS | tr -d '\r'
	}
	run traced_execs 'DELE 1' QUIT
	assert_line --index -1 '+OK bye, 6 messages left'
	grep -q dotlockfile "$T/execs"
	POP3D_ARGS="$POP3D_ARGS --lock-group=mail"
	run traced_execs 'DELE 1' QUIT
	assert_line --index -1 '+OK bye, 5 messages left'
	! grep -q dotlockfile "$T/execs"
	$MB expect "$T/orig" "$T/want" 1 2 3
	cmp "$T/want" "$MBOX"
	[ ! -e "$MBOX.lock" ]
	# Neither the user nor group mail may write there: no dotlock at all.
	chown root:root "$T/spool"
	chmod 755 "$T/spool"
	cp "$MBOX" "$T/before"
	run pop STAT QUIT
	assert_line --index 2 '-ERR [SYS/TEMP] cannot open the mailbox'
	cmp "$T/before" "$MBOX"
}

# in_fake_dotlockfile CMD...: CMD in a mount namespace of its own, where
# /usr/bin/dotlockfile (liblockfile runs it by that path) is $T/fake
# (tests/exec_fds.c: it notes its fds in $T/mail/fds, then runs the real
# helper, there as $T/real).
in_fake_dotlockfile() {
	unshare --mount sh -c 'mount --bind /usr/bin/dotlockfile "$1" &&
		mount --bind "$2" /usr/bin/dotlockfile && shift 2 && exec "$@"' \
		sh "$T/real" "$T/fake" "$@"
}

@test "a program the session runs (the setgid dotlockfile helper) inherits only fds 0, 1 and 2" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a spool only group mail may write, a mount namespace"
	getent group mail >/dev/null || skip "no group mail"
	[ -x /usr/bin/dotlockfile ] || skip "no /usr/bin/dotlockfile"
	command -v unshare >/dev/null || skip "no unshare (util-linux)"
	mkdir "$T/spool"
	chown root:mail "$T/spool"
	chmod 2775 "$T/spool"
	mv "$MBOX" "$T/spool/alice"
	cc -Wall -Wextra -Werror -DREPORT="\"$T/mail/fds\"" -DREAL="\"$T/real\"" \
		-o "$T/fake" "$BATS_TEST_DIRNAME/exec_fds.c"
	chown root:mail "$T/fake"
	chmod 2755 "$T/fake"
	touch "$T/real"
	args=(-m "$T/spool/%u" --state-dir="$T/mail/st-%u")
	# Without TLS, the session talks on fds 0 and 1.
	run in_fake_dotlockfile "$POP3D" -a "file:$T/passwd" -t 5 "${args[@]}" \
		< <(printf 'USER alice\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n')
	assert_line $'+OK bye, 7 messages left\r'
	# With TLS, through the relay's socketpair: not for the helper either.
	make_pki
	SERVE_AS=in_fake_dotlockfile serve --tls=implicit $TLS_FILES "${args[@]}"
	run s_client <<<$'USER alice\nPASS secret\nDELE 1\nQUIT'
	assert_line '+OK bye, 6 messages left'
	await_sessions 1
	[ "$(grep -c . "$T/mail/fds")" -ge 2 ]
	run grep -vx '0 1 2' "$T/mail/fds"
	assert_output ''
}

@test "state directory: files are private, the journal is gone after UPDATE" {
	POP3D_ARGS="--state-dir=$T/mail/st-%u"
	run pop 'DELE 2' QUIT
	assert_line --index -1 '+OK bye, 7 messages left'
	[ "$(stat -c %a "$T/mail/st-alice")" = 700 ]
	# The session lock and the index cache (cache.h), nothing else.
	run ls -A "$T/mail/st-alice"
	assert_output --regexp '^mbox-index
session-[0-9a-f]+\.lock$'
	[ "$(stat -c %a "$T/mail/st-alice"/session-*)" = 600 ]
	[ "$(stat -c %a "$T/mail/st-alice"/mbox-index)" = 600 ]
}

@test "the default state directory is ~/.pop3d when the home directory is usable" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the account a home of its own"
	mkdir "$T/home"
	own "$T/home"
	sed -i "s|:$T\$|:$T/home|" "$T/passwd"
	run pop 'DELE 1' QUIT
	assert_line --index -1 '+OK bye, 7 messages left'
	[ -d "$T/home/.pop3d" ] && [ ! -e "$T/mail/.pop3d-alice" ] &&
		! ls "$STATE"/session-* 2>/dev/null
	[ "$(stat -c %a "$T/home/.pop3d")" = 700 ]
}

@test "no usable state directory: no DELE that needs a journal, but deleting all works" {
	# One that exists but cannot be used may hold a journal: no login.
	mkdir -m 777 "$T/mail/open"
	POP3D_ARGS="--state-dir=$T/mail/open"	# writable by others: refused
	cp "$MBOX" "$T/before"
	run pop STAT QUIT
	assert_line --index 2 '-ERR [SYS/TEMP] the mailbox cannot be served now, try later'
	# One that does not exist and cannot be made: served without.
	POP3D_ARGS="--state-dir=$T/missing/st-%u"
	run pop 'DELE 1' QUIT
	assert_line --index -1 '-ERR [SYS/TEMP] nothing deleted: cannot update the mailbox now'
	cmp "$T/before" "$MBOX"
	# Two sessions cannot be told apart without it; each one's UPDATE
	# still verifies what it indexed.
	run pop 'DELE 1' 'DELE 2' 'DELE 3' 'DELE 4' 'DELE 5' 'DELE 6' 'DELE 7' 'DELE 8' QUIT
	assert_line --index -1 '+OK bye, 0 messages left'
	[ ! -s "$MBOX" ]
}

@test "a mailbox with two links, or not the user's own, is refused" {
	ln "$MBOX" "$T/mail/other"
	run pop STAT QUIT
	assert_line --index 2 '-ERR [SYS/PERM] cannot open the mailbox'
	rm "$T/mail/other"
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the mailbox away"
	chown "$((TEST_UID + 1))" "$MBOX"
	run pop STAT QUIT
	assert_line --index 2 '-ERR [SYS/PERM] cannot open the mailbox'
}

# pop_log LINE...: pop, with the log in $T/log.
pop_log() {
	{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@"; } |
		"$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" -t 5 ${POP3D_ARGS:-} \
			2>"$T/log" | tr -d '\r'
}

@test "started as root, a home that cannot hold the state directory: root makes one under --state-base; a squat beside the mailbox changes nothing" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: another uid squats, root makes the directory"
	rmdir "$STATE"	# the home ($T, root's) cannot hold ~/.pop3d
	# Another local user takes the name the state directory beside the
	# mailbox had, in the sticky spool.
	setpriv --reuid=$((TEST_UID + 1)) --regid=$((TEST_GID + 1)) --clear-groups \
		mkdir -m 700 "$T/mail/.pop3d-alice"
	POP3D_ARGS="--state-base=$T/lib"
	run pop_log 'DELE 1' QUIT
	assert_line --index -1 '+OK bye, 7 messages left'
	[ "$(stat -c '%u:%g %a %F' "$T/lib")" = "0:0 755 directory" ]
	[ "$(stat -c '%u:%g %a %F' "$T/lib/alice")" = "$TEST_UID:$TEST_GID 700 directory" ]
	ls "$T/lib/alice"/session-*.lock
	# Refused, and logged: not the user's, a symlink, a base others may
	# write (a journal may be in it, or someone else may have put it).
	local how
	for how in owner symlink base; do
		case $how in
		owner) chown "$((TEST_UID + 1))" "$T/lib/alice" ;;
		symlink) mv "$T/lib/alice" "$T/lib/real" &&
			ln -s real "$T/lib/alice" ;;
		base) chmod 775 "$T/lib" ;;
		esac
		run pop_log STAT QUIT
		echo "# $how"
		assert_line --index 2 '-ERR [SYS/TEMP] the mailbox cannot be served now, try later'
		grep -q -e "state directory $T/lib/alice: refused" \
			-e "state-base $T/lib: refused" "$T/log"
		case $how in
		owner) chown "$TEST_UID" "$T/lib/alice" ;;
		symlink) rm "$T/lib/alice" && mv "$T/lib/real" "$T/lib/alice" ;;
		base) chmod 755 "$T/lib" ;;
		esac
	done
	# An explicit --state-dir always wins.
	POP3D_ARGS="--state-base=$T/lib --state-dir=$T/mail/st-%u"
	run pop 'DELE 1' QUIT
	assert_line --index -1 '+OK bye, 6 messages left'
	ls "$T/mail/st-alice"/session-*.lock
	# A home that can hold it: ~/.pop3d, nothing under the base.
	rm -rf "$T/lib"
	mkdir -m 700 "$STATE"
	own "$STATE"
	POP3D_ARGS="--state-base=$T/lib"
	run pop 'DELE 1' QUIT
	assert_line --index -1 '+OK bye, 5 messages left'
	[ ! -e "$T/lib" ]
}

@test "started as an ordinary user, a squatted state directory beside the mailbox: served without, and the log says why" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: another uid squats"
	rmdir "$STATE"
	setpriv --reuid=$((TEST_UID + 1)) --regid=$((TEST_GID + 1)) --clear-groups \
		mkdir -m 700 "$T/mail/.pop3d-alice"
	cp "$T/passwd" "$T/passwd.user"
	chown "$TEST_UID" "$T/passwd.user"
	cp "$MBOX" "$T/before"
	as_alice() {
		{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@"; } |
			setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups \
			"$POP3D" -d -a "file:$T/passwd.user" -m "$T/mail/%u" -t 5 \
			2>"$T/log" | tr -d '\r'
	}
	run as_alice 'DELE 1' QUIT
	assert_line --index 2 --regexp '^\+OK alice has 8 messages'
	assert_line --index -1 '-ERR [SYS/TEMP] nothing deleted: cannot update the mailbox now'
	cmp "$T/before" "$MBOX"
	grep -q "state directory $T/mail/.pop3d-alice: exists but cannot be used: not the user's own" "$T/log"
	grep -q "UPDATE refused: no state directory for its journal ($T/mail/.pop3d-alice: " "$T/log"
	grep -q "UPDATE of $T/mail/alice failed: .* (state directory $T/mail/.pop3d-alice: " "$T/log"
}
