#!/usr/bin/env bats
# Every error path answers -ERR and the session goes on; limits, timeouts,
# end of input, what reaches fd 2, and the command line.

bats_require_minimum_version 1.5.0
load helpers
load transcript

setup() {
	setup_account
	two_messages
}

@test "TRANSACTION commands in AUTHORIZATION and USER/PASS in TRANSACTION: -ERR" {
	transcript <<-EOF
	S~ ^\+OK
	C: STAT
	S: -ERR command not valid in this state
	C: LIST
	S: -ERR command not valid in this state
	C: RETR 1
	S: -ERR command not valid in this state
	C: DELE 1
	S: -ERR command not valid in this state
	C: NOOP
	S: -ERR command not valid in this state
	C: RSET
	S: -ERR command not valid in this state
	C: TOP 1 0
	S: -ERR command not valid in this state
	C: UIDL
	S: -ERR command not valid in this state
	C: PASS secret
	S: -ERR send USER first
	C: USER alice
	S: +OK send the password
	C: PASS secret
	S~ ^\+OK alice has 2 messages
	C: USER alice
	S: -ERR command not valid in this state
	C: PASS secret
	S: -ERR command not valid in this state
	C: STAT
	S: +OK 2 86
	C: QUIT
	S: +OK bye, 2 messages left
	EOF
	[ "$rc" -eq 0 ]
}

@test "unknown commands and missing or extra arguments: -ERR" {
	transcript <<-EOF
	S~ ^\+OK
	C: XYZZY
	S: -ERR unknown command
	C:
	S: -ERR unknown command
	C: USER
	S: -ERR missing argument
	C: USER alice bob
	S: -ERR too many arguments
	C: USER alice
	S: +OK send the password
	C: PASS
	S: -ERR missing argument
	C: PASS secret
	S~ ^\+OK
	C: RETRIEVE 1
	S: -ERR unknown command
	C: RETR
	S: -ERR missing argument
	C: DELE
	S: -ERR missing argument
	C: TOP
	S: -ERR missing argument
	C: TOP 1
	S: -ERR missing argument
	C: TOP 1 2 3
	S: -ERR too many arguments
	C: LIST 1 2
	S: -ERR too many arguments
	C: UIDL 1 2
	S: -ERR too many arguments
	C: RETR 1 2
	S: -ERR too many arguments
	C: STAT 1
	S: -ERR too many arguments
	C: NOOP x
	S: -ERR too many arguments
	C: RSET x
	S: -ERR too many arguments
	C: CAPA x
	S: -ERR too many arguments
	C: QUIT now
	S: -ERR too many arguments
	C: STAT
	S: +OK 2 86
	C: QUIT
	S: +OK bye, 2 messages left
	EOF
	[ "$rc" -eq 0 ]
	cmp "$T/before" "$MBOX"
}

@test "bad message numbers: 0, negative, non-numeric, junk, too big, overflowing, deleted" {
	transcript <<-EOF
	@login
	C: RETR 0
	S: -ERR no such message
	C: RETR -1
	S: -ERR invalid message number
	C: RETR +1
	S: -ERR invalid message number
	C: RETR one
	S: -ERR invalid message number
	C: RETR 1x
	S: -ERR invalid message number
	C: RETR 0x1
	S: -ERR invalid message number
	C: RETR 1.0
	S: -ERR invalid message number
	C: RETR  1
	S: -ERR too many arguments
	C: RETR 3
	S: -ERR no such message
	C: LIST 4294967297
	S: -ERR no such message
	C: LIST 18446744073709551617
	S: -ERR invalid message number
	C: UIDL 99999999999999999999
	S: -ERR invalid message number
	C: DELE 4294967296
	S: -ERR no such message
	C: TOP 1 -1
	S: -ERR invalid line count
	C: TOP 1 x
	S: -ERR invalid line count
	C: TOP 1 99999999999999999999
	S: -ERR invalid line count
	C: TOP 0 1
	S: -ERR no such message
	C: DELE 2
	S: +OK message 2 deleted
	C: DELE 2
	S: -ERR message is deleted
	C: RETR 2
	S: -ERR message is deleted
	C: LIST 2
	S: -ERR message is deleted
	C: UIDL 2
	S: -ERR message is deleted
	C: TOP 2 0
	S: -ERR message is deleted
	C: RSET
	S~ ^\+OK
	C: LIST 2
	S: +OK 2 42
	C: NOOP
	S: +OK
	EOF
	[ "$rc" -eq 1 ]
	cmp "$T/before" "$MBOX"
}

# long N: a command line of N octets before its CRLF.
long() {
	printf 'NOOP '
	printf '%*s' $(($1 - 5)) '' | tr ' ' x
}

@test "a command line over 255 octets gets -ERR and the rest of it is discarded" {
	transcript <<-EOF
	@login
	C: $(long 255)
	S: -ERR too many arguments
	C: $(long 256)
	S: -ERR command line too long
	C: $(long 10000)
	S: -ERR command line too long
	L: $(long 300)
	S: -ERR command line too long
	C: $(long 70000) DELE 1
	S: -ERR command line too long
	C: STAT
	S: +OK 2 86
	C: QUIT
	S: +OK bye, 2 messages left
	EOF
	[ "$rc" -eq 0 ]
	cmp "$T/before" "$MBOX"
}

@test "NUL bytes, control characters and binary junk are refused" {
	transcript <<-EOF
	S~ ^\+OK
	B: US\0ER alice\r\n
	S: -ERR invalid characters in command
	C: USER alice
	S: +OK send the password
	C: PASS secret
	S~ ^\+OK
	B: STAT\0\r\n
	S: -ERR invalid characters in command
	B: \0\0\0\0\r\n
	S: -ERR invalid characters in command
	B: \377\376\375\001\002\r\n
	S: -ERR invalid characters in command
	B: LIST\t1\r\n
	S: -ERR invalid characters in command
	B: RETR 1\r\r\n
	S: -ERR invalid characters in command
	B: DELE \3031\r\n
	S: -ERR invalid characters in command
	B: NOOP\033[2J\r\n
	S: -ERR invalid characters in command
	C: STAT
	S: +OK 2 86
	C: QUIT
	S: +OK bye, 2 messages left
	EOF
	[ "$rc" -eq 0 ]
	cmp "$T/before" "$MBOX"
}

@test "60 consecutive errors after login do not end the session" {
	{
		printf 'USER alice\r\nPASS secret\r\n'
		for i in $(seq 60); do printf 'BOGUS %d\r\n' "$i"; done
		printf 'STAT\r\nQUIT\r\n'
	} | "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" | tr -d '\r' >"$T/out"
	[ "$(grep -c '^-ERR unknown command$' "$T/out")" -eq 60 ]
	tail -n 2 "$T/out" | head -n 1 | grep -qx '+OK 2 86'
}

@test "a client that only sends junk is cut off, after at least 50 errors (3 before login)" {
	{ for i in $(seq 1000); do printf 'BOGUS\r\n'; done; } |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" | tr -d '\r' >"$T/auth" || rc=$?
	{ printf 'USER alice\r\nPASS secret\r\n'; for i in $(seq 1000); do printf 'BOGUS\r\n'; done; } |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" | tr -d '\r' >"$T/trans" || rc=$?
	local before after
	before=$(grep -c '^-ERR unknown command$' "$T/auth")
	after=$(grep -c '^-ERR unknown command$' "$T/trans")
	echo "cut off after $before errors before login, $after after"
	[ "$before" -ge 3 ]
	[ "$before" -lt 1000 ]
	[ "$after" -ge 50 ]
	[ "$after" -lt 1000 ]
	tail -n 1 "$T/auth" | grep -qx -- '-ERR too many errors, closing'
	tail -n 1 "$T/trans" | grep -qx -- '-ERR too many errors, closing'
	cmp "$T/before" "$MBOX"
}

# idle INPUT: runs pop3d -t 1 on INPUT and then silence: its stdin is a FIFO
# that it holds open for writing itself, so no EOF ever comes.  Prints the
# exit status and how long pop3d took, in ms.
idle() {
	mkfifo "$T/fifo"
	local pid start end rc=0
	start=$(date +%s%N)
	"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 1 <>"$T/fifo" >"$T/replies" 2>&1 &
	pid=$!
	printf "$1" >"$T/fifo"
	wait "$pid" || rc=$?
	end=$(date +%s%N)
	echo "$rc $(((end - start) / 1000000))"
}

@test "the idle timeout (-t 1) ends the session in TRANSACTION without UPDATE" {
	read -r rc ms < <(idle 'USER alice\r\nPASS secret\r\nDELE 1\r\n')
	echo "exit $rc after $ms ms"
	[ "$rc" -eq 1 ]
	[ "$ms" -ge 900 ]
	[ "$ms" -lt 5000 ]
	# No reply to the timeout (RFC 1939 section 3); nothing deleted.
	tail -n 1 "$T/replies" | grep -qx $'+OK message 1 deleted\r'
	cmp "$T/before" "$MBOX"
}

@test "the idle timeout (-t 1) ends the session in AUTHORIZATION too" {
	read -r rc ms < <(idle 'USER alice\r\n')
	echo "exit $rc after $ms ms"
	[ "$rc" -eq 1 ]
	[ "$ms" -ge 900 ]
	[ "$ms" -lt 5000 ]
	tail -n 1 "$T/replies" | grep -qx $'+OK send the password\r'
}

@test "EOF in AUTHORIZATION ends the session with status 1" {
	transcript <<-EOF
	S~ ^\+OK
	C: USER alice
	S: +OK send the password
	EOF
	[ "$rc" -eq 1 ]
}

@test "nothing reaches fd 2 without -d, whatever happens" {
	for input in 'USER alice\r\nPASS wrong\r\nUSER bob\r\n' \
		'USER alice\r\nPASS secret\r\nBOGUS\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n' \
		'USER alice\r\nPASS secret\r\nRETR 1\r\n' 'CAPA\r\nQUIT\r\n'; do
		printf "$input" | "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" \
			>"$T/out" 2>"$T/err" || true
		[ -s "$T/out" ]
		[ ! -s "$T/err" ]
	done
	# Nor when the mailbox is refused, or the configuration is.
	echo 'not an mbox' >"$MBOX"
	printf 'USER alice\r\nPASS secret\r\n' | "$POP3D" -a "file:$T/passwd" \
		-m "$T/mail/%u" >"$T/out" 2>"$T/err" || true
	grep -q '^-ERR' "$T/out"
	[ ! -s "$T/err" ]
	# A configuration that cannot work is the exception: it is said where
	# pop3d was started (stderr, when that is not the client's socket).
	run -2 --separate-stderr "$POP3D" -a "file:$T/missing" </dev/null
	assert_output ''
	[[ "$stderr" == "pop3d: password file $T/missing: "* ]]
}

# The client's line when pop3d cannot start.
STARTUP_ERR=$'-ERR [SYS/TEMP] the server is not configured correctly, try later\r'

# startup_cases: "ARGS|what the log says", one a line.
startup_cases() {
	cat <<-EOF
	--bogus|unknown option --bogus (pop3d --help lists the options)
	--tls=starttls|bad --tls: starttls (off, stls or implicit)
	-t 0|bad --timeout: 0 (seconds, 1 to 604800)
	--plaintext=sometimes|bad --plaintext: sometimes (secure, always or never)
	extra|unexpected word "extra": pop3d takes options only
	-m|option -m needs a value
	--tls-cert=/etc/ssl/certs/x.pem|--tls-cert needs --tls=stls or --tls=implicit
	--tls-key=/k.pem|--tls-key needs --tls=stls or --tls=implicit
	--tls=stls --tls-cert=/c.pem|--tls=stls needs --tls-cert and --tls-key (missing: --tls-key)
	--tls=implicit|--tls=implicit needs --tls-cert and --tls-key (missing: both)
	--tls-min=1.3|--tls-min needs --tls=stls or --tls=implicit
	-a file:$T/missing|$T/missing
	EOF
}

@test "startup errors under inetd (fd 2 the client's socket): one -ERR line to the client, the reason to syslog" {
	needs_root_ns "a mount namespace with a /dev/log of the test's own"
	while IFS='|' read -r args says; do
		: >"$T/syslog"
		run with_syslog "$T/syslog" "$BATS_TEST_DIRNAME/over-socket" inetd - -- \
			"$POP3D" -a "file:$T/passwd" $args </dev/null
		echo "$args: $output"
		[ "$status" -eq 2 ]
		# Exactly one short line: no usage text, no log line.
		assert_output "$STARTUP_ERR"
		grep -F "pop3d[" "$T/syslog" | grep -qF -- "$says"
	done < <(startup_cases)
}

@test "startup errors with stderr a file or a pipe: the reason there (and in syslog), nothing on stdout" {
	while IFS='|' read -r args says; do
		run -2 --separate-stderr "$POP3D" -a "file:$T/passwd" $args </dev/null
		assert_output ''
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "pop3d: "*"$says"* ]]
	done < <(startup_cases)
	"$POP3D" --tls=off --bogus 2>&1 </dev/null | grep -qx 'pop3d: unknown option --bogus (pop3d --help lists the options)'
	if [ "$(id -u)" -eq 0 ]; then
		run -2 with_syslog "$T/syslog" "$POP3D" --tls=starttls </dev/null
		grep -q 'pop3d\[[0-9]*\]: session=[0-9a-f]* bad --tls: starttls (off, stls or implicit)$' "$T/syslog"
	fi
	# --help still prints the usage, to stdout.
	run -0 --separate-stderr "$POP3D" --help
	assert_line --index 0 --regexp '^Usage: pop3d'
	[ -z "$stderr" ]
}

@test "-d logs to stderr: logins, failures and the end of the session" {
	printf 'USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS secret\r\nRETR 1\r\nDELE 2\r\nQUIT\r\n' |
		"$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" >"$T/out" 2>"$T/err"
	cat "$T/err"
	grep -q '^pop3d: session=[0-9a-f]* login failed user=alice peer=local method=USER reason=bad credentials$' "$T/err"
	grep -q '^pop3d: session=[0-9a-f]* login user=alice peer=local method=USER .*messages=2 tls=no failures=1$' "$T/err"
	grep -q '^pop3d: session=[0-9a-f]* session end user=alice peer=local retrieved=1/44 deleted=1 end=quit duration=[0-9]*\.[0-9][0-9][0-9] sent=[0-9]* top=0$' "$T/err"
	run -1 grep -q secret "$T/err"
	run -1 grep -q wrong "$T/err"
}

@test "option errors exit with status 2 and print nothing on stdout" {
	for args in '-t 0' '-t -1' '-t abc' '-t 1x' '--timeout=' '--timeout=99999999999' \
		'--plaintext=sometimes' '--auth=ldap' '--auth=file:' '-Z' '--bogus' \
		'extra' '-m'; do
		run -2 "$POP3D" -a "file:$T/passwd" $args </dev/null
		[ -z "$(printf '%s' "$output" | grep '^+OK')" ]
	done
	run "$POP3D" -a "file:$T/passwd" -t abc </dev/null 2>&1
	assert_output --partial 'bad --timeout'
}

@test "-V prints the version, --help every option; both exit 0" {
	run -0 "$POP3D" -V
	assert_output --regexp '^pop3d [0-9]+\.[0-9]+'
	run -0 "$POP3D" --version
	assert_output --regexp '^pop3d [0-9]+\.[0-9]+'
	run -0 "$POP3D" --help
	for o in -m, --mailbox= -a, --auth= -t, --timeout= --plaintext= -d, --debug -V, --version -h, --help; do
		assert_output --partial -- "$o"
	done
	run -0 "$POP3D" -h
	assert_line --index 0 --regexp '^Usage: pop3d'
}

@test "--plaintext=never refuses USER/PASS and CAPA does not offer USER" {
	transcript --plaintext=never <<-EOF
	S~ ^\+OK
	C: USER alice
	S: -ERR [AUTH] Plaintext authentication is not allowed on this connection
	C: PASS secret
	S: -ERR send USER first
	C: CAPA
	S: +OK capability list follows
	...
	EOF
	grep -qx $'TOP\r' "$T/replies"
	run -1 grep -qx $'USER\r' "$T/replies"
}

# over KIND ADDRESS OPTION...: a login and STAT through a socket (tests/over-socket).
over() {
	local kind=$1 addr=$2
	shift 2
	printf 'CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' |
		"$BATS_TEST_DIRNAME/over-socket" "$kind" "$addr" -- "$POP3D" \
		-a "file:$T/passwd" -m "$T/mail/%u" "$@" | tr -d '\r'
}

@test "--plaintext=secure accepts USER/PASS on a pipe, loopback and Unix sockets" {
	run -0 over unix -
	assert_line '+OK 2 86'
	assert_line 'USER'
	run -0 over tcp 127.0.0.1
	assert_line '+OK 2 86'
	run -0 over tcp 127.0.0.1 --plaintext=secure
	assert_line '+OK 2 86'
	if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
		run -0 over tcp ::1
		assert_line '+OK 2 86'
		run -0 over tcp ::ffff:127.0.0.1
		assert_line '+OK 2 86'
	fi
	run -0 over tcp 127.0.0.1 --plaintext=never
	refute_line '+OK 2 86'
	refute_line 'USER'
}

@test "--plaintext=secure refuses USER/PASS from a non-loopback peer; =always accepts it" {
	require_root "for a network namespace with a non-loopback address"
	command -v unshare >/dev/null && command -v ip >/dev/null ||
		skip "needs unshare and ip"
	# A private network namespace: 192.0.2.77 (TEST-NET-1) on its own lo.
	innet() {
		unshare -n sh -c 'ip link set lo up && ip addr add 192.0.2.77/32 dev lo && "$@"' sh "$@"
	}
	run innet "$BATS_TEST_DIRNAME/over-socket" tcp 192.0.2.77 -- "$POP3D" \
		-a "file:$T/passwd" -m "$T/mail/%u" < <(printf 'CAPA\r\nUSER alice\r\nPASS secret\r\nQUIT\r\n')
	assert_success
	assert_line --partial '-ERR [AUTH] Plaintext authentication is not allowed'
	refute_line --regexp '^USER'
	run innet "$BATS_TEST_DIRNAME/over-socket" tcp 192.0.2.77 -- "$POP3D" \
		-a "file:$T/passwd" -m "$T/mail/%u" --plaintext=always < <(printf 'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n')
	assert_success
	assert_line --partial '+OK 2 86'
}
