#!/usr/bin/env bats
# The core of RFC 1939 as transcripts: what the client sends, what it gets.

load helpers

setup() {
	setup_account
	{ msg a@example.org one 'hello'; msg b@example.org two 'line\n.dot'; } | write_mbox
}

@test "greeting, login, STAT, QUIT" {
	run pop STAT QUIT
	assert_success
	assert_line --index 0 --regexp '^\+OK '
	assert_line --index 1 '+OK send the password'
	assert_line --index 2 --regexp '^\+OK alice has 2 messages'
	assert_line --index 3 --regexp '^\+OK 2 [0-9]+$'
	assert_line --index 4 --regexp '^\+OK '
}

@test "RETR sends CRLF lines, dot-stuffed, ending in .CRLF" {
	printf 'USER alice\r\nPASS secret\r\nRETR 2\r\nQUIT\r\n' | pop_raw >"$T/out"
	# The reply to RETR 2, byte for byte.
	sed -n '4,10p' "$T/out" >"$T/retr"
	printf '+OK 49 octets\r\nFrom: b@example.org\r\nSubject: two\r\n\r\nline\r\n..dot\r\n.\r\n' >"$T/want"
	cmp "$T/want" "$T/retr"
}

@test "QUIT before login is answered, also after pipelined commands" {
	run pop_raw < <(printf 'CAPA\r\nQUIT\r\n')
	assert_success
	assert_line --index 1 $'+OK capability list follows\r'
	assert_line --partial $'IMPLEMENTATION pop3d'
	assert_line --index -1 --regexp $'^\\+OK .*\r$'
}

@test "the mailbox is free once QUIT is answered: a client reconnecting at once gets in" {
	command -v strace >/dev/null || skip "strace is not installed"
	strace -f -qq -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
	# The first session's exit is held back 2 s after its reply to QUIT.
	printf 'USER alice\r\nPASS secret\r\nQUIT\r\n' |
		ASAN_OPTIONS=$(no_leak_check) strace -f -qq -o /dev/null \
			-e trace=exit_group -e inject=exit_group:delay_enter=2000000 \
			"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 >"$T/first" 3>&- &
	local i
	for i in $(seq 50); do
		grep -q '^+OK bye' "$T/first" && break
		sleep 0.1
	done
	run pop STAT QUIT
	assert_line --index 2 --regexp '^\+OK alice has 2 messages'
	wait
}
