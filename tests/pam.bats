#!/usr/bin/env bats
# Logging in to system accounts through PAM, as root, with cwrap: pam_matrix
# checks the passwords, nss_wrapper is the passwd database and uid_wrapper
# lets the setuid() calls work.  The -d log shows what pop3d logs.

load helpers
load cwrap

setup_file() {
	cwrap_build_module
}

setup() {
	cwrap_setup
	msg a@example.org one 'hello' >"$MBOX"
	chmod 600 "$MBOX"
	own_as "$ALICE_UID" "$MBOX"
}

@test "good login: served as the user, inside a PAM session (--pam-session)" {
	POP3D_ARGS=--pam-session run pop_pam 'USER alice' 'PASS secret' STAT 'RETR 1' QUIT
	assert_success
	assert_line --index 0 '+OK pop3d ready'
	assert_line --index 1 '+OK send the password'
	assert_line --index 2 --regexp '^\+OK alice has 1 messages \([0-9]+ octets\)$'
	assert_line --index 3 --regexp '^\+OK 1 [0-9]+$'
	assert_line --partial 'hello'
	assert_line --regexp '^\+OK bye, 1 messages left$'
	[ "$(cat "$T/status")" = 0 ]
	# Credentials, then the session, as root, before the TRANSACTION; the
	# session closed and the credentials deleted after it.
	run bash -c "grep -o -E '^(setcred-establish|open|close|setcred-delete) |pop3d: session=[0-9a-f]{12} (login|session end) ' '$LOG' |
		sed 's/session=[0-9a-f]* //'"
	assert_output "$(printf '%s\n' 'setcred-establish ' 'open ' \
		'pop3d: login ' 'pop3d: session end ' 'close ' 'setcred-delete ')"
	# PAM_RUSER is not set: the claimed name is not a remote user (pam_rhosts).
	run grep -c "^open user=alice rhost=- ruser=- tty=pop3 service=pop3 euid=0$" "$LOG"
	assert_output 1
	run grep -c "^close user=alice .* euid=0$" "$LOG"
	assert_output 1
	# The served process has the user's uid and gid (uid_wrapper's view).
	run grep -E "^pop3d: session=[0-9a-f]* login user=alice peer=local method=USER uid=$ALICE_UID gid=$ALICE_UID messages=1 tls=no failures=0$" "$LOG"
	assert_success
	run grep -E '^pop3d: session=[0-9a-f]* session end user=alice peer=local retrieved=1/[0-9]+ deleted=0 end=quit duration=[0-9]+\.[0-9]{3} sent=[0-9]+ top=0$' "$LOG"
	assert_success
	run grep -e secret "$LOG"
	assert_failure
}

@test "without --pam-session: credentials and account checks, but no PAM session" {
	run pop_pam 'USER alice' 'PASS secret' STAT QUIT
	assert_success
	assert_line --regexp '^\+OK alice has 1 messages'
	[ "$(cat "$T/status")" = 0 ]
	run bash -c "grep -o -E '^(acct|setcred-establish|open|close|setcred-delete) |pop3d: session=[0-9a-f]{12} (login|session end) ' '$LOG' |
		sed 's/session=[0-9a-f]* //'"
	assert_output "$(printf '%s\n' 'setcred-establish ' 'pop3d: login ' \
		'pop3d: session end ' 'setcred-delete ')"
	# The account stack still runs: an expired account is refused.
	run pop_pam 'USER carol' 'PASS carolpw' QUIT
	assert_line --regexp '^-ERR \[AUTH\] '
	grep -q 'login failed user=carol .*reason=account expired or locked' "$LOG"
}

@test "--pam-session and --pam-service need the PAM backend" {
	run "$POP3D" -a "file:$T/passwd" --pam-session </dev/null
	assert_failure 2
	assert_output 'pop3d: --pam-session needs --auth=pam'
	run "$POP3D" -a "file:$T/passwd" -s pop3 </dev/null
	assert_failure 2
	assert_output 'pop3d: --pam-service needs --auth=pam'
}

@test "PAM_RHOST is the peer (TCPREMOTEIP under tcpserver)" {
	printf 'USER alice\r\nPASS secret\r\nQUIT\r\n' |
		TCPREMOTEIP=192.0.2.7 cw_root "$POP3D" -d --pam-session -m "$T/mail/%u" 2>>"$LOG" >/dev/null
	run grep -c '^open user=alice rhost=192.0.2.7 ruser=- tty=pop3 ' "$LOG"
	assert_output 1
	run grep -c 'pop3d: session=[0-9a-f]* login user=alice peer=192.0.2.7 ' "$LOG"
	assert_output 1
}

@test "a TCPREMOTEIP that is not an address is not trusted" {
	printf 'USER alice\r\nPASS secret\r\nQUIT\r\n' |
		TCPREMOTEIP=$'1.2.3.4\nforged line' cw_root "$POP3D" -d -m "$T/mail/%u" 2>>"$LOG" >/dev/null
	run grep -c 'pop3d: session=[0-9a-f]* login user=alice peer=local ' "$LOG"
	assert_output 1
	run grep -e forged -e 1.2.3.4 "$LOG"
	assert_failure
}

@test "bad password and unknown user: the same reply, the same time" {
	# The least of three tries each: load on the machine only adds time,
	# so the minima are what the two cases cost.
	local a=999999 b=999999 t0 t1 i
	for i in 1 2 3; do
		t0=$(date +%s%N)
		run pop_pam 'USER alice' 'PASS wrong' QUIT
		t1=$(date +%s%N)
		assert_line --index 2 '-ERR [AUTH] authentication failed'
		assert_line --index 3 '+OK bye'
		t1=$(( (t1 - t0) / 1000000 ))
		[ "$t1" -lt "$a" ] && a=$t1
		t0=$(date +%s%N)
		run pop_pam 'USER nosuchuser' 'PASS wrong' QUIT
		t1=$(date +%s%N)
		assert_line --index 2 '-ERR [AUTH] authentication failed'
		assert_line --index 3 '+OK bye'
		t1=$(( (t1 - t0) / 1000000 ))
		[ "$t1" -lt "$b" ] && b=$t1
	done
	echo "bad password ${a} ms, unknown user ${b} ms"
	# Each failure is padded to LOGIN_FAILURE_DELAY_MS (1 s) after PASS;
	# the rest is starting the process, the same for both.
	[ "$a" -ge 1000 ] && [ "$b" -ge 1000 ]
	# Under valgrind the password check itself (pam_matrix hashing, 20-50
	# times slower) can outlast the 1 s pad, so the two times say how slow
	# valgrind is, not whether pop3d pads: the equality is checked natively
	# (plain and ASan runs).
	if [ -z "${VALGRIND_LOGS:-}" ]; then
		[ $((a > b ? a - b : b - a)) -lt 400 ]
	fi
	# The log names the account that exists and not the name that does
	# not (it may be a password typed into USER); no password, no session.
	run grep -c 'pop3d: session=[0-9a-f]* login failed user=alice peer=local method=USER reason=bad credentials$' "$LOG"
	assert_output 3
	run grep -c 'pop3d: session=[0-9a-f]* login failed user=(unknown) peer=local method=USER reason=bad credentials$' "$LOG"
	assert_output 3
	run grep -e nosuchuser -e wrong -e '^open' "$LOG"
	assert_failure
}

@test "an expired account is refused like a bad password, the log says why" {
	POP3D_ARGS=--pam-session run pop_pam 'USER carol' 'PASS carolpw' QUIT
	assert_line --index 2 '-ERR [AUTH] authentication failed'
	run grep -c 'pop3d: session=[0-9a-f]* login failed user=carol peer=local method=USER reason=account expired or locked$' "$LOG"
	assert_output 1
	run grep -e '^open' -e carolpw "$LOG"
	assert_failure
}

@test "three failures end the connection" {
	run pop_pam 'USER alice' 'PASS a' 'USER alice' 'PASS b' 'USER bob' 'PASS c' CAPA
	assert_output "$(printf '%s\n' '+OK pop3d ready' \
		'+OK send the password' '-ERR [AUTH] authentication failed' \
		'+OK send the password' '-ERR [AUTH] authentication failed' \
		'+OK send the password' '-ERR [AUTH] authentication failed')"
	[ "$(cat "$T/status")" = 1 ]
	run grep -c 'pop3d: session=[0-9a-f]* too many login failures peer=local$' "$LOG"
	assert_output 1
}

@test "a second try after a failure can succeed" {
	run pop_pam 'USER alice' 'PASS nope' 'USER alice' 'PASS secret' QUIT
	assert_line --index 2 '-ERR [AUTH] authentication failed'
	assert_line --index 4 --regexp '^\+OK alice has 1 messages'
	[ "$(cat "$T/status")" = 0 ]
}

@test "root is never served, whatever --min-uid says" {
	POP3D_ARGS='--min-uid=0 --pam-session' run pop_pam 'USER root' 'PASS rootpw' QUIT
	assert_line --index 2 '-ERR [AUTH] authentication failed'
	run grep -c 'pop3d: session=[0-9a-f]* login failed user=root peer=local method=USER reason=uid 0 is never served$' "$LOG"
	assert_output 1
	run grep '^open' "$LOG"
	assert_failure
}

@test "--min-uid: accounts below it are refused (default 1000)" {
	[ "$ALICE_UID" -ge 1000 ] || skip "the caller's uid is below 1000"
	run pop_pam 'USER sys' 'PASS syspw' QUIT
	assert_line --index 2 '-ERR [AUTH] authentication failed'
	run grep -c 'login failed user=sys .* reason=uid below --min-uid$' "$LOG"
	assert_output 1
	# Lowered, the same account is served.
	needs_root "a mailbox owned by uid 500"
	: >"$T/mail/sys"
	own_as 500 "$T/mail/sys"
	POP3D_ARGS=--min-uid=500 run pop_pam 'USER sys' 'PASS syspw' QUIT
	assert_line --index 2 '+OK sys has 0 messages (0 octets)'
	run grep -c 'pop3d: session=[0-9a-f]* login user=sys peer=local method=USER uid=500 gid=500 ' "$LOG"
	assert_output 1
}

@test "a mailbox owned by another user is refused" {
	needs_root "giving the mailbox to another uid"
	own_as "$BOB_UID" "$MBOX"
	POP3D_ARGS=--pam-session run pop_pam 'USER alice' 'PASS secret' STAT
	assert_line --index 2 '-ERR [SYS/PERM] cannot open the mailbox'
	[ "$(cat "$T/status")" = 1 ]
	run grep -c "login user=alice peer=local: mailbox $MBOX: owned by uid $BOB_UID, not by the user (uid $ALICE_UID): chown $ALICE_UID $MBOX\$" "$LOG"
	assert_output 1
	# The PAM session was opened for the login, and is closed all the same.
	run grep -c '^close user=alice ' "$LOG"
	assert_output 1
}

@test "%h in --mailbox is the home directory from the passwd database" {
	msg c@example.org home 'in the home' >"$T/home/alice/mbox"
	chmod 600 "$T/home/alice/mbox"
	own_as "$ALICE_UID" "$T/home/alice/mbox"
	printf 'USER alice\r\nPASS secret\r\nRETR 1\r\nQUIT\r\n' >"$T/in"
	run cw_root "$POP3D" -m %h/mbox <"$T/in"
	assert_success
	assert_line --partial 'in the home'
}

@test "-s picks the PAM service; a service that does not exist fails safe" {
	mv "$T/pam/pop3" "$T/pam/mypop"
	# pam_matrix's account check wants the service named in its passdb.
	sed -i 's/^alice:secret:pop3$/alice:secret:mypop/' "$T/passdb"
	POP3D_ARGS='-s mypop --pam-session' run pop_pam 'USER alice' 'PASS secret' QUIT
	assert_line --index 2 --regexp '^\+OK alice has 1 messages'
	run grep -c '^open user=alice .* service=mypop ' "$LOG"
	assert_output 1
	run pop_pam 'USER alice' 'PASS secret' QUIT
	assert_line --index 2 '-ERR [AUTH] authentication failed'
}

@test "a PAM question pop3d cannot answer is refused, not guessed" {
	# pam_matrix's "echo" asks with PAM_PROMPT_ECHO_ON.
	sed -i '1s/$/ echo/' "$T/pam/pop3"
	run pop_pam 'USER alice' 'PASS secret' QUIT
	assert_line --index 2 '-ERR [SYS/TEMP] authentication is not available now, try later'
	run grep -c 'PAM asked a question pop3d cannot answer (style 2)' "$LOG"
	assert_output 1
}

@test "--lock-group keeps that group as the saved gid, and only it" {
	run cw_root "$POP3D" --lock-group=nosuchgroup </dev/null
	assert_failure 2
	assert_output --partial 'no group nosuchgroup'
	run cw_root "$POP3D" --lock-group=root </dev/null
	assert_failure 2
	assert_output --partial 'not group 0'
	POP3D_ARGS=--lock-group=mail run pop_pam 'USER alice' 'PASS secret' QUIT
	assert_line --index 2 --regexp '^\+OK alice has 1 messages'
	[ "$(cat "$T/status")" = 0 ]
}

@test "started as an ordinary user: only that user's account" {
	# As root, setpriv really becomes alice; otherwise the caller is alice.
	local as=()
	if [ "$(id -u)" -eq 0 ]; then
		chown "$ALICE_UID:$ALICE_UID" "$T/mail" "$MBOX"
		as=(setpriv --reuid="$ALICE_UID" --regid="$ALICE_UID" --clear-groups)
	fi
	printf 'USER bob\r\nPASS hunter2\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' >"$T/in"
	cw "${as[@]}" "$POP3D" -d --pam-session -m "$T/mail/%u" --min-uid="$ALICE_UID" \
		<"$T/in" >"$T/out" 2>>"$LOG"
	run tr -d '\r' <"$T/out"
	assert_line --index 2 "-ERR [AUTH] this server serves only the account it runs as"
	assert_line --index 4 --regexp '^\+OK alice has 1 messages'
	run cat "$LOG"
	assert_line --regexp "^pop3d: session=[0-9a-f]{12} login user=alice peer=local method=USER uid=$ALICE_UID gid=$ALICE_UID messages=1 tls=no failures=1\$"
	assert_line --regexp '^pop3d: session=[0-9a-f]{12} login failed user=bob peer=local method=USER reason=not the account pop3d runs as$'
	# The PAM session ran as alice, too.
	assert_line --regexp "^open user=alice .* euid=$ALICE_UID\$"
}
