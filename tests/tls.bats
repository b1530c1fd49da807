#!/usr/bin/env bats
# TLS: STLS (RFC 2595) and implicit TLS (RFC 8314) with real clients, the
# plaintext policy around them, and the TLS settings.  pop3d runs under
# tcpserver on 127.0.0.1 with a CA and certificate made for the test.

load helpers
load net

setup() {
	setup_account
	{ msg a@example.org one 'hello'; msg b@example.org two 'line\n.dot'; } | write_mbox
	make_pki
}

teardown() {
	stop_server
	safe_cleanup
}

# The reply to RETR 2 / the message as a client stores it (LF lines).
MSG2='From: b@example.org
Subject: two

line
.dot'

@test "STLS: CAPA offers STLS and no USER before, USER and no STLS after" {
	serve --tls=stls --plaintext=never $TLS_FILES
	# Before TLS, on the plain socket.
	run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'CAPA\r\nUSER alice\r\nQUIT\r\n' >&3; tr -d '\r' <&3"
	assert_line --index 0 '+OK pop3d ready'
	assert_line 'STLS'
	refute_line 'USER'
	assert_line --regexp '^-ERR \[AUTH\] '
	# After STLS, through openssl s_client.
	run s_client -starttls pop3 <<<$'CAPA\nUSER alice\nPASS secret\nSTAT\nQUIT'
	assert_line 'USER'
	refute_line 'STLS'
	assert_line '+OK send the password'
	assert_line --regexp '^\+OK alice has 2 messages'
	assert_line --regexp '^\+OK 2 [0-9]+$'
	grep -q 'TLS established: TLSv1.3' "$T/server.log"
}

@test "STLS: bytes pipelined after STLS are discarded, not run under TLS" {
	serve --tls=stls $TLS_FILES
	# STLS and CAPA in one write (CVE-2011-0411): after the handshake the
	# server must answer only what was sent under TLS.
	run python3 - "$PORT" "$CA" <<-'EOF'
	import socket, ssl, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
	def line():
	    b = b""
	    while not b.endswith(b"\n"):
	        b += s.recv(1)
	    return b.decode().rstrip("\r\n")
	print(line())
	s.sendall(b"STLS\r\nCAPA\r\n")
	print(line())
	t = ssl.create_default_context(cafile=sys.argv[2]).wrap_socket(
	    s, server_hostname="localhost")
	t.sendall(b"QUIT\r\n")
	out = b""
	while chunk := t.recv(4096):
	    out += chunk
	print(out.decode().replace("\r", ""), end="")
	EOF
	assert_success
	assert_output $'+OK pop3d ready\n+OK Begin TLS negotiation\n+OK bye'
}

@test "STLS: refused once TLS is active, and USER given before it is forgotten" {
	serve --tls=stls $TLS_FILES
	run s_client -starttls pop3 <<<$'STLS\nPASS secret\nQUIT'
	assert_line --index 0 --regexp '^-ERR '
	assert_line --index 1 '-ERR send USER first'
	assert_line --index 2 '+OK bye'
}

@test "STLS: not offered or accepted without --tls=stls" {
	run pop_raw <<<$'CAPA\r\nSTLS\r\nQUIT\r\n'
	refute_line $'STLS\r'
	assert_line --partial '-ERR STLS not available'
}

@test "--plaintext: never refuses USER/PASS without TLS, accepts them over TLS" {
	serve --tls=stls --plaintext=never $TLS_FILES
	run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'USER alice\r\nPASS secret\r\nQUIT\r\n' >&3; tr -d '\r' <&3"
	assert_line --index 1 '-ERR [AUTH] Plaintext authentication is not allowed on this connection'
	assert_line --index 2 '-ERR send USER first'
	run s_client -starttls pop3 <<<$'USER alice\nPASS secret\nQUIT'
	assert_line --regexp '^\+OK alice has 2 messages'
}

@test "--plaintext: secure accepts USER from loopback, always too, never not" {
	for p in secure always; do
		serve --plaintext=$p
		run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'CAPA\r\nUSER alice\r\nPASS secret\r\nQUIT\r\n' >&3; tr -d '\r' <&3"
		assert_line 'USER'
		assert_line --regexp '^\+OK alice has 2 messages'
		await_sessions 1
		stop_server
	done
	POP3D_ARGS=--plaintext=never run pop_raw <<<$'CAPA\r\nUSER alice\r\nQUIT\r\n'
	refute_line $'USER\r'
	assert_line --partial '-ERR [AUTH] '
}

@test "curl --ssl-reqd pop3:// (STLS) retrieves a message exactly" {
	serve --tls=stls $TLS_FILES
	run bash -c "curl -sS --ssl-reqd --cacert '$CA' -u alice:secret \
		--connect-to localhost:$PORT:127.0.0.1:$PORT pop3://localhost:$PORT/2 | tr -d '\r'"
	assert_success
	assert_output "$MSG2"
}

@test "curl pop3s:// (implicit TLS) lists and retrieves" {
	serve --tls=implicit $TLS_FILES
	run curl -sS --cacert "$CA" -u alice:secret "pop3s://127.0.0.1:$PORT/"
	assert_success
	assert_line --index 0 --regexp '^1 [0-9]+'
	assert_line --index 1 --regexp '^2 [0-9]+'
	await_sessions 1
	run bash -c "curl -sS --cacert '$CA' -u alice:secret pop3s://127.0.0.1:$PORT/2 | tr -d '\r'"
	assert_output "$MSG2"
	# A plaintext client gets no POP3 reply from an implicit-TLS port.
	run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'CAPA\r\n' >&3; timeout 10 cat <&3"
	refute_output --partial '+OK'
	grep -q 'TLS handshake failed' "$T/server.log"
}

@test "openssl s_client: implicit TLS session, TLS 1.2 refused with --tls-min=1.3" {
	serve --tls=implicit --tls-min=1.3 $TLS_FILES
	run s_client <<<$'CAPA\nUSER alice\nPASS secret\nRETR 2\nQUIT'
	assert_line --index 0 '+OK pop3d ready'
	assert_line 'USER'
	refute_line 'STLS'
	assert_line '..dot'
	run s_client -tls1_2 <<<$'QUIT'
	refute_output --partial '+OK'
}

mpop_conf() {	# mpop_conf STARTTLS: an mpop configuration for $PORT
	cat >"$T/mpoprc" <<-EOF
	account test
	host 127.0.0.1
	port $PORT
	user alice
	passwordeval echo secret
	auth user
	tls on
	tls_starttls $1
	tls_trust_file $CA
	delivery mbox $T/mpop.mbox
	keep on
	uidls_file $T/mpop.uidls
	EOF
	chmod 600 "$T/mpoprc"
}

@test "mpop retrieves over STLS and over implicit TLS" {
	for mode in stls implicit; do
		serve --tls=$mode $TLS_FILES
		mpop_conf $([ $mode = stls ] && echo on || echo off)
		rm -f "$T/mpop.mbox" "$T/mpop.uidls"
		run timeout 20 mpop -C "$T/mpoprc" -a
		assert_success
		assert_output --partial 'new: 2 messages'
		grep -qx 'Subject: two' "$T/mpop.mbox"
		grep -qx '.dot' "$T/mpop.mbox"
		grep -q 'TLS established' "$T/server.log"
		await_sessions 1
		stop_server
	done
}

@test "fetchmail retrieves over STLS and over implicit TLS, verifying the certificate" {
	for mode in stls implicit; do
		serve --tls=$mode $TLS_FILES
		rm -f "$T/fm.out" "$T/.fetchids"
		{
			echo "poll 127.0.0.1 protocol pop3 port $PORT"
			echo "  user \"alice\" password \"secret\" is \"$(id -un)\" here"
			echo "  $([ $mode = implicit ] && echo ssl) sslcertfile \"$CA\" sslcertck"
			echo "  sslcommonname \"localhost\" sslproto \"tls1.2+\""
			echo "  keep mda \"tee -a $T/fm.out\""
		} >"$T/fetchmailrc"
		chmod 600 "$T/fetchmailrc"
		run env HOME="$T" FETCHMAILHOME="$T" timeout 30 fetchmail -f "$T/fetchmailrc" \
			--pidfile "$T/fm.pid" --nodetach
		assert_success
		grep -qx 'Subject: two' "$T/fm.out"
		grep -qx '.dot' "$T/fm.out"
		grep -q 'TLS established' "$T/server.log"
		await_sessions 1
		stop_server
	done
}

@test "--tls-key: refused when others may read it or its group may write it" {
	for mode in 644 660; do
		chmod $mode "$T/pki/key.pem"
		run "$POP3D" -a "file:$T/passwd" --tls=implicit $TLS_FILES -d </dev/null
		assert_failure 2
		assert_output --partial 'others may not read and its group may not write'
	done
}

@test "TLS settings: checked when TLS is on, refused when off" {
	run "$POP3D" -a "file:$T/passwd" --tls=stls -d </dev/null
	assert_failure 2
	assert_output --partial 'needs --tls-cert and --tls-key'
	run "$POP3D" -a "file:$T/passwd" --tls=stls --tls-min=1.1 $TLS_FILES -d </dev/null
	assert_failure 2
	run "$POP3D" -a "file:$T/passwd" --tls=stls --tls-ciphers=NONSENSE $TLS_FILES -d </dev/null
	assert_failure 2
	assert_output --partial 'no usable cipher'
	run "$POP3D" -a "file:$T/passwd" --tls=bogus </dev/null
	assert_failure 2
	# Off: a certificate option would be unused, which is a mistake.
	POP3D_ARGS="--tls-cert=/nonexistent --tls-key=/nonexistent" run pop_raw </dev/null
	assert_failure 2
	assert_output 'pop3d: --tls-cert needs --tls=stls or --tls=implicit'
}

# The shipped examples, run as shipped apart from the paths: the binary,
# the test certificate, the test account and a loopback port.
deployed_args() {	# the pop3d arguments of an example's command line
	sed -e "s|@sbindir@/pop3d|$POP3D|" \
		-e "s|/etc/ssl/certs/pop3d.pem|$T/pki/cert.pem|" \
		-e "s|/etc/ssl/private/pop3d.key|$T/pki/key.pem|"
}

@test "systemd/pop3ds units: port 995, Accept=yes, and the ExecStart line serves implicit TLS" {
	grep -qx 'ListenStream=995' "$BATS_TEST_DIRNAME/../systemd/pop3ds.socket"
	grep -qx 'Accept=yes' "$BATS_TEST_DIRNAME/../systemd/pop3ds.socket"
	cmd=$(sed -n 's/^ExecStart=//p' "$BATS_TEST_DIRNAME/../systemd/pop3ds@.service" | deployed_args)
	PORT=$((20000 + RANDOM % 40000))
	systemd-socket-activate --inetd -a -l "127.0.0.1:$PORT" -- \
		$cmd -a "file:$T/passwd" -m "$T/mail/%u" -t 5 2>"$T/server.log" &
	SERVER_PID=$!
	for i in $(seq 50); do grep -q 'Listening' "$T/server.log" && break; sleep 0.1; done
	run bash -c "curl -sS --cacert '$CA' -u alice:secret pop3s://127.0.0.1:$PORT/2 | tr -d '\r'"
	assert_success
	assert_output "$MSG2"
}

@test "xinetd.d/pop3s: serves implicit TLS under xinetd" {
	PORT=$((20000 + RANDOM % 40000))
	{
		printf 'defaults\n{\n}\n'
		sed -e 's/^service pop3s/service pop3s-test/' \
			-e 's/^\(\tdisable\t*=\).*/\1 no/' \
			-e "s|^\(\tserver_args.*\)|\1 -a file:$T/passwd -m $T/mail/%u -t 5|" \
			-e "s|^}|\ttype = UNLISTED\n\tport = $PORT\n\tbind = 127.0.0.1\n}|" \
			"$BATS_TEST_DIRNAME/../xinetd.d/pop3s" | deployed_args
	} >"$T/xinetd.conf"
	xinetd -dontfork -f "$T/xinetd.conf" -pidfile "$T/xinetd.pid" \
		-filelog "$T/xinetd.log" &
	SERVER_PID=$!
	for i in $(seq 50); do grep -q 'Started working: 1' "$T/xinetd.log" && break; sleep 0.1; done
	run bash -c "curl -sS --cacert '$CA' -u alice:secret pop3s://127.0.0.1:$PORT/2 | tr -d '\r'"
	assert_success
	assert_output "$MSG2"
}

@test "started as an ordinary user: TLS runs in the one process, STLS and implicit" {
	if [ "$(id -u)" -eq 0 ]; then
		# A throwaway uid that owns the key, the password file and the mbox.
		chown "$TEST_UID" "$T/pki/key.pem" "$T/passwd"
		SERVE_AS="setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups"
	fi
	for mode in stls implicit; do
		serve --tls=$mode $TLS_FILES
		if [ $mode = stls ]; then
			run s_client -starttls pop3 <<<$'USER alice\nPASS secret\nRETR 2\nQUIT'
		else
			run s_client <<<$'USER alice\nPASS secret\nRETR 2\nQUIT'
		fi
		assert_line --regexp '^\+OK alice has 2 messages'
		assert_line '..dot'
		assert_line --regexp '^\+OK bye'
		grep -q 'no privilege separation' "$T/server.log"
		await_sessions 1
		stop_server
	done
}

@test "a client that stalls in the TLS handshake is dropped after the idle timeout" {
	serve --tls=stls $TLS_FILES -t 1
	start=$(date +%s)
	run timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'STLS\r\n' >&3; tr -d '\r' <&3"
	assert_success	# the server closed the connection, not timeout(1)
	assert_output $'+OK pop3d ready\n+OK Begin TLS negotiation'
	# Under valgrind pop3d takes TIME_SLACK_MS more to start.
	[ $(($(date +%s) - start)) -le $((4 + ${TIME_SLACK_MS:-0} / 1000)) ]
	# The log lines follow the close: waited for, 10 s at most.
	local i
	for i in $(seq 100); do
		grep -q 'end=tls failed' "$T/server.log" && break
		sleep 0.1
	done
	grep -q 'TLS handshake timed out' "$T/server.log"
	grep -q 'end=tls failed' "$T/server.log"
}

@test "--help and pop3d.8 name the TLS and privilege-separation options" {
	run "$POP3D" --help
	assert_success
	for o in --tls= --tls-cert= --tls-key= --tls-ciphers= --tls-min= --login-user= --login-chroot=; do
		assert_output --partial "$o"
	done
	run env LC_ALL=C MANWIDTH=200 man -l "$BATS_TEST_DIRNAME/../pop3d.8"
	for o in --tls= --tls-cert= --tls-key= --tls-ciphers= --tls-min= --login-user= --login-chroot=; do
		assert_output --partial "$o"
	done
}

@test "log: tls= on the login line: protocol/cipher over TLS, no without it" {
	serve --tls=stls $TLS_FILES
	run s_client -starttls pop3 -tls1_3 <<<$'USER alice\nPASS secret\nQUIT'
	assert_line --regexp '^\+OK bye'
	wait_for_text "$T/server.log" 'session end user=alice'
	grep -q -E '^pop3d: session=[0-9a-f]{12} login user=alice .* tls=TLSv1\.3/TLS_[A-Z0-9_]+ failures=0$' "$T/server.log"
	run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'USER alice\r\nPASS secret\r\nQUIT\r\n' >&3; tr -d '\r' <&3"
	assert_line --regexp '^\+OK bye'
	wait_for_text "$T/server.log" 'tls=no'
	grep -q -E '^pop3d: session=[0-9a-f]{12} login user=alice .* tls=no failures=0$' "$T/server.log"
}

# ---- keys the Debian and certbot way (as root) -------------------------------

# safe_base: a directory whose every ancestor only root may write ($T is
# under /tmp, which everyone may): $SAFE, removed by safe_cleanup.
safe_base() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: keys owned by root in root's directories"
	SAFE=$(mktemp -d /var/lib/pop3d-test.XXXXXX)
	chmod 755 "$SAFE"
}

safe_cleanup() {
	if [ -n "${SAFE:-}" ] && [ -d "$SAFE" ]; then
		rm -rf "$SAFE"
	fi
}

# letsencrypt: certbot's layout under $SAFE/letsencrypt, the live/ names
# relative links into archive/, as certbot makes them.
letsencrypt() {
	local le=$SAFE/letsencrypt
	mkdir -p "$le/live/pop.test" "$le/archive/pop.test"
	chmod 700 "$le/archive" "$le/live"
	cp "$T/pki/key.pem" "$le/archive/pop.test/privkey1.pem"
	cp "$T/pki/cert.pem" "$le/archive/pop.test/fullchain1.pem"
	chmod 600 "$le/archive/pop.test/privkey1.pem"
	ln -s ../../archive/pop.test/privkey1.pem "$le/live/pop.test/privkey.pem"
	ln -s ../../archive/pop.test/fullchain1.pem "$le/live/pop.test/fullchain.pem"
	LE_FILES="--tls-cert=$le/live/pop.test/fullchain.pem --tls-key=$le/live/pop.test/privkey.pem"
}

# tls_check ARG...: pop3d's TLS configuration alone (no client: status 1
# when it started, 2 when it refused); the -d log in $output.
tls_check() {
	run "$POP3D" -a "file:$T/passwd" -d --tls=implicit "$@" </dev/null
}

@test "a certbot key: live/NAME/privkey.pem -> ../../archive/NAME/privkey1.pem, all root's" {
	safe_base
	letsencrypt
	serve --tls=implicit $LE_FILES
	run bash -c "curl -sS --cacert '$CA' -u alice:secret pop3s://127.0.0.1:$PORT/2 | tr -d '\r'"
	assert_success
	assert_output "$MSG2"
	stop_server
	safe_cleanup
}

@test "a key through a link is refused when a directory on the way others may write: group-writable, /tmp" {
	safe_base
	letsencrypt
	chmod g+w "$SAFE/letsencrypt/live/pop.test"
	tls_check $LE_FILES
	assert_failure 2
	assert_output --partial "TLS key $SAFE/letsencrypt/live/pop.test/privkey.pem: refused: it is reached through a symbolic link, and the directory $SAFE/letsencrypt/live/pop.test (uid 0, mode 0775) on the way may be changed by others than root"
	chmod g-w "$SAFE/letsencrypt/live/pop.test"
	# The archive behind the link, too.
	chmod o+w "$SAFE/letsencrypt/archive"
	tls_check $LE_FILES
	assert_failure 2
	assert_output --partial "the directory $SAFE/letsencrypt/archive (uid 0, mode 0702)"
	chmod o-w "$SAFE/letsencrypt/archive"
	# A link to a key under /tmp (sticky and world-writable).
	ln -s "$T/pki/key.pem" "$SAFE/tmpkey.pem"
	tls_check --tls-cert="$T/pki/cert.pem" --tls-key="$SAFE/tmpkey.pem"
	assert_failure 2
	assert_output --regexp "the directory /tmp \(uid 0, mode 1777\) on the way may be changed by others than root"
	# The same key named directly, not through a link, is taken as before.
	tls_check $TLS_FILES
	assert_failure 1
	refute_output --partial 'TLS key'
	safe_cleanup
}

@test "Debian's 0640 root:ssl-cert key is used and its group logged; group-writable, other-readable or not root's is refused" {
	safe_base
	mkdir -m 755 "$SAFE/private"
	cp "$T/pki/key.pem" "$SAFE/private/pop3d.key"
	chgrp "$TEST_GID" "$SAFE/private/pop3d.key"
	chmod 640 "$SAFE/private/pop3d.key"
	local files="--tls-cert=$T/pki/cert.pem --tls-key=$SAFE/private/pop3d.key"
	tls_check $files
	assert_failure 1
	assert_output --partial "TLS key $SAFE/private/pop3d.key: readable by group "
	assert_output --partial "(gid $TEST_GID)"
	for mode in 660 644 604 600; do
		chmod "$mode" "$SAFE/private/pop3d.key"
		[ $mode = 600 ] && chown "$TEST_UID" "$SAFE/private/pop3d.key"
		tls_check $files
		assert_failure 2
		assert_output --partial "TLS key $SAFE/private/pop3d.key: refused: it must be a regular file owned by root that others may not read and its group may not write"
	done
	safe_cleanup
}

# tls_refused MESSAGE ARG...: pop3d refuses the TLS settings ARG... and
# its log says MESSAGE.
tls_refused() {
	local message=$1
	shift
	tls_check "$@"
	assert_failure 2
	assert_output --partial "$message"
}

@test "a missing or wrong certificate or key: the file named and what is wrong with it" {
	: >"$T/empty.pem"
	tls_refused "TLS: no certificate in $T/empty.pem" \
		--tls-cert="$T/empty.pem" --tls-key="$T/pki/key.pem"
	tls_refused "TLS: $T/pki/key.pem holds a private key, not a certificate" \
		--tls-cert="$T/pki/key.pem" --tls-key="$T/pki/key.pem"
	tls_refused "TLS certificate $T/nonexistent.pem: No such file or directory" \
		--tls-cert="$T/nonexistent.pem" --tls-key="$T/pki/key.pem"
	cp "$T/pki/cert.pem" "$T/pki/certcopy.pem"
	chmod 600 "$T/pki/certcopy.pem"
	tls_refused "TLS: $T/pki/certcopy.pem holds a certificate, not a private key" \
		--tls-cert="$T/pki/cert.pem" --tls-key="$T/pki/certcopy.pem"
	tls_refused "TLS: the key $T/pki/key.pem does not match the certificate $T/pki/ca.pem" \
		--tls-cert="$T/pki/ca.pem" --tls-key="$T/pki/key.pem"
}

# memscan PID PATTERN-HEX...: the patterns (hex bytes) found anywhere in
# the readable memory of PID, one per line.
memscan() {
	python3 - "$@" <<-'PY'
		import re, sys
		pid, pats = sys.argv[1], [bytes.fromhex(h) for h in sys.argv[2:]]
		found = set()
		with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
		    for line in maps:
		        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
		        if not m:
		            continue
		        lo, hi = int(m[1], 16), int(m[2], 16)
		        try:
		            mem.seek(lo)
		            data = mem.read(hi - lo)
		        except (OSError, ValueError, OverflowError):
		            continue
		        for p in pats:
		            if p in data:
		                found.add(p.hex())
		print("\n".join(sorted(found)))
	PY
}

@test "after the drop, the user's process holds nothing of root's: no TLS key, no other user's hash" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: privilege separation and another uid's memory"
	! ldd "$POP3D" | grep -q libasan ||
		skip "ASan build: terabytes of shadow memory to read (the plain build is scanned)"
	# bob's hash in the password file too, read by root at alice's login.
	local bob_hash
	bob_hash=$(openssl passwd -6 -salt bobsaltbobsalt hunter2)
	{ printf 'bob:%s:%s:%s:/nonexistent\n' "$bob_hash" $((TEST_UID + 1)) $((TEST_GID + 1))
		cat "$T/passwd"; } >"$T/passwd.2"
	mv "$T/passwd.2" "$T/passwd"
	chmod 600 "$T/passwd"
	# The key's private scalar, as stored (big-endian) and as a BIGNUM
	# holds it on this machine (little-endian limbs).
	local priv
	priv=$(openssl pkey -in "$T/pki/key.pem" -text -noout |
		sed -n '/^priv:/,/^pub:/{/^priv:/d;/^pub:/d;p}' | tr -d ' :\n')
	priv=$(printf '%064s' "${priv: -64}" | tr ' ' 0)
	[ ${#priv} -eq 64 ]
	local le
	le=$(python3 -c 'import sys; print(bytes.fromhex(sys.argv[1])[::-1].hex())' "$priv")
	local hash_hex
	hash_hex=$(printf '%s' "$bob_hash" | od -An -tx1 | tr -d ' \n')
	serve --tls=implicit $TLS_FILES -t 60
	# A TLS session held open until the scan is done ($T/done).
	python3 - "$PORT" "$CA" "$T" <<-'PY' &
		import os, socket, ssl, sys, time
		port, ca, t = int(sys.argv[1]), sys.argv[2], sys.argv[3]
		ctx = ssl.create_default_context(cafile=ca)
		s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 20),
		                    server_hostname="localhost")
		f = s.makefile("rwb")
		f.readline()
		f.write(b"USER alice\r\nPASS secret\r\n"); f.flush()
		f.readline()
		open(t + "/ready.new", "wb").write(f.readline())
		os.rename(t + "/ready.new", t + "/ready")
		for _ in range(600):
		    if os.path.exists(t + "/done"):
		        break
		    time.sleep(0.1)
		f.write(b"QUIT\r\n"); f.flush()
		f.readline()
	PY
	local client=$! i
	for i in $(seq 200); do
		[ -s "$T/ready" ] && break
		sleep 0.1
	done
	grep -q '^+OK alice has' "$T/ready"
	# alice's session process: the child of tcpserver running as her uid
	# (its own child, the TLS relay, runs as nobody).
	local pid relay
	pid=$(pgrep -P "$SERVER_PID" -u "$TEST_UID")
	[ -n "$pid" ]
	# The scan finds the key where it must be: in the TLS relay (the
	# login process, her session's child), which runs the TLS session.
	relay=$(pgrep -P "$pid")
	run memscan "$relay" "$priv" "$le"
	assert_success
	local in_relay=$output
	run memscan "$pid" "$priv" "$le" "$hash_hex"
	assert_success
	touch "$T/done"
	wait "$client"
	echo "# found in the relay: ${in_relay:-nothing}; in her process: ${output:-nothing}"
	[ -n "$in_relay" ]
	refute_output --partial "$priv"
	refute_output --partial "$le"
	refute_output --partial "$hash_hex"
}
