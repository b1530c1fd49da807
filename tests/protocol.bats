#!/usr/bin/env bats
# RFC 1939 and RFC 2449 sessions as transcripts: every command in the states
# where it is valid.  Sizes are counted by hand from the fixture: every line
# ends in CRLF on the wire, and the From_ line and separator are not sent.

load helpers
load transcript

setup() {
	setup_account
	# 1: 21 + 14 + 2 + 7 = 44 octets; 2: 21 + 14 + 2 + 6 + 6 = 49;
	# 3: 21 + 16 + 2 + 3 * 4 = 51.  Total 144.
	{
		msg a@example.org one 'hello'
		msg b@example.org two 'line\n.dot'
		msg c@example.org three 'l1\nl2\nl3'
	} | write_mbox
	cp "$MBOX" "$T/before"
}

@test "greeting, USER, PASS, STAT and QUIT; exit status 0" {
	transcript <<-EOF
	S~ ^\+OK .+
	C: USER alice
	S: +OK send the password
	C: PASS secret
	S: +OK alice has 3 messages (144 octets)
	C: STAT
	S: +OK 3 144
	C: QUIT
	S: +OK bye, 3 messages left
	EOF
	[ "$rc" -eq 0 ]
	cmp "$T/before" "$MBOX"
}

@test "QUIT in AUTHORIZATION ends the session without UPDATE" {
	transcript <<-EOF
	S~ ^\+OK
	C: USER alice
	S: +OK send the password
	C: QUIT
	S: +OK bye
	C: PASS secret
	EOF
	[ "$rc" -eq 0 ]
	cmp "$T/before" "$MBOX"
}

@test "LIST and LIST n give exact octet counts" {
	transcript <<-EOF
	@login
	C: LIST
	S: +OK scan listing follows
	S: 1 44
	S: 2 49
	S: 3 51
	S: .
	C: LIST 2
	S: +OK 2 49
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "RETR n sends the message without its From_ line, dot-stuffed" {
	transcript <<-EOF
	@login
	C: RETR 2
	S: +OK 49 octets
	S: From: b@example.org
	S: Subject: two
	S:
	S: line
	S: ..dot
	S: .
	C: RETR 1
	S: +OK 44 octets
	S: From: a@example.org
	S: Subject: one
	S:
	S: hello
	S: .
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "DELE hides a message from STAT, LIST, UIDL, RETR and TOP until RSET" {
	transcript <<-EOF
	@login
	C: DELE 2
	S: +OK message 2 deleted
	C: STAT
	S: +OK 2 95
	C: LIST
	S: +OK scan listing follows
	S: 1 44
	S: 3 51
	S: .
	C: UIDL
	S: +OK unique-id listing follows
	S~ ^1 [0-9a-f]{32}$
	S~ ^3 [0-9a-f]{32}$
	S: .
	C: LIST 2
	S~ ^-ERR
	C: RETR 2
	S~ ^-ERR
	C: TOP 2 0
	S~ ^-ERR
	C: UIDL 2
	S~ ^-ERR
	C: DELE 2
	S~ ^-ERR
	C: NOOP
	S: +OK
	C: RSET
	S: +OK maildrop has 3 messages (144 octets)
	C: STAT
	S: +OK 3 144
	C: QUIT
	S: +OK bye, 3 messages left
	EOF
	[ "$rc" -eq 0 ]
	cmp "$T/before" "$MBOX"
}

@test "TOP n k: headers, the blank line and k body lines (all if fewer)" {
	transcript <<-EOF
	@login
	C: TOP 3 0
	S: +OK top of message follows
	S: From: c@example.org
	S: Subject: three
	S:
	S: .
	C: TOP 3 2
	S: +OK top of message follows
	S: From: c@example.org
	S: Subject: three
	S:
	S: l1
	S: l2
	S: .
	C: TOP 3 10
	S: +OK top of message follows
	S: From: c@example.org
	S: Subject: three
	S:
	S: l1
	S: l2
	S: l3
	S: .
	C: TOP 2 1
	S: +OK top of message follows
	S: From: b@example.org
	S: Subject: two
	S:
	S: line
	S: .
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "TOP's +OK line gives no octet count; RETR's gives the message's size" {
	# The message's size (LIST, RETR) is not the size of what TOP sends: a
	# client that reads a count off TOP's line must find none.
	run pop 'LIST 3' 'TOP 3 1' 'RETR 3' QUIT
	assert_line --index 3 '+OK 3 51'
	assert_line --index 4 '+OK top of message follows'
	[[ ! ${lines[4]} =~ [0-9] ]]
	assert_line --index 5 'From: c@example.org'
	assert_line --index 7 'l1'
	assert_line --index 8 '.'
	assert_line --index 9 '+OK 51 octets'
}

@test "UIDL and UIDL n agree; ids are 32 hex digits" {
	transcript <<-EOF
	@login
	C: UIDL
	S: +OK unique-id listing follows
	S~ ^1 [0-9a-f]{32}$
	S~ ^2 [0-9a-f]{32}$
	S~ ^3 [0-9a-f]{32}$
	S: .
	C: UIDL 3
	S~ ^\+OK 3 [0-9a-f]{32}$
	C: QUIT
	S~ ^\+OK
	EOF
	local all one
	all=$(tr -d '\r' <"$T/replies" | sed -n 's/^3 //p')
	one=$(tr -d '\r' <"$T/replies" | sed -n 's/^+OK 3 //p')
	[ -n "$all" ]
	[ "$all" = "$one" ]
}

@test "QUIT runs the UPDATE: exactly the DELE'd messages go, the rest stay byte for byte" {
	transcript <<-EOF
	@login
	C: DELE 2
	S: +OK message 2 deleted
	C: QUIT
	S: +OK bye, 2 messages left
	EOF
	[ "$rc" -eq 0 ]
	{ msg a@example.org one 'hello'; msg c@example.org three 'l1\nl2\nl3'; } >"$T/want"
	cmp "$T/want" "$MBOX"
	transcript <<-EOF
	@login
	C: LIST
	S: +OK scan listing follows
	S: 1 44
	S: 2 51
	S: .
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "CAPA lists the RFC 2449 capabilities, the same in both states (section 5)" {
	transcript <<-EOF
	S~ ^\+OK
	C: CAPA
	S: +OK capability list follows
	S: TOP
	S: UIDL
	S: RESP-CODES
	S: AUTH-RESP-CODE
	S: PIPELINING
	S: EXPIRE NEVER
	S: USER
	S: SASL PLAIN
	S~ ^IMPLEMENTATION pop3d [0-9.]+$
	S: .
	C: USER alice
	S: +OK send the password
	C: PASS secret
	S~ ^\+OK alice has 3 messages
	C: cApA
	S: +OK capability list follows
	...
	EOF
	# The second listing, in TRANSACTION, is the first one again.
	sed -n '2,/^\.\r$/p' "$T/replies" >"$T/authorization"
	sed -n '/^+OK alice has/,$p' "$T/replies" | sed '1d' >"$T/transaction"
	cmp "$T/authorization" "$T/transaction"
}

@test "commands are case-insensitive" {
	transcript <<-EOF
	S~ ^\+OK
	C: user alice
	S: +OK send the password
	C: pAsS secret
	S~ ^\+OK alice has 3 messages
	C: stat
	S: +OK 3 144
	C: List 1
	S: +OK 1 44
	C: uIdL 1
	S~ ^\+OK 1 [0-9a-f]{32}$
	C: top 1 0
	S: +OK top of message follows
	S: From: a@example.org
	S: Subject: one
	S:
	S: .
	C: retr 1
	S: +OK 44 octets
	S: From: a@example.org
	S: Subject: one
	S:
	S: hello
	S: .
	C: noop
	S: +OK
	C: dele 1
	S: +OK message 1 deleted
	C: rset
	S~ ^\+OK
	C: quit
	S: +OK bye, 3 messages left
	EOF
}

@test "command lines may end in a bare LF" {
	transcript <<-EOF
	S~ ^\+OK
	L: USER alice
	S: +OK send the password
	L: PASS secret
	S~ ^\+OK alice has 3 messages
	L: LIST 1
	S: +OK 1 44
	C: STAT
	S: +OK 3 144
	L: DELE 3
	S: +OK message 3 deleted
	L: QUIT
	S: +OK bye, 2 messages left
	EOF
	[ "$rc" -eq 0 ]
	{ msg a@example.org one 'hello'; msg b@example.org two 'line\n.dot'; } >"$T/want"
	cmp "$T/want" "$MBOX"
}

@test "a password may hold spaces and 8-bit bytes" {
	HASH=$(openssl passwd -6 -salt s0m3salt 'pass wörd  x')
	sed -i "s|^alice:[^:]*|alice:$HASH|" "$T/passwd"
	transcript <<-EOF
	S~ ^\+OK
	C: USER alice
	S: +OK send the password
	C: PASS pass wörd  x
	S~ ^\+OK alice has 3 messages
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "a pipelined session gets its replies in order" {
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nLIST 1\r\nNOOP\r\nQUIT\r\n' |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" >"$T/replies"
	printf '+OK alice has 3 messages (144 octets)\r\n+OK 3 144\r\n+OK 1 44\r\n+OK\r\n+OK bye, 3 messages left\r\n' >"$T/want"
	tail -n +3 "$T/replies" | cmp "$T/want" -
}
