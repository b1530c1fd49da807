#!/usr/bin/env bats
# pop3d started for real the ways admins start it -- tcpserver, systemd
# socket activation with Accept=yes, xinetd -- on a loopback port, each
# driven through a whole session by Python's poplib.  The shipped
# deployment files are what is started, with the port and the binary
# changed.

load helpers

REPO=$BATS_TEST_DIRNAME/..

setup() {
	setup_account
	{ msg a@example.org one 'first body'; msg b@example.org two 'second'; } | write_mbox
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	ARGS="-a file:$T/passwd -m $T/mail/%u -t 5"
	SERVER=
}

teardown() {
	if [ -n "$SERVER" ]; then
		kill "$SERVER" 2>/dev/null || true
		wait "$SERVER" 2>/dev/null || true
	fi
}

# wait_listen: until something listens on 127.0.0.1:$PORT (5 s at most).
wait_listen() {
	for _ in $(seq 50); do
		if ss -Hltn "src 127.0.0.1:$PORT" | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	echo "nothing listens on port $PORT" >&2
	return 1
}

# A whole session: login, STAT, LIST, RETR 1, DELE 1, QUIT; then the
# mailbox holds only the second message.
full_session() {
	run timeout 20 python3 "$REPO/tests/pop_client.py" "$PORT" alice secret
	assert_success
	assert_line --index 0 '+OK pop3d ready'
	assert_line --index 1 '+OK send the password'
	assert_line --index 2 --regexp '^\+OK alice has 2 messages \([0-9]+ octets\)$'
	assert_line --index 3 --regexp '^STAT 2 [0-9]+$'
	assert_line --index 4 '+OK scan listing follows'
	assert_line --index 5 --regexp '^1 [0-9]+$'
	assert_line --index 6 --regexp '^2 [0-9]+$'
	assert_line --index 7 --regexp '^\+OK [0-9]+ octets$'
	assert_line --index 8 'From: a@example.org'
	assert_line --index 10 'first body'
	assert_line --index 11 '+OK message 1 deleted'
	assert_line --index 12 '+OK bye, 1 messages left'
	run grep -c '^From ' "$MBOX"
	assert_output 1
	grep -q '^Subject: two$' "$MBOX"
}

@test "tcpserver: the shipped run script, a full session, the peer logged" {
	POP3D_BIN=$POP3D POP3D_IP=127.0.0.1 POP3D_PORT=$PORT \
		POP3D_ARGS="-d $ARGS" sh "$REPO/tcpserver/run" >"$T/server.log" 2>&1 &
	SERVER=$!
	wait_listen
	full_session
	sleep 0.2
	run cat "$T/server.log"
	assert_line --regexp '^pop3d: login user=alice peer=127\.0\.0\.1 method=USER uid=[0-9]+ gid=[0-9]+ messages=2$'
	assert_line --regexp '^pop3d: session end user=alice peer=127\.0\.0\.1 retrieved=1/[0-9]+ deleted=1 end=quit$'
}

@test "tcpserver -c: a session beyond the limit waits for a free slot" {
	POP3D_BIN=$POP3D POP3D_IP=127.0.0.1 POP3D_PORT=$PORT POP3D_CONCURRENCY=1 \
		POP3D_ARGS="$ARGS" sh "$REPO/tcpserver/run" >"$T/server.log" 2>&1 &
	SERVER=$!
	wait_listen
	run timeout 20 python3 - "$PORT" <<-'EOF'
		import socket, sys
		port = int(sys.argv[1])
		a = socket.create_connection(("127.0.0.1", port))
		print("first:", a.recv(100).decode().strip())
		b = socket.create_connection(("127.0.0.1", port))
		b.settimeout(1)
		try:
		    print("second:", b.recv(100).decode().strip())
		except socket.timeout:
		    print("second: no greeting while the first runs")
		a.sendall(b"QUIT\r\n")
		a.recv(100)
		a.close()
		b.settimeout(5)
		print("second:", b.recv(100).decode().strip())
	EOF
	assert_output "$(printf '%s\n' 'first: +OK pop3d ready' \
		'second: no greeting while the first runs' 'second: +OK pop3d ready')"
}

@test "systemd: the shipped units verify; Accept=yes socket activation serves a session" {
	[ -z "${VALGRIND_LOGS:-}" ] || skip "under valgrind: the unit names the binary, here a valgrind wrapper script"
	# The units as make install writes them, the binary under test as
	# @sbindir@/pop3d.
	mkdir "$T/units"
	for f in pop3d.socket pop3d@.service; do
		sed "s|@sbindir@|$(dirname "$POP3D")|" "$REPO/systemd/$f" >"$T/units/$f"
	done
	run systemd-analyze verify --man=no "$T/units/pop3d.socket" "$T/units/pop3d@.service"
	assert_success
	assert_output ''
	grep -qx 'Accept=yes' "$T/units/pop3d.socket"
	grep -qx 'StandardInput=socket' "$T/units/pop3d@.service"
	# What systemd does with them: one pop3d per connection, the
	# connection on fds 0 and 1.
	systemd-socket-activate --inetd -a -l "127.0.0.1:$PORT" \
		"$POP3D" -d $ARGS >"$T/server.log" 2>&1 &
	SERVER=$!
	wait_listen
	full_session
	sleep 0.2
	run cat "$T/server.log"
	assert_line --regexp '^pop3d: login user=alice peer=127\.0\.0\.1 method=USER '
	assert_line --regexp '^pop3d: session end user=alice .* deleted=1 end=quit$'
}

# The xinetd service: the shipped xinetd.d/pop3 when there is one, with
# the port, address, binary and arguments of the test.
xinetd_conf() {
	local shipped=$REPO/xinetd.d/pop3
	printf 'defaults\n{\n\tlog_type = FILE %s\n\tlog_on_success = HOST PID EXIT\n}\n' "$T/xinetd.log"
	if [ -e "$shipped" ]; then
		sed -E '/^[[:space:]]*(port|bind|server|server_args|disable|type|user|flags|log_type)[[:space:]]*[+-]?=/d' \
			"$shipped" | sed '/^[[:space:]]*{/q'
	else
		printf 'service pop3\n{\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n'
		printf '\tinstances = 4\n\tper_source = 2\n'
	fi
	printf '\ttype = UNLISTED\n\tport = %s\n\tbind = 127.0.0.1\n' "$PORT"
	printf '\tserver = %s\n\tserver_args = %s\n' "$POP3D" "$ARGS"
	[ "$(id -u)" -ne 0 ] || printf '\tuser = root\n'
	if [ -e "$shipped" ]; then
		sed -E '/^[[:space:]]*(port|bind|server|server_args|disable|type|user|flags|log_type)[[:space:]]*[+-]?=/d' \
			"$shipped" | sed '1,/^[[:space:]]*{/d'
	else
		printf '}\n'
	fi
}

@test "xinetd: a private config on a loopback port serves a session" {
	xinetd_conf >"$T/xinetd.conf"
	cat "$T/xinetd.conf"
	xinetd -f "$T/xinetd.conf" -dontfork -pidfile "$T/xinetd.pid" \
		>"$T/server.log" 2>&1 &
	SERVER=$!
	wait_listen
	full_session
	sleep 0.2
	run cat "$T/xinetd.log"
	assert_line --regexp 'START: pop3 .*from=127\.0\.0\.1'
	assert_line --regexp 'EXIT: pop3 status=0 '
}

@test "every shipped xinetd service is disabled until the admin enables it" {
	local f n=0
	for f in "$REPO"/xinetd.d/*; do
		grep -Eq '^[[:space:]]*disable[[:space:]]*=[[:space:]]*yes[[:space:]]*$' "$f" ||
			{ echo "${f##*/} is not disabled"; false; }
		run grep -Ec '^[[:space:]]*disable[[:space:]]*=' "$f"
		assert_output 1
		n=$((n + 1))
	done
	[ "$n" -ge 2 ]	# pop3 and pop3s
}
