#!/usr/bin/env bats
# make demo, as the README's Quick start runs it: demo/run serves a sample
# mailbox through tcpserver on 127.0.0.1, and curl reads it.  (The demo
# builds and serves ./pop3d, whatever $POP3D says.)

load helpers

setup() {
	command -v tcpserver >/dev/null || skip "needs tcpserver (package ucspi-tcp)"
	command -v curl >/dev/null || skip "needs curl"
	setup_account
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	DEMO_PID=
}

teardown() {
	if [ -n "$DEMO_PID" ]; then
		kill -- "-$DEMO_PID" 2>/dev/null || true
		wait "$DEMO_PID" 2>/dev/null || true
	fi
}

@test "make demo serves demo/demo on 127.0.0.1 to curl, never as root" {
	cd "$BATS_TEST_DIRNAME/.."
	DEMO_PORT=$PORT DEMO_STATE=$T/demo setsid demo/run >"$T/log" 2>&1 3>&- &
	DEMO_PID=$!
	local i
	for i in $(seq 100); do
		curl -s --max-time 2 "pop3://demo:demo@127.0.0.1:$PORT/" >"$T/list" && break
		sleep 0.1
	done
	cat "$T/log"
	grep -q "curl pop3://demo:demo@127.0.0.1:$PORT/1" "$T/log"
	# The listing: two messages, sizes in octets.
	cat "$T/list"
	[ "$(grep -c '^[12] [0-9][0-9]*.$' "$T/list")" -eq 2 ]
	# Message 1, byte for byte: its lines in the mbox, with CRLF.
	curl -s --max-time 5 "pop3://demo:demo@127.0.0.1:$PORT/1" >"$T/got"
	awk 'NR > 1 && /^From /{exit} NR > 1' "$T/demo/mail/demo" | sed '$d' |
		sed 's/$/\r/' >"$T/want"
	cmp "$T/want" "$T/got"
	grep -q "^1 $(wc -c <"$T/want")" "$T/list"
	# A wrong password is refused.
	run curl -s --max-time 5 "pop3://demo:nope@127.0.0.1:$PORT/1"
	assert_failure
	# pop3d serves only a mailbox owned by the uid it runs as: the mailbox
	# is the demo uid's, so the sessions above ran as that uid.
	if [ "$(id -u)" -eq 0 ]; then
		grep -q 'as uid [1-9][0-9]*,' "$T/log"
		[ "$(stat -c %u "$T/demo/mail/demo")" -ne 0 ]
	fi
}
