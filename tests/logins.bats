#!/usr/bin/env bats
# Every way to log in: USER/PASS, AUTH PLAIN (RFC 5034, RFC 4616) and APOP
# (RFC 1939 section 7), and the one throttle they all go through.

load helpers
load login

setup() {
	setup_account
	msg a@example.org one 'hello' | write_mbox
}

@test "CAPA offers SASL PLAIN where plaintext is allowed, and AUTH lists it" {
	run session CAPA AUTH QUIT
	assert_success
	assert_line 'SASL PLAIN'
	assert_line 'USER'
	assert_line --index 12 '+OK'
	assert_line --index 13 'PLAIN'
	assert_line --index 14 '.'
}

@test "--plaintext=never: no SASL PLAIN in CAPA, AUTH PLAIN refused with [AUTH]" {
	POP3D_ARGS=--plaintext=never run session CAPA "AUTH PLAIN $(plain '' alice secret)" AUTH QUIT
	assert_success
	refute_line 'SASL PLAIN'
	refute_line 'USER'
	assert_line '-ERR [AUTH] Plaintext authentication is not allowed on this connection'
	refute_line 'PLAIN'
	refute_line --regexp '^\+OK alice'
}

@test "AUTH PLAIN with an initial response logs in" {
	run session "AUTH PLAIN $(plain '' alice secret)" STAT QUIT
	assert_success
	assert_line --index 1 '+OK alice has 1 messages (44 octets)'
	assert_line --index 2 '+OK 1 44'
	grep -q 'login user=alice peer=local method=PLAIN ' "$T/log"
}

@test "AUTH PLAIN, then the response after the '+ ' continuation" {
	run session 'auth plain' "$(plain alice alice secret)" STAT QUIT
	assert_success
	assert_line --index 1 '+ '
	assert_line --index 2 '+OK alice has 1 messages (44 octets)'
	assert_line --index 3 '+OK 1 44'
}

@test "AUTH PLAIN: an authzid other than the user is refused" {
	run session "AUTH PLAIN $(plain bob alice secret)" QUIT
	assert_success
	assert_line --index 1 '-ERR [AUTH] authorization identity refused'
	assert_line --index 2 '+OK bye'
	grep -q 'AUTH PLAIN refused: authorization identity differs' "$T/log"
}

@test "AUTH PLAIN: '*' cancels, and USER/PASS still works after it" {
	run session 'AUTH PLAIN' '*' 'USER alice' 'PASS secret' QUIT
	assert_success
	assert_line --index 1 '+ '
	assert_line --index 2 '-ERR authentication cancelled'
	assert_line --index 4 --regexp '^\+OK alice has 1 messages'
}

@test "AUTH PLAIN: bad base64 and malformed responses are -ERR, never a crash" {
	# Bad characters, a length not a multiple of 4, padding in the middle,
	# too much padding, non-zero pad bits, a space inside, and "=" (empty).
	run session \
		'AUTH PLAIN !!!!' 'AUTH PLAIN AGFsaWNlAHNlY3JldA' 'AUTH PLAIN AG=hbGljZQBzZWNyZXQ=' \
		'AUTH PLAIN AGFsaWNlAHNlY3JldA===' 'AUTH PLAIN AGFsaWNlAHNlY3JldB==' \
		'AUTH PLAIN' 'AGFsaWNl AHNlY3JldA==' 'AUTH PLAIN =' QUIT
	assert_success
	for i in 1 2 3 4 5 7 8; do
		assert_line --index "$i" '-ERR invalid authentication response'
	done
	assert_line --index 6 '+ '
	assert_line --index 9 '+OK bye'
	grep -q 'AUTH PLAIN refused: invalid base64' "$T/log"
	# Good base64 of bad PLAIN messages: no NUL, one NUL, three NULs, an
	# empty user, an empty password.
	run session \
		"AUTH PLAIN $(printf alicesecret | base64)" \
		"AUTH PLAIN $(printf 'alice\0secret' | base64)" \
		"AUTH PLAIN $(printf '\0alice\0secret\0' | base64)" \
		"AUTH PLAIN $(plain '' '' secret)" "AUTH PLAIN $(plain '' alice '')" \
		QUIT
	assert_success
	for i in 1 2 3 4 5; do
		assert_line --index "$i" '-ERR invalid authentication response'
	done
	assert_line --index 6 '+OK bye'
	grep -q 'AUTH PLAIN refused: malformed PLAIN response' "$T/log"
}

@test "AUTH: an unknown mechanism and a response line past the limit are refused" {
	run session 'AUTH CRAM-MD5' 'AUTH PLAIN' "$(head -c 2000 /dev/zero | tr '\0' A)" QUIT
	assert_success
	assert_line --index 1 '-ERR unsupported authentication mechanism'
	assert_line --index 2 '+ '
	assert_line --index 3 '-ERR authentication response too long'
	assert_line --index 4 '+OK bye'
}

@test "AUTH PLAIN with a wrong password: [AUTH], after a delay, logged as PLAIN" {
	local t0; t0=$(now_ms)
	run session "AUTH PLAIN $(plain '' alice wrong)" QUIT
	assert_success
	(( $(now_ms) - t0 >= 900 ))
	assert_line --index 1 '-ERR [AUTH] authentication failed'
	grep -q 'login failed user=alice peer=local method=PLAIN reason=bad credentials' "$T/log"
}

@test "the throttle is shared: a USER, a PLAIN and an APOP failure end the connection" {
	printf 'alice:tanstaaf\n' >"$T/apop"
	chmod 600 "$T/apop"
	local t0; t0=$(now_ms)
	POP3D_ARGS="--apop=$T/apop" run session 'USER alice' 'PASS wrong' \
		"AUTH PLAIN $(plain '' alice wrong)" \
		'APOP alice 0123456789abcdef0123456789abcdef' 'USER alice' 'PASS secret'
	assert_failure 1
	(( $(now_ms) - t0 >= 2700 ))
	assert_equal "$(grep -c '^-ERR \[AUTH\] authentication failed$' <<<"$output")" 3
	refute_line --regexp '^\+OK alice has'
	grep -q 'method=USER reason=bad credentials' "$T/log"
	grep -q 'method=PLAIN reason=bad credentials' "$T/log"
	grep -q 'method=APOP reason=bad credentials' "$T/log"
	grep -q 'too many login failures' "$T/log"
}

@test "APOP: the greeting carries a timestamp only with --apop" {
	run session QUIT
	assert_line --index 0 '+OK pop3d ready'
	printf 'alice:tanstaaf\n' >"$T/apop"
	chmod 600 "$T/apop"
	POP3D_ARGS="--apop=$T/apop" run session QUIT
	assert_line --index 0 --regexp '^\+OK pop3d ready <[0-9]+\.[0-9]+\.[0-9]+\.[0-9a-f]{16}@[A-Za-z0-9.-]+>$'
	local first=${lines[0]}
	POP3D_ARGS="--apop=$T/apop" run session QUIT
	[ "${lines[0]}" != "$first" ]
}

@test "APOP with the right digest logs in; without --apop APOP is refused" {
	printf '# secrets\nbob:other\nalice:tanstaaf\n' >"$T/apop"
	chmod 600 "$T/apop"
	POP3D_ARGS="--apop=$T/apop" run apop_session tanstaaf STAT QUIT
	assert_success
	assert_line --index 1 '+OK alice has 1 messages (44 octets)'
	assert_line --index 2 '+OK 1 44'
	grep -q 'login user=alice peer=local method=APOP ' "$T/log"
	run session 'APOP alice c4c9334bac560ecc979e58001b3e22fb' QUIT
	assert_line --index 1 '-ERR APOP is not enabled'
}

@test "APOP with a wrong secret, and for a user with no account, fails" {
	printf 'alice:tanstaaf\n' >"$T/apop"
	chmod 600 "$T/apop"
	POP3D_ARGS="--apop=$T/apop" run apop_session wrong QUIT
	assert_line --index 1 '-ERR [AUTH] authentication failed'
	grep -q 'method=APOP reason=bad credentials' "$T/log"
	# A right secret, but no entry in the --auth file: nothing to serve.
	printf 'bob:tanstaaf\n' >>"$T/passwd"
	sed -i '/^alice:/d' "$T/passwd"
	POP3D_ARGS="--apop=$T/apop" run apop_session tanstaaf QUIT
	assert_line --index 1 '-ERR [AUTH] authentication failed'
	grep -q 'APOP secret of user=alice is right, but the account is not in the --auth backend' "$T/log"
}

@test "APOP: malformed digests are -ERR before any check" {
	printf 'alice:tanstaaf\n' >"$T/apop"
	chmod 600 "$T/apop"
	POP3D_ARGS="--apop=$T/apop" run session 'APOP alice' 'APOP alice xyz' \
		'APOP alice 0123456789abcdef0123456789abcdeg' \
		'APOP alice 0123456789abcdef0123456789abcdef0' QUIT
	assert_success
	assert_line --index 1 '-ERR missing argument'
	assert_line --index 2 '-ERR invalid digest'
	assert_line --index 3 '-ERR invalid digest'
	assert_line --index 4 '-ERR invalid digest'
}

@test "--apop refuses a secrets file that group or others may read" {
	printf 'alice:tanstaaf\n' >"$T/apop"
	for mode in 640 604 660 644; do
		chmod "$mode" "$T/apop"
		run "$POP3D" -a "file:$T/passwd" --apop="$T/apop" -d </dev/null
		assert_failure 2
		assert_output --partial "APOP file $T/apop: refused"
		[ "${#lines[@]}" -eq 1 ]
	done
	run "$POP3D" -a "file:$T/passwd" --apop="$T/missing" -d </dev/null
	assert_failure 2
}

@test "--apop refuses a secrets file owned by another user" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the file away"
	printf 'alice:tanstaaf\n' >"$T/apop"
	chmod 600 "$T/apop"
	chown "$TEST_UID" "$T/apop"
	run "$POP3D" -a "file:$T/passwd" --apop="$T/apop" -d </dev/null
	assert_failure 2
	assert_output --partial 'refused'
}

@test "a backend that cannot answer is [SYS/TEMP], throttled like a failure" {
	# A malformed entry: the backend cannot say yes or no.
	sed -i 's/^alice:\([^:]*\):.*/alice:\1:uid:gid:\/nowhere/; t; s/^alice:\(.*\)$/alice:\1:uid:gid:\/nowhere/' "$T/passwd"
	local t0; t0=$(now_ms)
	run session 'USER alice' 'PASS secret' QUIT
	assert_success
	(( $(now_ms) - t0 >= 900 ))
	assert_line --index 2 '-ERR [SYS/TEMP] authentication is not available now, try later'
	grep -q 'malformed entry' "$T/log"
	grep -q 'method=USER reason=backend error' "$T/log"
}

# log_field FILE LINE-START KEY: the value of KEY= on the line of FILE that
# starts (after the session field) with LINE-START.
log_field() {
	grep -E "^pop3d: session=[0-9a-f]{12} $2" "$1" | grep -o -E " $3=[^ ]*" |
		cut -d= -f2
}

@test "log: every line carries session=ID, the same within a session and another in the next one" {
	run session 'USER alice' 'PASS wrong' 'USER alice' 'PASS secret' QUIT
	assert_success
	run grep -v -E '^pop3d: session=[0-9a-f]{12} ' "$T/log"
	assert_output ''
	first=$(grep -o '^pop3d: session=[0-9a-f]* ' "$T/log" | sort -u)
	[ "$(wc -l <<<"$first")" -eq 1 ]
	[ "$(grep -c "^$first" "$T/log")" -ge 3 ]	# failed, login, end
	run session 'USER alice' 'PASS secret' QUIT
	second=$(grep -o '^pop3d: session=[0-9a-f]* ' "$T/log" | sort -u)
	[ "$(wc -l <<<"$second")" -eq 1 ]
	[ "$first" != "$second" ]
}

@test "log: failures= on the login line counts the failed attempts before it" {
	run session 'USER alice' 'PASS wrong' 'USER alice' 'PASS wrong' 'USER alice' 'PASS secret' QUIT
	assert_success
	assert_equal "$(log_field "$T/log" 'login user=' failures)" 2
	assert_equal "$(log_field "$T/log" 'login user=' tls)" no
	run session 'USER alice' 'PASS secret' QUIT
	assert_equal "$(log_field "$T/log" 'login user=' failures)" 0
}

@test "log: session end has duration=, sent= (the octets the client got) and top=" {
	{ msg a@example.org two 'line 1\nline 2'; } >>"$MBOX"
	# One failure: its pause (1 s) is part of the session's duration.
	printf '%s\r\n' 'USER alice' 'PASS wrong' 'USER alice' 'PASS secret' \
		'TOP 1 0' 'TOP 2 1' 'TOP 9 1' 'RETR 1' 'LIST' QUIT |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 -d 2>"$T/log" >"$T/out"
	grep -q '^+OK bye' "$T/out"
	sent=$(log_field "$T/log" 'session end ' sent)
	assert_equal "$sent" "$(wc -c <"$T/out")"
	assert_equal "$(log_field "$T/log" 'session end ' top)" 2	# TOP 9 failed
	duration=$(log_field "$T/log" 'session end ' duration)
	[[ $duration =~ ^[0-9]+\.[0-9]{3}$ ]]
	ms=$((10#${duration/./}))
	[ "$ms" -ge 1000 ] && [ "$ms" -lt 30000 ]
}
