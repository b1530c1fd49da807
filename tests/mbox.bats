#!/usr/bin/env bats
# How an mbox is served: message boundaries, exact sizes, dot-stuffing,
# hidden headers, UIDLs, and what UPDATE does to the file.  tests/pop3check
# is an independent implementation of the README's rules that checks every
# reply byte for byte.

load helpers
load transcript

setup() {
	setup_account
}

# check_all: every message of alice's mbox through STAT, LIST, UIDL, RETR and
# TOP, compared with tests/pop3check's own reading of the file.
check_all() {
	"$BATS_TEST_DIRNAME/pop3check" "$MBOX" -- "$POP3D" -a "file:$T/passwd" \
		-m "$T/mail/%u" -t 10
}

F='Mon Jan  1 00:00:00 2024'
MB="python3 $BATS_TEST_DIRNAME/mbox.py"

# torture_mbox: dot lines, "From " in bodies, blank lines, hidden headers, a
# message stored with CRLF, NULs and a lone CR, a 300 kB line, duplicates
# and a last line without a newline: 13 messages.
torture_mbox() {
	{
		printf 'From a %s\nSubject: dots\n\n.\n..\n.x\n. \nend.\n\n' "$F"
		printf 'From b %s\nSubject: from\n\n>From the start\nno blank before:\nFrom here\n>>From deeper\n\n' "$F"
		printf 'From c %s\nSubject: blanks\n\nbody\n\n\n\n' "$F"
		printf 'From d %s\nStatus: RO\nX-Status: A\nSubject: hidden\nX-Keywords: $Junk\n\tmore\nx-uid: 7\nX-IMAPbase: 1 2\nX-IMAP: 1 2\nX-Dovecot-Foo: x\nContent-Length: 5\nLines: 1\n\nStatus: in the body\n\n' "$F"
		printf 'From e %s\r\nSubject: crlf\r\n\r\nline\r\n.dot\r\n\r\n' "$F"
		printf 'From f %s\nSubject: bytes\n\n\000\377\376 \001\r x\n\n' "$F"
		printf 'From g %s\nSubject: a long line\n\n.' "$F"
		head -c 300000 /dev/zero | tr '\0' 'x'
		printf '\n\n'
		printf 'From h %s\nSubject: headers only\n\n' "$F"
		printf 'From i %s\n\n' "$F"
		printf 'From j %s\nSubject: same\n\nsame body\n\n' "$F" "$F" "$F"
		printf 'From k %s\nSubject: last\n\nno newline at the end' "$F"
	} | write_mbox
}

@test "every reply matches an independent reading of a torture mbox" {
	torture_mbox
	run check_all
	echo "$output"
	assert_success
	assert_output --partial "pop3check: 13 messages"
}

# random_mbox: 300 messages of random lines of ".>From xyz", tabs and CRs.
random_mbox() {
	python3 - "$MBOX" <<-'PY'
	import random, sys
	r = random.Random(7)
	with open(sys.argv[1], "wb") as f:
	    for i in range(300):
	        f.write(b"From x%d Mon Jan  1 00:00:00 2024\n" % i)
	        f.write(b"Subject: %d\n" % i)
	        if r.random() < 0.3:
	            f.write(b"Status: RO\n")
	        f.write(b"\n")
	        for _ in range(r.randrange(0, 40)):
	            line = bytes(r.choice(b".>From xyz\t\r") for _ in range(r.randrange(0, 90)))
	            f.write(line.replace(b"\n", b"") + b"\n")
	        f.write(b"\n")
	PY
	own "$MBOX"
}

@test "a generated mailbox of 300 messages of random text matches too" {
	random_mbox
	run check_all
	echo "$output"
	assert_success
	assert_output --partial "pop3check: 300 messages"
}

# buffers_mbox: messages that cross pop3d's read blocks (128 KiB) and its
# output buffer (256 KiB) everywhere: random lines of up to 20,000 bytes
# with dots, lone CRs, LF or CRLF ends; 150,000 lines of "." and 300,000
# empty ones (each sent twice as long: the most the output can grow);
# 12,000 header lines with hidden ones among them; a 700,000-byte line; and
# a last line without a newline.
buffers_mbox() {
	python3 - "$MBOX" <<-'PY'
	import random, sys
	r = random.Random(16)
	def text(n):
	    return bytes(r.choices(b"abc .\r", k=n))
	def lines(size):
	    out, got = [], 0
	    while got < size:
	        n = r.choice((0, 1, 2, 60, 75, 200, 2000, 20000))
	        line = (b"." if r.random() < 0.3 else b"") + text(n)
	        line += b"\r\n" if r.random() < 0.3 else b"\n"
	        out.append(line)
	        got += len(line)
	    return b"".join(out)
	def message(i, head, body):
	    return (b"From x%d Mon Jan  1 00:00:00 2024\nSubject: %d\n" % (i, i) +
	            head + b"\n" + body)
	msgs = [message(i, b"", lines(int(1000 * 200 ** r.random())))
	        for i in range(60)]
	msgs.append(message(60, b"", b".\n" * 150000))
	msgs.append(message(61, b"", b"\n" * 300000 + b"x\n"))
	head = b"".join(b"Status: RO\n" if k % 7 == 3 else b"X-Filler: %d\n" % k
	                for k in range(12000))
	msgs.append(message(62, head, lines(1000)))
	msgs.append(message(63, b"", b"." + b"x" * 700000 + b"\r\n"))
	r.shuffle(msgs)
	msgs.append(message(64, b"", lines(5000) + b"no newline at the end"))
	with open(sys.argv[1], "wb") as f:
	    f.write(b"\n".join(msgs))
	PY
	own "$MBOX"
}

@test "messages across the read and output buffers: every reply byte for byte, and RETR of every message in a row" {
	buffers_mbox
	run check_all
	echo "$output"
	assert_success
	assert_output --partial "pop3check: 65 messages"
	run "$BATS_TEST_DIRNAME/pop3check" --in-a-row "$MBOX" -- "$POP3D" \
		-a "file:$T/passwd" -m "$T/mail/%u" -t 10
	echo "$output"
	assert_success
	assert_output --partial "pop3check: 65 messages"
}

# converted HOW: alice's mailbox with its bare LFs made CRLF, all of them
# (crlf) or every other one (mixed); the file must change.
converted() {
	cp "$MBOX" "$T/unconverted"
	$MB convert "$T/unconverted" "$T/converted" "$1"
	if cmp -s "$T/unconverted" "$T/converted"; then
		echo "mbox.py convert changed nothing"
		false
	fi
	write_mbox <"$T/converted"
}

@test "the same mailboxes stored with CRLF, or mixing LF and CRLF, match too" {
	for how in crlf mixed; do
		torture_mbox
		converted $how
		run check_all
		echo "$output"
		assert_success
		assert_output --partial "pop3check: 13 messages"
		random_mbox
		converted $how
		run check_all
		echo "$output"
		assert_success
		assert_output --partial "pop3check: 300 messages"
	done
}

# session_all N: STAT, LIST, UIDL, and RETR, TOP 0 and TOP 2 of messages
# 1..N, the replies as sent.
session_all() {
	{
		printf 'USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\n'
		for i in $(seq "$1"); do
			printf 'RETR %d\r\nTOP %d 0\r\nTOP %d 2\r\n' "$i" "$i" "$i"
		done
		printf 'QUIT\r\n'
	} | "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 10
}

@test "a mailbox converted from LF to CRLF, wholly or in part, is served byte for byte as before" {
	torture_mbox
	session_all 13 >"$T/lf"
	for how in crlf mixed; do
		torture_mbox
		converted $how
		session_all 13 >"$T/$how"
		diff <(cat -A "$T/lf") <(cat -A "$T/$how") | head -n 40
		cmp "$T/lf" "$T/$how"
	done
}

@test "a mailbox stored with CRLF: one CRLF a line, hidden headers hidden, sizes as sent" {
	# 12 + 2 + 6 + 6 + 2 + 5 = 33 octets.
	printf 'From a %s\nStatus: RO\nSubject: s\nX-UID: 1\n\n.dot\nline\n\nend\n\n' "$F" |
		sed 's/$/\r/' | write_mbox
	transcript <<-EOF
	@login
	C: STAT
	S: +OK 1 33
	C: LIST 1
	S: +OK 1 33
	C: RETR 1
	S: +OK 33 octets
	S: Subject: s
	S:
	S: ..dot
	S: line
	S:
	S: end
	S: .
	C: TOP 1 1
	S~ ^\+OK
	S: Subject: s
	S:
	S: ..dot
	S: .
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "a CR that does not end a line is data, sent as stored" {
	# "a<CR>b", "c<CR>" before a CRLF, "<CR>d", and "last<CR>" ending the
	# file without an LF: 13 + 2 + 5 + 4 + 4 + 7 = 35 octets.
	printf 'From a %s\r\nSubject: cr\r\n\r\na\rb\r\nc\r\r\n\rd\r\nlast\r' "$F" |
		write_mbox
	printf 'USER alice\r\nPASS secret\r\nLIST 1\r\nRETR 1\r\nQUIT\r\n' |
		pop_raw | sed '1,3d;$d' >"$T/got"
	printf '+OK 1 35\r\n+OK 35 octets\r\nSubject: cr\r\n\r\na\rb\r\nc\r\r\n\rd\r\nlast\r\r\n.\r\n' >"$T/want"
	cmp "$T/want" "$T/got"
}

@test "lines starting with '.' are dot-stuffed, '>From ' lines served as stored" {
	printf 'From a %s\nSubject: s\n\n.\n..\n>From x\n.end\n\n' "$F" | write_mbox
	# 12 + 2 + 3 + 4 + 9 + 6 = 36 octets: stuffing is not counted.
	transcript <<-EOF
	@login
	C: RETR 1
	S: +OK 36 octets
	S: Subject: s
	S:
	S: ..
	S: ...
	S: >From x
	S: ..end
	S: .
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "a message without a final newline ends in CRLF, and the CRLF is counted" {
	printf 'From a %s\nSubject: s\n\nlast line' "$F" | write_mbox
	transcript <<-EOF
	@login
	C: LIST 1
	S: +OK 1 25
	C: RETR 1
	S: +OK 25 octets
	S: Subject: s
	S:
	S: last line
	S: .
	C: TOP 1 0
	S: +OK top of message follows
	S: Subject: s
	S:
	S: .
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "the blank line before the next From_ line, and at EOF, is the separator's" {
	# Message 1 ends in two blank lines: the first is its own, the second
	# the separator.  "From " after a non-blank line is message text.
	printf 'From a %s\nSubject: 1\n\nx\nFrom inside\n\n\nFrom b %s\nSubject: 2\n\ny\n\n' "$F" "$F" | write_mbox
	transcript <<-EOF
	@login
	C: LIST
	S: +OK scan listing follows
	S: 1 32
	S: 2 17
	S: .
	C: RETR 1
	S: +OK 32 octets
	S: Subject: 1
	S:
	S: x
	S: From inside
	S:
	S: .
	C: RETR 2
	S: +OK 17 octets
	S: Subject: 2
	S:
	S: y
	S: .
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "mbox bookkeeping headers are hidden from clients and from the sizes" {
	printf 'From a %s\nStatus: RO\nSubject: s\nX-Keywords: a\n b\nX-UID: 1\nX-Status: F\nX-IMAPbase: 1 1\nX-IMAP: 1 1\nX-Dovecot-X: 1\nContent-Length: 2\n\nx\n\n' "$F" | write_mbox
	transcript <<-EOF
	@login
	C: RETR 1
	S: +OK 36 octets
	S: Subject: s
	S: Content-Length: 2
	S:
	S: x
	S: .
	C: QUIT
	S~ ^\+OK
	EOF
}

@test "a missing mailbox is an empty one, and is not created" {
	transcript <<-EOF
	S~ ^\+OK
	C: USER alice
	S: +OK send the password
	C: PASS secret
	S: +OK alice has 0 messages (0 octets)
	C: STAT
	S: +OK 0 0
	C: LIST
	S: +OK scan listing follows
	S: .
	C: UIDL
	S: +OK unique-id listing follows
	S: .
	C: RETR 1
	S: -ERR no such message
	C: QUIT
	S: +OK bye, 0 messages left
	EOF
	[ "$rc" -eq 0 ]
	[ ! -e "$MBOX" ]
}

@test "an empty file is an empty mailbox" {
	: | write_mbox
	transcript <<-EOF
	@login
	C: STAT
	S: +OK 0 0
	C: QUIT
	S~ ^\+OK
	EOF
	[ "$rc" -eq 0 ]
}

@test "a file that does not start with 'From ' is refused and left untouched" {
	for start in 'Subject: no From_ line\n\n' '\nFrom a x\n' 'From: a\n\n'; do
		printf "${start}From b %s\nSubject: x\n\nbody\n" "$F" | write_mbox
		sum=$(sha256sum <"$MBOX")
		transcript <<-EOF
		S~ ^\+OK
		C: USER alice
		S: +OK send the password
		C: PASS secret
		S: -ERR [SYS/PERM] cannot open the mailbox
		C: DELE 1
		C: QUIT
		EOF
		[ "$rc" -eq 1 ]
		[ "$(sha256sum <"$MBOX")" = "$sum" ]
	done
}

# uidls: the UIDL listing of the current mailbox, "n id" per line.
uidls() {
	printf 'USER alice\r\nPASS secret\r\nUIDL\r\nQUIT\r\n' |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" |
		tr -d '\r' | sed -n '/^+OK unique-id/,/^\.$/p' | sed '1d;$d'
}

@test "UIDL: byte-identical messages get distinct ids: the digest, then -2, -3" {
	{ msg a@x same 'body'; msg a@x same 'body'; msg b@x other 'body'; msg a@x same 'body'; } | write_mbox
	run uidls
	assert_line --index 0 --regexp '^1 [0-9a-f]{32}$'
	local id=${lines[0]#1 } other=${lines[2]#3 }
	assert_line --index 1 "2 $id-2"
	assert_line --index 2 --regexp '^3 [0-9a-f]{32}$'
	refute_line --index 2 "3 $id"
	assert_line --index 3 "4 $id-3"
	[ ${#lines[@]} -eq 4 ]
	# Deleting the first copy shifts the others' suffixes (README, UIDL).
	transcript <<-EOF
	@login
	C: DELE 1
	S: +OK message 1 deleted
	C: QUIT
	S~ ^\+OK
	EOF
	run uidls
	assert_output "1 $id
2 $other
3 $id-2"
}

@test "UIDL: stable across sessions and after other messages are deleted" {
	{ msg a@x one 'a'; msg b@x two 'b'; msg c@x three 'c'; } | write_mbox
	uidls >"$T/first"
	uidls >"$T/second"
	cmp "$T/first" "$T/second"
	transcript <<-EOF
	@login
	C: DELE 2
	S: +OK message 2 deleted
	C: QUIT
	S~ ^\+OK
	EOF
	uidls >"$T/third"
	sed -n '1p;3s/^3/2/p' "$T/first" >"$T/want"
	cmp "$T/want" "$T/third"
}

@test "UIDL: stable when a mail client rewrites the bookkeeping headers" {
	{
		printf 'From a %s\nSubject: one\nContent-Length: 6\nLines: 1\n\nbody 1\n\n' "$F"
		printf 'From b %s\nSubject: two\nStatus: O\n\nbody 2\n\n' "$F"
		msg c@x three 'body 3'
	} | write_mbox
	uidls >"$T/before"
	# What mutt, pine or Dovecot do: flags, IMAP uids, new Content-Length
	# and Lines values.
	sed -i -e '/^Status:/d' -e 's/^Content-Length: 6/Content-Length: 7/' \
		-e 's/^Lines: 1/Lines: 2/' \
		-e 's/^Subject: \(.*\)/Subject: \1\nStatus: RO\nX-Status: A\nX-Keywords: $Seen\nX-UID: 12\nX-IMAP: 1 12\nX-IMAPbase: 1 12\nContent-Length: 7\nLines: 9/' "$MBOX"
	grep -q '^X-IMAPbase: 1 12$' "$MBOX"
	uidls >"$T/after"
	cmp "$T/before" "$T/after"
}

@test "UIDL: a change to another header or to the body's size changes the id" {
	msg a@x one 'body' | write_mbox
	uidls >"$T/a"
	msg a@x One 'body' | write_mbox
	uidls >"$T/b"
	msg a@x one 'body!' | write_mbox
	uidls >"$T/c"
	[ "$(sort -u "$T/a" "$T/b" "$T/c" | wc -l)" -eq 3 ]
}

@test "UIDL: the same ids for a mailbox stored with LF, with CRLF, or mixing both" {
	{
		msg a@x one 'a\nb'
		printf 'From b %s\nSubject: two\nStatus: RO\nX-UID: 3\n\nbody\n\n' "$F"
		msg a@x one 'a\nb'
		printf 'From c %s\nSubject: three\nContent-Length: 5\n\nbody\n\n' "$F"
	} | write_mbox
	cp "$MBOX" "$T/lf"
	uidls >"$T/want"
	for how in crlf mixed; do
		write_mbox <"$T/lf"
		converted $how
		uidls >"$T/$how"
		cmp "$T/want" "$T/$how"
	done
}

@test "DELE and QUIT in a CRLF or mixed mailbox keep the other messages byte for byte" {
	$MB gen "$T/lf" 12 3000
	for how in crlf mixed; do
		$MB convert "$T/lf" "$T/$how" $how
		write_mbox <"$T/$how"
		uidls >"$T/ids-before"
		transcript <<-EOF
		@login
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 6
		S: +OK message 6 deleted
		C: DELE 12
		S: +OK message 12 deleted
		C: QUIT
		S: +OK bye, 9 messages left
		EOF
		# Every other byte as it was, line ends included.
		$MB expect "$T/$how" "$T/want" 1 6 12
		cmp "$T/want" "$MBOX"
		# The kept messages keep their ids.
		sed '1d;6d;12d' "$T/ids-before" | cut -d' ' -f2 >"$T/ids-want"
		uidls | cut -d' ' -f2 | cmp "$T/ids-want" -
	done
}

# update_writes FILE: the bytes an UPDATE that deletes message 1 of FILE
# writes into the mailbox (strace -y names the file behind each descriptor).
update_writes() {
	write_mbox <"$1"
	printf 'USER alice\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n' |
		ASAN_OPTIONS=$(no_leak_check) strace -f -y -e trace=pwrite64 \
		-o "$T/trace" "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" >/dev/null
	grep "<$MBOX>" "$T/trace" | sed -n 's/.*= \([0-9]*\)$/\1/p' |
		awk '{ n += $1 } END { print n + 0 }'
}

@test "UPDATE: a CRLF mailbox is backed up as little as the LF one (one rule for message starts)" {
	command -v strace >/dev/null || skip "strace is not installed"
	# A 1 MB message, then 60 of 33 kB: deleting the first one moves
	# 2 MB down by 1 MB, and the backup needs only the kept messages below
	# the end of the one that straddles the end of the copy (update.c).
	python3 - "$T/lf" <<-'PY'
	import sys
	def m(tag, n):
	    body = b"".join(b"line %d of %s, some text to fill it\n" % (i, tag) for i in range(n))
	    return b"From %s Mon Jan  1 00:00:00 2024\nSubject: %s\n\n%s\n" % (tag, tag, body)
	open(sys.argv[1], "wb").write(m(b"big", 25000) + b"".join(m(b"s%d" % i, 800) for i in range(60)))
	PY
	$MB convert "$T/lf" "$T/crlf" crlf
	lf=$(update_writes "$T/lf")
	crlf=$(update_writes "$T/crlf")
	echo "written: LF $lf, CRLF $crlf"
	[ "$lf" -gt 2000000 ]
	# The CRLF file is 2.4 % larger; a backup up to the end of the file
	# would be 1 MB (35 %) more.
	[ "$crlf" -lt $((lf * 11 / 10)) ]
}

@test "UPDATE keeps the mailbox's owner, group and mode" {
	{ msg a@x one 'a'; msg b@x two 'b'; } | write_mbox
	if [ "$(id -u)" -eq 0 ]; then
		chown "$TEST_UID:$((TEST_GID + 1))" "$MBOX"
	fi
	chmod 640 "$MBOX"
	local before
	before=$(stat -c '%u %g %a %i' "$MBOX")
	transcript <<-EOF
	@login
	C: DELE 1
	S: +OK message 1 deleted
	C: QUIT
	S: +OK bye, 1 messages left
	EOF
	[ "$rc" -eq 0 ]
	[ "$(stat -c '%u %g %a %i' "$MBOX")" = "$before" ]
	msg b@x two 'b' | cmp - "$MBOX"
}

@test "DELE of every message leaves an empty file" {
	{ msg a@x one 'a'; msg b@x two 'b'; } | write_mbox
	transcript <<-EOF
	@login
	C: DELE 1
	S: +OK message 1 deleted
	C: DELE 2
	S: +OK message 2 deleted
	C: QUIT
	S: +OK bye, 0 messages left
	EOF
	[ -f "$MBOX" ]
	[ ! -s "$MBOX" ]
}

@test "EOF before QUIT deletes nothing" {
	{ msg a@x one 'a'; msg b@x two 'b'; } | write_mbox
	cp "$MBOX" "$T/before"
	transcript <<-EOF
	@login
	C: DELE 1
	S: +OK message 1 deleted
	EOF
	[ "$rc" -eq 1 ]
	cmp "$T/before" "$MBOX"
}

@test "index memory grows with the number of messages, not their size: 50 MiB message" {
	[ -z "${VALGRIND_LOGS:-}" ] || skip "under valgrind: valgrind's own memory hides pop3d's"
	command -v /usr/bin/time >/dev/null || skip "needs /usr/bin/time (package time)"
	{
		printf 'From a %s\nSubject: big\n\n' "$F"
		yes 'a line of text that is not very long, sixty-four octets each.' | head -c 52428800
		printf '\n'
	} | write_mbox
	printf 'USER alice\r\nPASS secret\r\nLIST\r\nRETR 1\r\nQUIT\r\n' >"$T/in"
	/usr/bin/time -f %M -o "$T/rss" "$POP3D" -a "file:$T/passwd" \
		-m "$T/mail/%u" <"$T/in" >"$T/out"
	# All of it arrived: as many octets as LIST announced.
	python3 - "$T/out" <<-'PY'
	import re, sys
	out = open(sys.argv[1], "rb").read()
	size = int(re.search(rb"\r\n1 (\d+)\r\n", out).group(1))
	start = out.index(b"+OK %d octets\r\n" % size) + len(b"+OK %d octets\r\n" % size)
	end = out.index(b"\r\n.\r\n+OK bye") + 2
	assert end - start == size > 52428800, (end - start, size)
	PY
	local kib
	kib=$(cat "$T/rss")
	echo "peak RSS ${kib} KiB for a 50 MiB message"
	# The sanitizer build carries its own shadow memory; the plain build
	# must stay far below the message's size either way.
	[ "$kib" -lt 40960 ]
}
