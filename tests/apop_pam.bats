#!/usr/bin/env bats
# APOP with --auth=pam: the shared secret proves the login, and PAM's
# account stage (not pam_authenticate) decides whether the account may log
# in, as for a password; the PAM session is opened as for USER/PASS.

load helpers
load cwrap
load login

setup_file() {
	cwrap_build_module
}

setup() {
	needs_root "the secrets file must be root's under uid_wrapper's fake root"
	cwrap_setup
	msg a@example.org one 'hello' >"$MBOX"
	chmod 600 "$MBOX"
	own_as "$ALICE_UID" "$MBOX"
	printf 'alice:tanstaaf\ncarol:carolsecret\n' >"$T/apop"
	chmod 600 "$T/apop"
	APOP_CMD=(cw_root "$POP3D" -d --pam-session -m "$T/mail/%u" -t 5 --apop="$T/apop")
}

@test "APOP through PAM: served as the user, inside a PAM session" {
	run apop_login alice tanstaaf STAT QUIT
	assert_success
	assert_line --index 1 --regexp '^\+OK alice has 1 messages \([0-9]+ octets\)$'
	grep -qE "^pop3d: session=[0-9a-f]* login user=alice peer=local method=APOP uid=$ALICE_UID gid=$ALICE_UID messages=1 tls=no failures=0$" "$LOG"
	grep -q '^open user=alice ' "$LOG"
	grep -q '^close user=alice ' "$LOG"
	# The APOP secret is not alice's PAM password ("secret"): the login
	# went through without pam_authenticate.
}

@test "APOP through PAM: an account PAM refuses is refused, after the delay" {
	local t0; t0=$(now_ms)
	run apop_login carol carolsecret QUIT
	(( $(now_ms) - t0 >= 900 ))
	assert_line --index 1 '-ERR [AUTH] authentication failed'
	refute_line --regexp '^\+OK carol has'
	grep -q 'login failed user=carol peer=local method=APOP reason=account expired or locked' "$LOG"
}
