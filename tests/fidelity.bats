#!/usr/bin/env bats
# mbox fidelity: hidden bookkeeping headers, UW's pseudo-message,
# Content-Length, and the UIDLs of the servers users migrate from.

load helpers

setup() {
	setup_account
}

# retr N: the reply to RETR N, CRs kept, as the client gets it.
retr() {
	printf 'USER alice\r\nPASS secret\r\nRETR %s\r\nQUIT\r\n' "$1" | pop_raw |
		sed -n '4,$p' | sed '$d'
}

# octets FILE: what RETR's +OK and LIST must say for a reply in FILE:
# the bytes between the +OK line and the final ".", dot-stuffing undone.
octets() {
	sed '1d;$d' "$1" | sed 's/^\.\././' | wc -c
}

@test "bookkeeping headers are hidden from RETR, TOP and every octet count" {
	# Stored with LF line ends, then with CRLF: the same replies.
	for end in '\n' '\r\n'; do
		printf "%s$end" 'From a@example.org Mon Jan  1 00:00:00 2024' \
			'Status: RO' 'X-Status: A' 'From: a@example.org' \
			'X-Keywords: $Label1' '  junk' 'X-UID: 7' 'Subject: hi' \
			'X-IMAPbase: 1234 7' 'X-IMAP: 1234 7' 'X-Dovecot-Hash: abc' \
			'X-Dovecot-Other: def' '' 'body' '' | write_mbox
		retr 1 >"$T/retr"
		printf '+OK 42 octets\r\nFrom: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n.\r\n' >"$T/want"
		cmp "$T/want" "$T/retr"
		[ "$(octets "$T/retr")" -eq 42 ]
		run pop 'LIST 1' STAT 'TOP 1 0'
		assert_line --index 3 '+OK 1 42'
		assert_line --index 4 '+OK 1 42'
		assert_line --index 6 'From: a@example.org'
		assert_line --index 7 'Subject: hi'
		assert_line --index 8 '.'	# (bats leaves out the blank line)
	done
}

@test "UW IMAP's FOLDER INTERNAL DATA pseudo-message is hidden and kept" {
	{
		printf '%s\n' 'From MAILER-DAEMON Mon Jan  1 00:00:00 2024' \
			'Date: Mon, 1 Jan 2024 00:00:00 +0000' \
			'From: Mail System Internal Data <MAILER-DAEMON@example.org>' \
			"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA" \
			'X-IMAP: 1700000000 0000000002' 'Status: RO' '' \
			'This text is part of the internal format of your mail folder.' ''
		msg a@example.org one 'first'
		msg b@example.org two 'second'
	} | write_mbox
	head -n 9 "$MBOX" >"$T/pseudo"
	run pop STAT 'TOP 1 0' 'DELE 1' 'DELE 2' QUIT
	assert_line --index 2 --regexp '^\+OK alice has 2 messages'
	assert_line --index 5 'From: a@example.org'
	assert_line --index -1 '+OK bye, 0 messages left'
	# Only the pseudo-message is left, as UW IMAP and Dovecot expect.
	cmp "$T/pseudo" "$MBOX"
	run pop STAT
	assert_line --index 3 '+OK 0 0'
}

@test "an X-IMAP header alone does not hide a message" {
	{
		printf '%s\n' 'From a@example.org Mon Jan  1 00:00:00 2024' \
			'X-IMAP: 1 2' 'Subject: not the pseudo-message' '' 'x' ''
		msg b@example.org two 'second'
	} | write_mbox
	run pop STAT
	assert_line --index 3 --regexp '^\+OK 2 '
}

@test "a consistent Content-Length keeps a body's From_ line inside it" {
	# The body holds a blank line and a "From " line; Content-Length
	# says where it really ends (just before the separator).
	body=$'line\n\nFrom inside the body\nend\n'
	{
		printf 'From a@example.org Mon Jan  1 00:00:00 2024\n'
		printf 'Content-Length: %d\nSubject: one\n\n%s\n' "${#body}" "$body"
		msg b@example.org two 'second'
	} | write_mbox
	run pop STAT 'RETR 1'
	assert_line --index 3 --regexp '^\+OK 2 '
	assert_line --index 8 'From inside the body'
	assert_line --index 9 'end'
	assert_line --index 10 '.'
}

@test "a consistent Content-Length is honoured in a mailbox stored with CRLF" {
	# It counts the body's bytes as stored, CRs included.
	body=$'line\r\n\r\nFrom inside the body\r\nend\r\n'
	{
		printf 'From a@example.org Mon Jan  1 00:00:00 2024\r\n'
		printf 'Content-Length: %d\r\nSubject: one\r\n\r\n%s\r\n' "${#body}" "$body"
		msg b@example.org two 'second' | sed 's/$/\r/'
	} | write_mbox
	run pop STAT 'RETR 1'
	assert_line --index 3 --regexp '^\+OK 2 '
	assert_line --index 8 'From inside the body'
	assert_line --index 9 'end'
	assert_line --index 10 '.'
}

@test "an inconsistent Content-Length is ignored" {
	body=$'line\n\nFrom inside the body\nend\n'
	for cl in 3 $((${#body} + 1)) 99999; do
		{
			printf 'From a@example.org Mon Jan  1 00:00:00 2024\n'
			printf 'Content-Length: %d\nSubject: one\n\n%s\n' "$cl" "$body"
			msg b@example.org two 'second'
		} | write_mbox
		run pop STAT
		assert_line --index 3 --regexp '^\+OK 3 '
	done
}

@test "--uidl=xuidl reuses X-UIDL values; invalid or repeated ones fall back" {
	{
		printf 'From a@x Mon Jan  1 00:00:00 2024\nX-UIDL: 3f1a2b\nSubject: 1\n\nx\n\n'
		printf 'From a@x Mon Jan  1 00:00:00 2024\nX-UIDL:  <spaced value>\nSubject: 2\n\nx\n\n'
		printf 'From a@x Mon Jan  1 00:00:00 2024\nX-UIDL: dup\nSubject: 3\n\nx\n\n'
		printf 'From a@x Mon Jan  1 00:00:00 2024\nX-UIDL: dup\nSubject: 4\n\nx\n\n'
		printf 'From a@x Mon Jan  1 00:00:00 2024\nX-UIDL: %s\nSubject: 5\n\nx\n\n' "$(printf 'a%.0s' {1..71})"
		printf 'From a@x Mon Jan  1 00:00:00 2024\nSubject: 6\n\nx\n\n'
	} | write_mbox
	run pop UIDL
	own=("${lines[@]}")
	POP3D_ARGS=--uidl=xuidl run pop UIDL
	assert_line --index 4 '1 3f1a2b'
	# A space makes it no valid UIDL (RFC 1939 section 7), as do 71
	# characters and values that repeat: pop3d's own ids then.
	for i in 5 6 7 8 9; do
		assert_line --index $i "${own[$i]}"
	done
	POP3D_ARGS=--uidl=pop3d run pop UIDL
	assert_output "$(printf '%s\n' "${own[@]}")"
}

@test "--uidl=uw and --uidl=dovecot build ids from X-IMAPbase and X-UID" {
	{
		printf 'From a@x Mon Jan  1 00:00:00 2024\nX-IMAPbase: 1234567890 0000000003\nX-UID: 1\nSubject: 1\n\nx\n\n'
		printf 'From a@x Mon Jan  1 00:00:00 2024\nX-UID: 3\nSubject: 2\n\nx\n\n'
		printf 'From a@x Mon Jan  1 00:00:00 2024\nSubject: 3\n\nx\n\n'
	} | write_mbox
	run pop UIDL
	local third=${lines[6]}
	POP3D_ARGS=--uidl=uw run pop UIDL
	assert_line --index 4 '1 499602d200000001'
	assert_line --index 5 '2 499602d200000003'
	assert_line --index 6 "$third"	# no X-UID: pop3d's own
	POP3D_ARGS=--uidl=dovecot run pop UIDL
	assert_line --index 4 '1 00000001499602D2'
	assert_line --index 5 '2 00000003499602D2'
}

@test "--uidl=uw takes UIDVALIDITY from UW's pseudo-message" {
	{
		printf '%s\n' 'From MAILER-DAEMON Mon Jan  1 00:00:00 2024' \
			"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA" \
			'X-IMAP: 1700000000 0000000002' '' 'internal' ''
		printf 'From a@x Mon Jan  1 00:00:00 2024\nX-UID: 2\nSubject: 1\n\nx\n\n'
	} | write_mbox
	POP3D_ARGS=--uidl=uw run pop UIDL
	assert_line --index 4 "1 6553f10000000002"
}

@test "--uidl=popa3d reproduces popa3d's header MD5" {
	{
		printf 'From a@x Mon Jan  1 00:00:00 2024\n'
		printf 'Date: Mon, 1 Jan 2024\nMessage-ID: <one@x>\n'
		printf 'Received: from a\n\tby b\nReceived: from c\n'
		printf 'Delivered-To: alice@x\nDate: later\nMessage-ID: <late@x>\n'
		printf 'X-Delivery-ID: 42\nSubject: s\n\nbody\n\n'
	} | write_mbox
	# popa3d hashes the first Received: (with its continuation),
	# Delivered-To:, X-Delivery-ID:, and Date:/Message-ID: only before the
	# first Received:; it prints digest bytes 3 2 1 0 7 6 5 4.
	local d=$(printf '%s' $'Date: Mon, 1 Jan 2024\nMessage-ID: <one@x>\nReceived: from a\n\tby b\nDelivered-To: alice@x\nX-Delivery-ID: 42\n' |
		md5sum | cut -c1-16)
	local want=${d:6:2}${d:4:2}${d:2:2}${d:0:2}${d:14:2}${d:12:2}${d:10:2}${d:8:2}
	POP3D_ARGS=--uidl=popa3d run pop UIDL
	assert_line --index 4 "1 $want"
}

@test "--uidl rejects unknown modes" {
	run "$POP3D" --uidl=qpopper
	assert_failure 2
	assert_output --partial 'bad --uidl'
}
