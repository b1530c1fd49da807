#!/usr/bin/env bats
# The whole chain as root with PAM (cwrap): the login process owns TLS and
# stays as the relay, the root monitor holds the PAM session, the user's
# process serves the mailbox through the relay.

load helpers
load cwrap
load net

setup_file() {
	cwrap_build_module
}

setup() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root: privilege separation happens only when started as root"
	fi
	cwrap_setup
	msg a@example.org one 'hello' >"$MBOX"
	chmod 600 "$MBOX"
	own_as "$ALICE_UID" "$MBOX"
	make_pki
}

teardown() {
	stop_server
}

@test "PAM over implicit TLS: relay, monitor and user's process; the session closes after the last reply" {
	SERVE_AS=cw_root serve -a pam --pam-session --tls=implicit $TLS_FILES
	run s_client <<<$'USER alice\nPASS secret\nRETR 1\nQUIT'
	assert_line --index 0 '+OK pop3d ready'
	assert_line --regexp '^\+OK alice has 1 messages'
	assert_line 'hello'
	assert_line --index -1 --regexp '^\+OK bye, 1 messages left$'
	sleep 0.3
	run bash -c "grep -h -o -E '^(open|close) ' '$LOG'; grep -h -o -E 'pop3d: session=[0-9a-f]{12} (login|session end) ' '$T/server.log' | sed 's/session=[0-9a-f]* //'"
	assert_line 'open '
	assert_line 'close '
	assert_line 'pop3d: login '
	assert_line 'pop3d: session end '
	grep -q 'TLS established' "$T/server.log"
	grep -q "^close user=alice .* euid=0$" "$LOG"
}
