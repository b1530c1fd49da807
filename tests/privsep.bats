#!/usr/bin/env bats
# Privilege separation before login: started as root, the process that reads
# the client before a login has succeeded is unprivileged, chrooted to an
# empty directory and holds nothing but the client and its pipes.  Checked
# through /proc while a client is connected and idle.

load helpers
load net

setup() {
	setup_account
	{ msg a@example.org one 'hello'; msg b@example.org two 'world'; } | write_mbox
	NOBODY_UID=$(getent passwd nobody | cut -d: -f3)
}

teardown() {
	stop_server
	if [ -n "${RUNNER_PID:-}" ]; then
		kill -KILL ${POP3D_PID:-} ${STOPPED_PID:-} 2>/dev/null || true
		wait "$RUNNER_PID" 2>/dev/null || true
	fi
	if [ -n "${CLIENT_PID:-}" ]; then
		kill "$CLIENT_PID" 2>/dev/null || true
		wait "$CLIENT_PID" 2>/dev/null || true
	fi
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root: privilege separation happens only when started as root"
	fi
}

# The processes inspected here must outlive the inspection on a loaded
# machine: the sessions' idle timeout is far above any wait below, and
# every wait is bounded by wall-clock time, not by a count of tries.
SESSION_TIMEOUT=300
WAIT_SECONDS=60

# poll CMD...: runs CMD every 0.1 s until it succeeds, for at most
# WAIT_SECONDS.
poll() {
	local end=$((SECONDS + WAIT_SECONDS))
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# await_child PID: the first child of PID, once it has one.
first_child() {
	local c
	c=$(children "$1")
	[ -n "$c" ] && echo "${c%%$'\n'*}"
}
await_child() {
	poll first_child "$1"
}

# await_pop3d_child PID: the first child of pop3d's process PID, once PID
# runs pop3d (or valgrind running it).  Until then PID may still be the
# shell of tests/valgrind-pop3d, whose command substitution is a child that
# is gone a moment later.
runs_program() {
	case $(readlink "/proc/$1/exe" 2>/dev/null) in
	'' | */sh | */dash | */bash) return 1 ;;
	esac
}
await_pop3d_child() {
	poll runs_program "$1" && await_child "$1"
}

# uids PID: real, effective, saved and fs uid of PID; "gone" (and failure)
# when PID has exited.  The file is read once: a process may exit between
# any two reads.
uids() {
	local status
	if ! status=$(cat "/proc/$1/status" 2>/dev/null) || [ -z "$status" ]; then
		echo gone
		return 1
	fi
	awk '/^Uid:/ { print $2, $3, $4, $5 }' <<<"$status"
}

# fd_targets PID: where each open fd of PID points, one a line.
fd_targets() {
	local f
	for f in /proc/"$1"/fd/*; do
		readlink "$f"
	done
}

# await_uid PID UID: waits until PID runs as UID.
runs_as() {
	[ "$(uids "$1")" = "$2 $2 $2 $2" ]
}
await_uid() {
	poll runs_as "$1" "$2"
}

# exited PID: PID is gone or a zombie.
exited() {
	local state
	state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$state" ] || [ "$state" = Z ]
}

@test "pre-login process: unprivileged, chrooted, no files; the socket goes to the user after login" {
	[ -z "${VALGRIND_LOGS:-}" ] || skip "under valgrind: /proc shows valgrind's process and files, not pop3d's alone"
	need_root
	SERVE_LOG= serve --login-chroot="$T/empty" -t "$SESSION_TIMEOUT"	# no -d: fd 2 is /dev/null
	mkfifo "$T/to_server"
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat <'$T/to_server' >&3 & tr -d '\r' <&3" >"$T/client.out" &
	CLIENT_PID=$!
	exec 4>"$T/to_server"
	root_pid=$(await_child "$SERVER_PID")
	login_pid=$(await_pop3d_child "$root_pid")
	# The client is connected and has sent nothing.
	[ "$(uids "$root_pid")" = "0 0 0 0" ]
	[ "$(uids "$login_pid")" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ]
	[ "$(readlink "/proc/$login_pid/root")" = "$T/empty" ]
	[ "$(stat -c '%U %a' "$T/empty")" = "root 755" ]
	[ -z "$(ls -A "$T/empty")" ]
	run fd_targets "$login_pid"
	assert_success
	others=$(fd_targets "$login_pid" | grep -v -e '^socket:' -e '^pipe:' -e '^/dev/null$' || true)
	assert_equal "$others" ""	# no file, no directory, no mailbox
	assert_line --regexp '^socket:'	# the client
	assert_line --regexp '^pipe:'	# to and from the root parent
	# It may not fork, and never dumps core.
	grep -Eq '^Max processes +0 +0 ' "/proc/$login_pid/limits"
	grep -Eq '^Max core file size +0 +0 ' "/proc/$login_pid/limits"
	# Log in: the root parent becomes alice and serves the socket itself.
	printf 'USER alice\r\nPASS secret\r\n' >&4
	await_uid "$root_pid" "$TEST_UID"
	printf 'STAT\r\nQUIT\r\n' >&4
	exec 4>&-
	wait "$CLIENT_PID"
	CLIENT_PID=
	run cat "$T/client.out"
	assert_line --index 0 '+OK pop3d ready'
	assert_line --index 2 --regexp '^\+OK alice has 2 messages'
	assert_line --index 3 --regexp '^\+OK 2 [0-9]+$'
	assert_line --index 4 --regexp '^\+OK bye'
	# The login process ended with the login.
	poll exited "$login_pid"
}

@test "with TLS the login process owns the TLS session and stays as the relay" {
	need_root
	make_pki
	serve --tls=implicit $TLS_FILES --login-chroot="$T/empty" -t "$SESSION_TIMEOUT"
	mkfifo "$T/to_server"
	S_CLIENT_TIMEOUT=$SESSION_TIMEOUT s_client <"$T/to_server" >"$T/client.out" &
	CLIENT_PID=$!
	exec 4>"$T/to_server"
	root_pid=$(await_child "$SERVER_PID")
	login_pid=$(await_pop3d_child "$root_pid")
	poll grep -q 'TLS established' "$T/server.log"
	assert_equal "$(uids "$login_pid")" "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID"
	assert_equal "$(readlink "/proc/$login_pid/root")" "$T/empty"
	tcp=$(readlink "/proc/$root_pid/fd/0")
	printf 'USER alice\nPASS secret\n' >&4
	await_uid "$root_pid" "$TEST_UID"
	# alice's process talks to the relay only: the TCP socket is gone.
	run fd_targets "$root_pid"
	refute_line "$tcp"
	assert_equal "$(readlink "/proc/$root_pid/fd/0")" /dev/null
	# The relay is still the unprivileged, chrooted login process.
	assert_equal "$(uids "$login_pid")" "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID"
	run fd_targets "$login_pid"
	assert_line "$tcp"
	printf 'RETR 2\nQUIT\n' >&4
	exec 4>&-
	wait "$CLIENT_PID"
	CLIENT_PID=
	run cat "$T/client.out"
	assert_line --regexp '^\+OK alice has 2 messages'
	assert_line 'world'
	assert_line --regexp '^\+OK bye'
}

@test "failed logins: throttled by the root parent, and pipelined input survives" {
	start=$(date +%s%N)
	run pop_raw <<<$'USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n'
	elapsed=$((($(date +%s%N) - start) / 1000000))
	assert_line --index 2 $'-ERR [AUTH] authentication failed\r'
	assert_line --index 4 --regexp '^\+OK alice has 2 messages'
	assert_line --index 5 --regexp '^\+OK 2 [0-9]+'
	[ "$elapsed" -ge 900 ]
	start=$(date +%s%N)
	run pop_raw <<<$'USER alice\r\nPASS a\r\nUSER alice\r\nPASS b\r\nUSER alice\r\nPASS c\r\nUSER alice\r\nPASS secret\r\n'
	elapsed=$((($(date +%s%N) - start) / 1000000))
	assert_failure
	[ "$(grep -c 'ERR \[AUTH\] authentication failed' <<<"$output")" -eq 3 ]
	refute_output --partial 'alice has'
	[ "$elapsed" -ge 2700 ]
}

@test "failed login then success over TLS (STLS), with the relay" {
	make_pki
	serve --tls=stls $TLS_FILES
	run s_client -starttls pop3 <<<$'USER alice\nPASS wrong\nUSER alice\nPASS secret\nLIST\nQUIT'
	assert_line --index 1 '-ERR [AUTH] authentication failed'
	assert_line --index 3 --regexp '^\+OK alice has 2 messages'
	assert_line --index 4 --regexp '^\+OK'
	assert_line --index 5 --regexp '^1 [0-9]+$'
	assert_line --regexp '^\+OK bye'
}

@test "--login-chroot: made when missing; refused when others may write it" {
	need_root
	POP3D_ARGS="--login-chroot=$T/run/pop3d/empty" run pop STAT QUIT
	assert_line --index 2 --regexp '^\+OK alice has 2 messages'
	[ "$(stat -c '%U %a' "$T/run/pop3d/empty")" = "root 755" ]
	[ "$(stat -c '%U %a' "$T/run/pop3d")" = "root 755" ]
	chmod 775 "$T/run/pop3d/empty"
	POP3D_ARGS="--login-chroot=$T/run/pop3d/empty -d" run pop_raw <<<$'QUIT\r'
	assert_failure
	assert_output --partial 'writable only by root'
	refute_output --partial '+OK'
}

@test "--login-user: must exist and must not be root" {
	need_root
	POP3D_ARGS="--login-user=no-such-user-here -d" run pop_raw <<<$'QUIT\r'
	assert_failure
	assert_output --partial 'no such account'
	POP3D_ARGS="--login-user=root -d" run pop_raw <<<$'QUIT\r'
	assert_failure
	assert_output --partial 'refused: it is root'
}

@test "started as an ordinary user: no separation, and the log says so" {
	if [ "$(id -u)" -eq 0 ]; then
		cp "$T/passwd" "$T/passwd.user"
		chown 40124 "$T/passwd.user"
		sh=(setpriv --reuid=40124 --regid=40124 --clear-groups)
	else
		cp "$T/passwd" "$T/passwd.user"
		sh=()
	fi
	run "${sh[@]}" "$POP3D" -a "file:$T/passwd.user" -d <<<$'QUIT\r'
	assert_success
	assert_output --partial 'not started as root: no privilege separation before login'
}

# session_ids FILE: the distinct session= values of the pop3d lines in FILE.
session_ids() {
	grep -o '^pop3d: session=[0-9a-f]* ' "$1" | sort -u
}

@test "log: one session=ID on every line of a session, from the login process, the root parent and the user's process" {
	need_root
	make_pki
	serve --tls=stls $TLS_FILES
	run s_client -starttls pop3 <<<$'USER alice\nPASS wrong\nUSER alice\nPASS secret\nQUIT'
	assert_line --regexp '^\+OK bye'
	wait_for_text "$T/server.log" 'session end user=alice'
	grep '^pop3d: ' "$T/server.log" >"$T/lines"
	# Every line has the field, and all carry the same value: the login
	# process (the TLS handshake), the root parent (the failed login) and
	# the user's process (login, session end).
	run grep -v -E '^pop3d: session=[0-9a-f]{12} ' "$T/lines"
	assert_output ''
	run session_ids "$T/lines"
	assert_equal "${#lines[@]}" 1
	id=${lines[0]}
	grep -q "^${id}TLS established: " "$T/lines"
	grep -q "^${id}login failed user=alice " "$T/lines"
	grep -q "^${id}login user=alice .* tls=TLSv1\.[23]/[A-Z0-9_-]* failures=1$" "$T/lines"
	grep -q "^${id}session end user=alice " "$T/lines"
	# A second connection is another session.
	run s_client -starttls pop3 <<<$'USER alice\nPASS secret\nQUIT'
	wait_for_text "$T/server.log" 'session end user=alice'
	for i in $(seq 50); do
		[ "$(grep -c 'session end user=alice' "$T/server.log")" -eq 2 ] && break
		sleep 0.1
	done
	grep '^pop3d: ' "$T/server.log" >"$T/lines"
	run session_ids "$T/lines"
	assert_equal "${#lines[@]}" 2
}

# forge WHAT: a login process that hands the root parent a forged record
# (tests/privsep_forge.c, built from pop3d's own privsep.c); prints what the
# parent made of it.  Bounded: a parent that waits for ever fails.
forge() {
	local src=$BATS_TEST_DIRNAME/.. san=
	case $POP3D in */build-san/*) san="-fsanitize=address,undefined -g" ;; esac
	[ -x "$T/forge" ] || cc -std=c17 -D_DEFAULT_SOURCE -I"$src" $san -o "$T/forge" \
		"$src/tests/privsep_forge.c" "$src/privsep.c" "$src/io.c" "$src/tls.c" "$src/dynload.c" \
		"$src/fdio.c" \
		"$src/proxy.c" "$src/addr.c" \
		"$src/log.c" -lssl -lcrypto
	timeout 10 "$T/forge" "$1" "$T/empty" </dev/null 2>>"$T/log"
}

@test "a forged login record is refused, and the login process ended: no deadlock" {
	need_root
	# The control: an honest record is accepted.
	run forge good
	assert_output --partial accepted
	# A method this connection does not offer (APOP is off; plaintext is
	# off), a method that does not exist, a name without its NUL.
	for what in apop plaintext method user; do
		run forge "$what"
		assert_success	# not 124: the parent did not wait for ever
		assert_output --partial refused
		refute_output --partial accepted
	done
	[ "$(grep -c 'malformed login record: killed' "$T/log")" -eq 4 ]
}

@test "the root parent ends a login process that outlives the login deadline (SIGSTOP)" {
	need_root
	mkfifo "$T/in"
	{ "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -d -t 30 --login-timeout=3 \
		--login-chroot="$T/empty" <"$T/in" >"$T/out" 2>"$T/log" || true
	  date +%s%N >"$T/ended"; } &
	RUNNER_PID=$!
	exec 4>"$T/in"
	POP3D_PID=$(await_child "$RUNNER_PID")
	STOPPED_PID=$(await_pop3d_child "$POP3D_PID")
	kill -STOP "$STOPPED_PID"
	# The deadline runs from before the login process was forked: the
	# parent ends within 3 s of now plus its grace (2 s), whatever the
	# login process does; 15 s at most here, so that the test cannot hang.
	t0=$(date +%s%N)
	for i in $(seq 150); do
		[ -s "$T/ended" ] && break
		sleep 0.1
	done
	exec 4>&-
	[ -s "$T/ended" ]
	elapsed=$((($(cat "$T/ended") - t0) / 1000000))
	echo "ended after $elapsed ms"
	(( elapsed < 6000 + ${TIME_SLACK_MS:-0} ))
	# ... and the login process with it (pop3d reaped it: no such pid).
	run kill -0 "$STOPPED_PID"
	assert_failure
	grep -q 'login process: no login by the deadline (--login-timeout): killed' "$T/log"
	grep -q 'session end before login peer=local end=timeout' "$T/log"
}
