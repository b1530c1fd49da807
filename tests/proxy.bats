#!/usr/bin/env bats
# The PROXY protocol (HAProxy's doc/proxy-protocol.txt, v1 and v2) from a
# balancer in --proxy-trusted: read before the greeting (and before the TLS
# handshake), the client's address then the peer; anything else from a
# trusted peer closes the connection without a greeting, and a header from
# a peer not trusted is refused.  pop3d runs on a pipe whose peer is
# TCPREMOTEIP, on a real loopback socket (over-socket) and under tcpserver.

load helpers
load net
load cwrap

setup_file() {
	cwrap_build_module
}

setup() {
	setup_account
	{ msg a@example.org one 'hello'; msg b@example.org two 'world'; } | write_mbox
}

teardown() {
	stop_server
	if [ -n "${HOLDER_PID:-}" ]; then
		kill "$HOLDER_PID" 2>/dev/null || true
		wait "$HOLDER_PID" 2>/dev/null || true
	fi
}

# The v2 signature, and v2 headers (printf formats): PROXY TCP over IPv4
# from 192.0.2.7:4000 to 127.0.0.1:110; over IPv6 from 2001:db8::7 to ::1;
# LOCAL; PROXY with an UNSPEC family.
SIG='\r\n\r\n\x00\r\nQUIT\n'
V2_TCP4="$SIG"'\x21\x11\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x0f\xa0\x00\x6e'
V2_TCP6="$SIG"'\x21\x21\x00\x24\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x0f\xa0\x00\x6e'
V2_LOCAL="$SIG"'\x20\x00\x00\x00'
V2_UNSPEC="$SIG"'\x21\x00\x00\x00'

# proxied HEADER LINE...: HEADER (a printf format) and the lines (CRLF
# added) to pop3d on a pipe whose peer is $REMOTE (TCPREMOTEIP, default
# 127.0.0.1), with -d and POP3D_ARGS; replies printed without CRs, the log
# in $T/log, pop3d's exit status in $T/status.
proxied() {
	local h=$1 rc=0
	shift
	{ printf "$h"; [ $# -eq 0 ] || printf '%s\r\n' "$@"; } >"$T/in"
	TCPREMOTEIP=${REMOTE:-127.0.0.1} timeout 60 "$POP3D" -a "file:$T/passwd" \
		-m "$T/mail/%u" -t 5 -d ${POP3D_ARGS:-} <"$T/in" >"$T/out" \
		2>"$T/log" || rc=$?
	echo "$rc" >"$T/status"
	tr -d '\r' <"$T/out"
}

LOGIN=('USER alice' 'PASS secret' STAT QUIT)

# refused REASON: the connection ended without a byte to the client, and
# the log says why, naming the balancer.
refused() {
	assert_output ''
	[ "$(cat "$T/status")" = 1 ]
	run grep -c "^pop3d: session=[0-9a-f]* PROXY header refused peer=127.0.0.1 reason=$1" "$T/log"
	assert_output 1
	run grep -c '^pop3d: session=[0-9a-f]* session end before login peer=127.0.0.1 end=no valid proxy header$' "$T/log"
	assert_output 1
}

@test "v1 TCP4 and TCP6: the client's address is the peer in every log line" {
	POP3D_ARGS="--proxy-trusted=127.0.0.1 --plaintext=always" \
		run proxied 'PROXY TCP4 192.0.2.7 127.0.0.1 4000 110\r\n' \
		'USER alice' 'PASS wrong' "${LOGIN[@]}"
	assert_line --index 0 '+OK pop3d ready'
	assert_line '-ERR [AUTH] authentication failed'
	assert_line --regexp '^\+OK 2 [0-9]+$'
	run grep -c 'peer=' "$T/log"
	assert_output 3
	run grep -c -e '^pop3d: session=[0-9a-f]* login failed user=alice peer=192.0.2.7 method=USER ' \
		-e '^pop3d: session=[0-9a-f]* login user=alice peer=192.0.2.7 method=USER ' \
		-e '^pop3d: session=[0-9a-f]* session end user=alice peer=192.0.2.7 ' "$T/log"
	assert_output 3
	POP3D_ARGS="--proxy-trusted=127.0.0.0/8,::1 --plaintext=always" \
		run proxied 'PROXY TCP6 2001:DB8:0::7 ::1 65535 110\r\n' "${LOGIN[@]}"
	assert_line --regexp '^\+OK 2 [0-9]+$'
	run grep -c '^pop3d: session=[0-9a-f]* login user=alice peer=2001:db8::7 ' "$T/log"
	assert_output 1
}

@test "v1 UNKNOWN: the balancer stays the peer, and the client is not local" {
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied \
		'PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n' CAPA "${LOGIN[@]}"
	assert_line --index 0 '+OK pop3d ready'
	refute_line USER
	assert_line '-ERR [AUTH] Plaintext authentication is not allowed on this connection'
	run grep -c '^pop3d: session=[0-9a-f]* session end before login peer=127.0.0.1 end=quit$' "$T/log"
	assert_output 1
	run grep -e ffff "$T/log"
	assert_failure
}

@test "v2 over IPv4 and IPv6, with TLVs skipped; UNSPEC keeps the balancer" {
	POP3D_ARGS="--proxy-trusted=127.0.0.1 --plaintext=always" \
		run proxied "$V2_TCP4" "${LOGIN[@]}"
	assert_line --index 0 '+OK pop3d ready'
	assert_line --regexp '^\+OK 2 [0-9]+$'
	run grep -c '^pop3d: session=[0-9a-f]* login user=alice peer=192.0.2.7 ' "$T/log"
	assert_output 1
	POP3D_ARGS="--proxy-trusted=127.0.0.1 --plaintext=always" \
		run proxied "$V2_TCP6" "${LOGIN[@]}"
	assert_line --regexp '^\+OK 2 [0-9]+$'
	run grep -c '^pop3d: session=[0-9a-f]* login user=alice peer=2001:db8::7 ' "$T/log"
	assert_output 1
	# The same IPv4 header with a NOOP TLV (3 bytes) and a unique ID (5).
	local tlvs="$SIG"'\x21\x11\x00\x1a\xc0\x00\x02\x08\x7f\x00\x00\x01\x0f\xa0\x00\x6e\x04\x00\x03abc\x05\x00\x05\x00\x01\x02\x03\x04'
	POP3D_ARGS="--proxy-trusted=127.0.0.1 --plaintext=always" \
		run proxied "$tlvs" "${LOGIN[@]}"
	assert_line --regexp '^\+OK 2 [0-9]+$'
	run grep -c '^pop3d: session=[0-9a-f]* login user=alice peer=192.0.2.8 ' "$T/log"
	assert_output 1
	POP3D_ARGS="--proxy-trusted=127.0.0.1 --plaintext=always" \
		run proxied "$V2_UNSPEC" "${LOGIN[@]}"
	assert_line --regexp '^\+OK 2 [0-9]+$'
	run grep -c '^pop3d: session=[0-9a-f]* login user=alice peer=127.0.0.1 ' "$T/log"
	assert_output 1
}

@test "v2 LOCAL (a health check): no greeting, only a debug line" {
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied "$V2_LOCAL" "${LOGIN[@]}"
	assert_output ''
	[ "$(cat "$T/status")" = 1 ]
	# -d writes every priority; syslog gets this one at LOG_DEBUG.
	run grep -v 'not started as root' "$T/log"
	assert_output --regexp '^pop3d: session=[0-9a-f]{12} session end before login peer=127.0.0.1 end=proxy health check$'
}

@test "a trusted peer without a header: closed without a greeting" {
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied '' "${LOGIN[@]}"
	refused 'no PROXY header: the connection did not start with one$'
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied ''
	refused 'no PROXY header'
}

@test "malformed headers: closed without a greeting, the log says what is wrong" {
	local h
	for h in 'PROXY TCP4 192.0.2.07 127.0.0.1 4000 110\r\n' \
		'PROXY TCP4 192.0.2.7 127.0.0.1 04000 110\r\n' \
		'PROXY TCP4 192.0.2.7 127.0.0.1 65536 110\r\n' \
		'PROXY TCP4 192.0.2.7  127.0.0.1 4000 110\r\n' \
		'PROXY TCP4 2001:db8::7 ::1 4000 110\r\n' \
		'PROXY TCP5 192.0.2.7 127.0.0.1 4000 110\r\n' \
		'PROXY TCP4 192.0.2.7 127.0.0.1 4000 110\n' \
		'PROXY TCP4 192.0.2.7\r127.0.0.1 4000 110\r\n' \
		"$SIG"'\x11\x11\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x0f\xa0\x00\x6e' \
		"$SIG"'\x22\x11\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x0f\xa0\x00\x6e' \
		"$SIG"'\x21\x41\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x0f\xa0\x00\x6e' \
		"$SIG"'\x21\x11\x00\x08\xc0\x00\x02\x07\x7f\x00\x00\x01' \
		"$SIG"'\x21\x11\x00\x0e\xc0\x00\x02\x07\x7f\x00\x00\x01\x0f\xa0\x00\x6e\x04\x00'; do
		POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied "$h" "${LOGIN[@]}"
		refused 'malformed PROXY header: '
	done
	run grep -e 192.0.2 "$T/log"
	assert_failure
}

@test "truncated and too long headers: closed without a greeting" {
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied 'PROXY TCP4 192.0.2.7 127.0.0.1'
	refused 'PROXY header cut short by the end of the connection$'
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied "$SIG"'\x21\x11\x00\x0c\xc0\x00\x02'
	refused 'PROXY header cut short'
	# v1: 107 bytes at most, CRLF included (108 here).
	local long="PROXY UNKNOWN $(printf '%091d' 0)"
	[ "${#long}" -eq 105 ]
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied "$long"'x\r\n' "${LOGIN[@]}"
	refused 'PROXY header too long$'
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied "$long"'\r\n' "${LOGIN[@]}"
	assert_line --index 0 '+OK pop3d ready'
	# v2: 2048 bytes after the fixed 16 at most.
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied "$SIG"'\x21\x11\x08\x01' "${LOGIN[@]}"
	refused 'PROXY header too long$'
}

@test "a late header: closed at the deadline (the login timeout, 5 s at most)" {
	mkfifo "$T/fifo"
	# The balancer sends half a header and then nothing, the connection
	# still open.
	{ printf 'PROXY TCP4 '; exec sleep 30; } >"$T/fifo" &
	HOLDER_PID=$!
	local t0 t1
	t0=$(date +%s)
	run env TCPREMOTEIP=127.0.0.1 timeout 20 "$POP3D" -a "file:$T/passwd" \
		-m "$T/mail/%u" -d --proxy-trusted=127.0.0.1 --login-timeout=1 <"$T/fifo"
	t1=$(date +%s)
	assert_failure 1
	assert_line --regexp '^pop3d: session=[0-9a-f]{12} PROXY header refused peer=127.0.0.1 reason=no complete PROXY header in time$'
	assert_line --regexp '^pop3d: session=[0-9a-f]{12} session end before login peer=127.0.0.1 end=no valid proxy header$'
	refute_line --partial '+OK'
	# Well before the balancer's 30 s, even under valgrind on a busy host.
	[ $((t1 - t0)) -lt 25 ]
}

@test "a header from a peer not trusted is refused, and its address is not used" {
	local args
	for args in '' --proxy-trusted=10.0.0.0/8,::1/128; do
		POP3D_ARGS="$args" run proxied 'PROXY TCP4 192.0.2.99 127.0.0.1 4000 110\r\n' \
			"${LOGIN[@]}"
		assert_output "+OK pop3d ready
-ERR unexpected PROXY protocol header"
		[ "$(cat "$T/status")" = 1 ]
		run grep -v 'not started as root' "$T/log"
		assert_output --regexp '^pop3d: session=[0-9a-f]{12} session end before login peer=127.0.0.1 end=proxy header from an untrusted peer$'
		POP3D_ARGS="$args" run proxied "$V2_TCP4" "${LOGIN[@]}"
		assert_output "+OK pop3d ready
-ERR unexpected PROXY protocol header"
		run grep -v 'not started as root' "$T/log"
		assert_output --regexp '^pop3d: session=[0-9a-f]{12} session end before login peer=127.0.0.1 end=proxy header from an untrusted peer$'
	done
	# Not trusted, served as without the option.
	POP3D_ARGS=--proxy-trusted=10.0.0.0/8 run proxied '' "${LOGIN[@]}"
	assert_line --regexp '^\+OK 2 [0-9]+$'
	# A second header from a trusted peer is no better.
	POP3D_ARGS=--proxy-trusted=127.0.0.1 run proxied "$V2_TCP4"'PROXY TCP4 192.0.2.99 127.0.0.1 1 2\r\n'
	assert_output "+OK pop3d ready
-ERR unexpected PROXY protocol header"
	run grep -e 192.0.2.99 "$T/log"
	assert_failure
}

@test "--plaintext=secure behind a balancer: the client must be on loopback too" {
	# A real loopback socket: the balancer's side of the line is safe.
	over() {
		{ printf "$1"; printf 'CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n'; } |
			"$BATS_TEST_DIRNAME/over-socket" tcp 127.0.0.1 -- "$POP3D" \
			-a "file:$T/passwd" -m "$T/mail/%u" --proxy-trusted=127.0.0.0/8 |
			tr -d '\r'
	}
	run over 'PROXY TCP4 127.0.0.9 127.0.0.1 4000 110\r\n'
	assert_line 'USER'
	assert_line --regexp '^\+OK 2 [0-9]+$'
	run over 'PROXY TCP4 192.0.2.7 127.0.0.1 4000 110\r\n'
	refute_line 'USER'
	assert_line '-ERR [AUTH] Plaintext authentication is not allowed on this connection'
	refute_line --regexp '^\+OK 2 [0-9]+$'
}

@test "a dual-stack socket's IPv4-mapped peer is in an IPv4 network, and in IPv6 ones" {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::ffff:127.0.0.1", 0))' 2>/dev/null ||
		skip "no IPv6 sockets here"
	local nets
	for nets in 127.0.0.0/8 ::ffff:127.0.0.0/104 ::/8; do
		run "$BATS_TEST_DIRNAME/over-socket" tcp ::ffff:127.0.0.1 -- "$POP3D" \
			-a "file:$T/passwd" -m "$T/mail/%u" --proxy-trusted="$nets" --plaintext=always \
			< <(printf 'PROXY TCP4 192.0.2.7 127.0.0.1 4000 110\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n')
		assert_success
		assert_line --regexp '^\+OK 2 [0-9]+.$'
	done
	run "$BATS_TEST_DIRNAME/over-socket" tcp ::ffff:127.0.0.1 -- "$POP3D" \
		-a "file:$T/passwd" -m "$T/mail/%u" --proxy-trusted=10.0.0.0/8,::1 \
		< <(printf 'PROXY TCP4 192.0.2.7 127.0.0.1 4000 110\r\nQUIT\r\n')
	assert_line $'-ERR unexpected PROXY protocol header\r'
}

@test "--proxy-trusted: bad values are an option error naming the form" {
	local v
	for v in '' 10.0.0.0/33 10.0.0.1/ 10.0.0.0/08 ::1/129 host.example \
		010.0.0.1 '10.0.0.1,' ',10.0.0.1' '10.0.0.1 ' 10.0.0.1/8/8 \
		"$(printf '10.0.0.%d,' $(seq 33))10.0.0.99"; do
		run "$POP3D" --proxy-trusted="$v" --help
		assert_failure 2
		assert_output --partial "pop3d: bad --proxy-trusted: $v (want ADDR[/BITS][,ADDR[/BITS]]..."
	done
	run "$POP3D" --proxy-trusted=10.0.0.0/8,192.0.2.1,2001:db8::/32,::ffff:127.0.0.1/128,0.0.0.0/0 --help
	assert_success
}

@test "PAM_RHOST is the client's address" {
	cwrap_setup
	msg a@example.org one 'hello' >"$MBOX"
	chmod 600 "$MBOX"
	own_as "$ALICE_UID" "$MBOX"
	{ printf 'PROXY TCP4 192.0.2.7 127.0.0.1 4000 110\r\n'
	  printf 'USER alice\r\nPASS secret\r\nQUIT\r\n'; } |
		TCPREMOTEIP=127.0.0.1 cw_root "$POP3D" -d -m "$T/mail/%u" \
		--proxy-trusted=127.0.0.1 --plaintext=always --pam-session \
		2>>"$LOG" >/dev/null
	run grep -c '^open user=alice rhost=192.0.2.7 ruser=- tty=pop3 ' "$LOG"
	assert_output 1
	run grep -c '^pop3d: session=[0-9a-f]* login user=alice peer=192.0.2.7 ' "$LOG"
	assert_output 1
}

@test "started as an ordinary user (one process): the header is read the same" {
	local sh=()
	cp "$T/passwd" "$T/passwd.user"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$TEST_UID" "$T/passwd.user"
		sh=(setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups)
	fi
	printf 'PROXY TCP6 2001:db8::9 ::1 4000 110\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' >"$T/in"
	run env TCPREMOTEIP=::1 "${sh[@]}" "$POP3D" -a "file:$T/passwd.user" \
		-m "$T/mail/%u" -d --proxy-trusted=::1 --plaintext=always <"$T/in"
	assert_success
	assert_line --regexp '^pop3d: session=[0-9a-f]{12} not started as root: no privilege separation before login$'
	assert_line --regexp '^\+OK 2 [0-9]+'
	assert_line --partial ' login user=alice peer=2001:db8::9 method=USER'
	printf '\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00' >"$T/in"
	run env TCPREMOTEIP=::1 "${sh[@]}" "$POP3D" -a "file:$T/passwd.user" \
		-m "$T/mail/%u" -d --proxy-trusted=::1 <"$T/in"
	assert_failure 1
	refute_line --partial '+OK'
	assert_line --regexp '^pop3d: session=[0-9a-f]{12} session end before login peer=::1 end=proxy health check$'
}

# client HEADER TLS LINE...: to pop3d under tcpserver ($PORT): the header
# (a printf format), then TLS (1: implicit, against the test CA) or not,
# then the lines once the greeting came; prints the replies without CRs.
client() {
	local h=$1 tls=$2
	shift 2
	printf "$h" >"$T/header"
	timeout 60 python3 - "$PORT" "$T/header" "$tls" "${CA:-}" "$@" <<-'EOF'
		import socket, ssl, sys
		port, header, tls, ca, lines = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
		s = socket.create_connection(("127.0.0.1", int(port)), timeout=50)
		s.sendall(open(header, "rb").read())
		if tls == "1":
		    ctx = ssl.create_default_context(cafile=ca)
		    s = ctx.wrap_socket(s, server_hostname="localhost")
		f = s.makefile("rb")
		out = [f.readline()]
		s.sendall("".join(l + "\r\n" for l in lines).encode())
		while True:
		    l = f.readline()
		    if not l:
		        break
		    out.append(l)
		sys.stdout.write(b"".join(out).decode().replace("\r", ""))
	EOF
}

@test "under tcpserver: v1 and v2 headers from 127.0.0.1; an untrusted peer is served as before" {
	serve --proxy-trusted=127.0.0.1 --plaintext=always
	run client 'PROXY TCP4 192.0.2.7 127.0.0.1 4000 110\r\n' 0 "${LOGIN[@]}"
	assert_line --index 0 '+OK pop3d ready'
	assert_line --regexp '^\+OK 2 [0-9]+$'
	run client "$V2_TCP6" 0 'USER alice' 'PASS wrong' QUIT
	assert_line '-ERR [AUTH] authentication failed'
	await_sessions 2
	run grep -c -e '^pop3d: session=[0-9a-f]* login user=alice peer=192.0.2.7 ' \
		-e '^pop3d: session=[0-9a-f]* login failed user=alice peer=2001:db8::7 ' "$T/server.log"
	assert_output 2
	stop_server
	serve --proxy-trusted=10.0.0.0/8
	run client '' 0 "${LOGIN[@]}"
	assert_line --regexp '^\+OK 2 [0-9]+$'
	await_sessions 1
	run grep -c '^pop3d: session=[0-9a-f]* login user=alice peer=127.0.0.1 ' "$T/server.log"
	assert_output 1
}

@test "--tls=implicit: the header comes before the TLS handshake" {
	make_pki
	serve --tls=implicit $TLS_FILES --proxy-trusted=127.0.0.1
	run client "$V2_TCP4" 1 CAPA "${LOGIN[@]}"
	assert_line --index 0 '+OK pop3d ready'
	assert_line 'USER'
	assert_line --regexp '^\+OK 2 [0-9]+$'
	# A handshake without the header is refused before any TLS record.
	run client '' 1 QUIT
	assert_failure
	await_sessions 2
	run grep -c '^pop3d: session=[0-9a-f]* login user=alice peer=192.0.2.7 method=USER ' "$T/server.log"
	assert_output 1
	run grep -c '^pop3d: session=[0-9a-f]* PROXY header refused peer=127.0.0.1 reason=no PROXY header' "$T/server.log"
	assert_output 1
}
