#!/usr/bin/env bats
# The index cache in the state directory (--state-dir): a second session
# reads the index from it instead of scanning the mailbox, a mailbox that
# grew is scanned only from where the index ends, and any other change, or
# a damaged or foreign cache file, costs a full scan and never a wrong
# answer.  "index cache: ..." in the debug log says what the cache did.

load helpers

setup() {
	setup_account
	mkdir "$T/state"
	own "$T/state"
	{
		msg a@example.org one 'hello'
		msg b@example.org two 'line\n.dot\nFrom the middle\n>From a quote'
		msg a@example.org one 'hello'
	} | write_mbox
	settle
}

# File times come from a clock that ticks every few milliseconds, and a
# mailbox changed in the current tick is not cached (cache.h): let the
# clock move on after writing the mailbox.  This is not a timing assertion.
settle() {
	sleep 0.05
}

# listing [STATE-DIR]: STAT, LIST and UIDL; the replies (CRs removed) go to
# $T/out and the log to $T/log.  Without an argument no cache is used: the
# answers of a full scan, to compare with.
listing() {
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nQUIT\r\n' |
		"$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
		    --state-dir="${1:-}" 2>"$T/log" | tr -d '\r' >"$T/out"
}

# expect_index WHAT: with $T/state (or $STATE) as the state directory, the
# log says "index cache: WHAT", and the replies are those of a full scan.
expect_index() {
	listing "${STATE:-$T/state}"
	cp "$T/log" "$T/cachelog"
	cp "$T/out" "$T/cached"
	grep -q "index cache: $1\$" "$T/cachelog" || { cat "$T/cachelog"; false; }
	listing
	diff -u "$T/out" "$T/cached"
}

@test "the first session builds the cache, the second one reads it" {
	expect_index miss
	[ -s "$T/state/mbox-index" ]
	[ "$(stat -c %a "$T/state/mbox-index")" = 600 ]
	run cat "$T/cached"
	assert_line --index 3 --regexp '^\+OK 3 [0-9]+$'
	assert_line --regexp '^3 [0-9a-f]{32}-2$'
	expect_index hit
}

# read_bytes FILE [COMMANDS]: bytes that a session (login, COMMANDS with
# CRLF ends, by default STAT, then QUIT) reads from FILE (strace -y names
# the file behind each descriptor).
read_bytes() {
	ASAN_OPTIONS=$(no_leak_check) strace -f -y -e trace=read,pread64 -o "$T/trace" "$POP3D" \
	    -a "file:$T/passwd" -m "$T/mail/%u" -t 5 --state-dir="$T/state" \
	    < <(printf "USER alice\r\nPASS secret\r\n${2-STAT\r\n}QUIT\r\n") >/dev/null
	grep "<$1>" "$T/trace" | sed -n 's/.*= \([0-9]*\)$/\1/p' |
		awk '{ n += $1 } END { print n + 0 }'
}

@test "a second session reads the cache file, not the mailbox" {
	command -v strace >/dev/null || skip "strace is not installed"
	# 200 more messages of 3 KB: a scan reads the mailbox in several blocks.
	awk 'BEGIN { body = sprintf("%3000s", ""); gsub(/ /, "x", body)
		for (i = 1; i <= 200; i++)
			printf "From s%d@example.org Mon Jan  1 00:00:00 2024\nSubject: bulk %d\n\n%s\n\n", i, i, body }' >>"$MBOX"
	settle
	size=$(stat -c %s "$MBOX")
	first=$(read_bytes "$MBOX")
	second=$(read_bytes "$MBOX")
	echo "mailbox $size bytes; read $first, then $second"
	[ "$first" -ge "$size" ]
	[ "$second" -lt $((size / 10)) ]
	expect_index hit
}

@test "new mail: only the new part is scanned, duplicates numbered on" {
	expect_index miss
	{ msg c@example.org three 'new'; msg a@example.org one 'hello'; } >>"$MBOX"
	settle
	expect_index grew
	run cat "$T/cached"
	assert_line --index 3 --regexp '^\+OK 5 [0-9]+$'
	assert_line --regexp '^5 [0-9a-f]{32}-3$'
	expect_index hit
}

@test "much new mail: numbered again as a whole, same answers as a scan" {
	expect_index miss
	# More new messages than are numbered one by one (CACHE_RENUMBER_MAX),
	# all copies of the first message.
	for i in $(seq 70); do msg a@example.org one 'hello'; done >>"$MBOX"
	settle
	expect_index grew
	run cat "$T/cached"
	assert_line --regexp '^73 [0-9a-f]{32}-72$'
	expect_index hit
}

@test "a mailbox rewritten to the same size is scanned again" {
	expect_index miss
	settle
	# In place: the same inode, the same size, a header changed.
	ino=$(stat -c %i "$MBOX")
	at=$(grep -bo '^Subject: two$' "$MBOX" | cut -d: -f1)
	printf 'Subject: owt' | dd of="$MBOX" bs=1 seek="$at" conv=notrunc 2>/dev/null
	[ "$(stat -c %i "$MBOX")" = "$ino" ]
	settle
	expect_index miss
	grep -q 'not used: the mailbox changed' "$T/cachelog"
	expect_index hit
}

@test "a mailbox that shrank and grew is scanned again" {
	expect_index miss
	settle
	{ msg c@example.org three 'new'; msg b@example.org two 'other text, longer than before'; } | write_mbox
	expect_index miss
}

# flip FILE OFFSET: inverts the bits of the byte at OFFSET (a byte written
# over it could be the one already there).
flip() {
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)[0]
    f.seek(int(sys.argv[2])); f.write(bytes([b ^ 0xff]))' "$1" "$2"
}

@test "a damaged cache file is ignored and rebuilt" {
	expect_index miss
	# One byte of the header's checksum changed (the header is 168 bytes,
	# its checksum the last 32 of them: tests/poke.py).
	flip "$T/state/mbox-index" 165
	expect_index miss
	grep -q 'bad checksum' "$T/cachelog"
	expect_index hit
	# Cut short.
	truncate -s 100 "$T/state/mbox-index"
	expect_index miss
	grep -q 'truncated or not a cache' "$T/cachelog"
	# Not a cache at all.
	printf 'From x\n' >"$T/state/mbox-index"
	expect_index miss
	expect_index hit
}

@test "a damaged record is found when a command first needs the records: the mailbox is scanned again, same answers" {
	expect_index miss
	# One byte of the first record's digest (at 168 + 32) changed: login
	# and STAT read only the header and sampled records, LIST all of them.
	flip "$T/state/mbox-index" 200
	expect_index hit
	grep -q 'index cache: not used: bad checksum' "$T/cachelog"
	grep -q 'index cache: damaged after login: scanning the mailbox again' "$T/cachelog"
	# The scan wrote the cache again.
	expect_index hit
	! grep -q 'damaged' "$T/cachelog"
}

# cached_2000: 2000 small messages more, and the cache of the mailbox.
cached_2000() {
	command -v strace >/dev/null || skip "strace is not installed"
	for i in $(seq 2000); do
		printf 'From s%d@example.org Mon Jan  1 00:00:00 2024\nSubject: %d\n\nx\n\n' "$i" "$i"
	done >>"$MBOX"
	settle
	expect_index miss
}

@test "login and STAT on a cache hit read the header and a few records, not the index" {
	cached_2000
	size=$(stat -c %s "$T/state/mbox-index")
	stat_only=$(read_bytes "$T/state/mbox-index")
	list=$(read_bytes "$T/state/mbox-index" 'STAT\r\nLIST\r\n')
	echo "index $size bytes; STAT read $stat_only, STAT and LIST $list"
	[ "$stat_only" -gt 0 ]
	[ "$stat_only" -lt $((size / 20)) ]
	[ "$list" -ge $((size - 200)) ]
	# The count and octets of the header are those of a scan.
	expect_index hit
}

# crypto_loads [COMMANDS]: how often the user's session (pop3d-session)
# opens libcrypto in a session (login, COMMANDS, QUIT).
crypto_loads() {
	ASAN_OPTIONS=$(no_leak_check) strace -f -e trace=execve,openat -o "$T/trace" "$POP3D" \
	    -a "file:$T/passwd" -m "$T/mail/%u" -t 5 --state-dir="$T/state" \
	    < <(printf "USER alice\r\nPASS secret\r\n${1-}QUIT\r\n") >/dev/null
	grep -q 'execve(".*pop3d-session"' "$T/trace"
	awk '/execve\(".*pop3d-session"/ { s[$1] = 1 }
	    s[$1] && /openat\(.*libcrypto\.so/ && !/ENOENT/ { n++ }
	    END { print n + 0 }' "$T/trace"
}

@test "a cache hit does not load libcrypto into the session; a scan and UIDL do" {
	command -v strace >/dev/null || skip "strace is not installed"
	[ "$(crypto_loads)" = 1 ]	# the first scan
	[ "$(crypto_loads)" = 0 ]	# login and STAT on a hit
	[ "$(crypto_loads 'UIDL\r\n')" = 1 ]	# the records' checksum
	expect_index hit
}

@test "new mail: login and STAT read the header, a few records and the new mail, not the index" {
	cached_2000
	{ msg c@example.org three 'new'; msg a@example.org one 'hello'; } >>"$MBOX"
	settle
	size=$(stat -c %s "$T/state/mbox-index")
	stat_only=$(read_bytes "$T/state/mbox-index")
	echo "index $size bytes; STAT read $stat_only"
	[ "$stat_only" -gt 0 ]
	[ "$stat_only" -lt $((size / 20)) ]
	# Still a mailbox that grew: a STAT session does not store the cache.
	expect_index grew
	run cat "$T/cached"
	assert_line --index 3 --regexp '^\+OK 2005 [0-9]+$'
	assert_line --regexp '^2005 [0-9a-f]{32}-3$'
	# LIST read the records, numbered the new messages and stored the cache.
	expect_index hit
}

@test "a cache file of an older format (version 1: CRLF sizes) is rebuilt" {
	expect_index miss
	expect_index hit
	# The format version is the 32-bit word after the 8-byte magic, in the
	# writer's byte order.
	printf '\001\000\000\000' >"$T/v1"
	[ "$(printf '\001\002\003\004' | od -An -tx4 | tr -d ' ')" = 04030201 ] ||
		printf '\000\000\000\001' >"$T/v1"
	dd if="$T/v1" of="$T/state/mbox-index" bs=1 seek=8 conv=notrunc 2>/dev/null
	expect_index miss
	grep -q 'truncated or not a cache' "$T/cachelog"
	expect_index hit
}

@test "the cache of another mailbox is not used" {
	expect_index miss
	mv "$T/state/mbox-index" "$T/other-index"
	{ msg d@example.org four 'a different mailbox'; } | write_mbox
	settle
	cp "$T/other-index" "$T/state/mbox-index"
	own "$T/state/mbox-index"
	expect_index miss
}

@test "a symlink in place of the cache file is not followed" {
	ln -s "$MBOX" "$T/state/mbox-index"
	expect_index miss
	grep -q 'no cache file' "$T/cachelog"
}

@test "no usable state directory: no cache, same answers" {
	# (One that exists but cannot be used refuses the login: lock.bats.)
	printf 'x\n' >"$T/not-a-directory"
	own "$T/not-a-directory"
	STATE=$T/not-a-directory/state
	expect_index off
	[ "$(cat "$T/not-a-directory")" = x ]
}

@test "a session that deletes from a cached index never writes into the cache file" {
	expect_index miss
	expect_index hit
	cp "$T/state/mbox-index" "$T/index-before"
	# The records are read into the session's memory: DELE marks them
	# there only.  The session ends without QUIT, so nothing is deleted
	# from the mailbox either.
	printf 'USER alice\r\nPASS secret\r\nDELE 1\r\nDELE 3\r\nLIST\r\n' |
		"$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
		--state-dir="$T/state" 2>"$T/log" | tr -d '\r' >"$T/out"
	grep -q 'index cache: hit$' "$T/log"
	run cat "$T/out"
	assert_line --index 5 '+OK scan listing follows'
	assert_line --index 6 --regexp '^2 [0-9]+$'
	assert_line --index 7 '.'
	cmp "$T/state/mbox-index" "$T/index-before"
	expect_index hit
}

# retr_all STATE-DIR: RETR of messages 1 to 5 (CRs removed).
retr_all() {
	printf 'USER alice\r\nPASS secret\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\nRETR 5\r\nQUIT\r\n' |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
		--state-dir="$1" | tr -d '\r'
}

# quit_deleting N...: a session that deletes messages N... and QUITs.
quit_deleting() {
	{
		printf 'USER alice\r\nPASS secret\r\n'
		printf 'DELE %s\r\n' "$@"
		printf 'QUIT\r\n'
	} | "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
		--state-dir="$T/state" | tr -d '\r' | tail -n 1
}

@test "after an UPDATE the next session takes the index from the cache and scans only from the last message on" {
	{
		for i in 1 2 3 4 5 6 7 8; do
			msg a@example.org "n$((i % 3))" "body $((i % 3))\n.dot"
		done
	} | write_mbox
	settle
	expect_index miss
	expect_index hit
	# The first of three identical messages (UIDLs x, x-2, x-3 become x,
	# x-2), one in the middle, and the last one.
	run quit_deleting 1 5 8
	assert_output '+OK bye, 5 messages left'
	settle
	expect_index grew
	run cat "$T/cached"
	assert_line --index 3 --regexp '^\+OK 5 [0-9]+$'
	# Every message is served from where the index says, as after a scan.
	retr_all "$T/state" >"$T/retr-cached"
	retr_all "" >"$T/retr-scanned"
	[ "$(grep -c '^+OK [0-9]* octets$' "$T/retr-cached")" = 5 ]
	cmp "$T/retr-cached" "$T/retr-scanned"
	expect_index hit
	# Again, with mail delivered between the UPDATE and the next session.
	run quit_deleting 2
	assert_output '+OK bye, 4 messages left'
	msg c@example.org new 'late' >>"$MBOX"
	settle
	expect_index grew
	run cat "$T/cached"
	assert_line --index 3 --regexp '^\+OK 5 [0-9]+$'
	# Down to one message: nothing is worth storing; a scan it is.
	run quit_deleting 1 2 3 4
	assert_output '+OK bye, 1 messages left'
	settle
	expect_index miss
}

# syslog_listing: listing with $T/state, no -d, in a private mount namespace
# whose /dev/log is a socket this test reads: what pop3d sent to syslog, one
# datagram a line, goes to $T/syslog ("<PRI>pop3d[PID]: ...").  Mode 666:
# the user's part of the session logs too.
syslog_listing() {
	export T POP3D
	unshare -m sh -e -c '
		mount --make-rprivate /
		: >"$T/null"
		mount --bind /dev/null "$T/null"
		mount -t tmpfs none /dev
		: >/dev/null
		mount --bind "$T/null" /dev/null
		python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(\"/dev/log.tmp\")
import os; os.chmod(\"/dev/log.tmp\", 0o666); os.rename(\"/dev/log.tmp\", \"/dev/log\")
s.settimeout(10)
with open(sys.argv[1], \"ab\", buffering=0) as f:
    while True:
        m = s.recv(4096)
        f.write(m + b\"\\n\")
        if b\"session end\" in m:
            break
" "$T/syslog" &
		listener=$!
		for i in $(seq 50); do
			[ -S /dev/log ] && break
			sleep 0.1
		done
		printf "USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n" |
			"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
			--state-dir="$T/state" >/dev/null
		wait $listener
	'
}

@test "index cache: hit and miss reach syslog at priority debug, not info" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: a private /dev/log in a mount namespace"
	settle
	syslog_listing
	syslog_listing
	# mail.debug is <23>, mail.info <22> (facility 2, RFC 5424).
	grep -q -E '^<23>.*pop3d\[[0-9]+\]: session=[0-9a-f]{12} index cache: miss$' "$T/syslog"
	grep -q -E '^<23>.*pop3d\[[0-9]+\]: session=[0-9a-f]{12} index cache: hit$' "$T/syslog"
	grep -q -E '^<22>.*: session=[0-9a-f]{12} login user=alice ' "$T/syslog"
	run grep -E '^<(2[0-2]|1[0-9]|[0-9])>.*index cache' "$T/syslog"
	assert_output ''
}
