#!/usr/bin/env bats
# The mailbox's owner is not trusted either: a forged or changing index
# cache, and a mailbox rewritten in place while a message is being sent,
# never make pop3d send a byte from outside the message, read outside its
# buffers, or spin.  A message that is not where the index says is refused
# before its first byte (-ERR [SYS/TEMP]); one that changed while it was
# being sent ends the session without the final ".".  Run against the
# ASan+UBSan build too (make check), where any stray read is a failure.

load helpers

setup() {
	setup_account
	mkdir "$T/state"
	own "$T/state"
	POKE="python3 $BATS_TEST_DIRNAME/poke.py"
	STALL="python3 $BATS_TEST_DIRNAME/stall.py"
	CACHE=$T/state/mbox-index
}

# session STATE-DIR LINE...: like pop (helpers.bash), with the debug log in
# $T/log and the index cache in STATE-DIR ("" for none).
session() {
	local state=$1
	shift
	{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@"; } |
		timeout 30 "$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
		--state-dir="$state" 2>"$T/log" | tr -d '\r'
}

# offset_of TEXT: the byte offset of the first line that starts with TEXT.
offset_of() {
	grep -bo "^$1" "$MBOX" | head -n 1 | cut -d: -f1
}

# record I FIELD: a field of record I of the index cache.
record() {
	$POKE show "$CACHE" | awk -v i="$1" -v f="$2" '$1 == i {
		print $(f == "start" ? 2 : f == "data" ? 3 : f == "end" ? 4 : 5) }'
}

# hidden_mbox N: N messages, each with hidden headers (Status:, X-UID:).
hidden_mbox() {
	for i in $(seq "$1"); do
		printf 'From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: m%d\nStatus: RO\nX-UID: %d\n\nbody %d\n\n' "$i" "$i" "$i"
	done | write_mbox
	# A mailbox changed in the current clock tick is not cached (cache.h):
	# let the clock move on.  Not a timing assertion.
	sleep 0.05
}

# build_cache: a first session stores the index cache.
build_cache() {
	session "$T/state" STAT QUIT >/dev/null
	grep -q 'index cache: miss$' "$T/log"
	[ -s "$CACHE" ]
}

# after_login ACTION LINE...: a session with the index cache that runs the
# shell command ACTION once it has logged in (and so taken the index), then
# sends LINE...; the replies (CRs removed) go to $T/out.
after_login() {
	local action=$1
	shift
	STALL_TIMEOUT=20 $STALL "$T/raw" \
		send 'USER alice\r\nPASS secret\r\n' until 'octets)\r\n' \
		run "$action" send "$(printf '%s\\r\\n' "$@")" -- \
		"$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
		--state-dir="$T/state" || return
	tr -d '\r' <"$T/raw" >"$T/out"
}

@test "a cache that ends message 1 inside its Status: header is refused: RETR serves what a scan finds" {
	hidden_mbox 3
	build_cache
	# The end inside "Status: RO", the checksum made to match.
	$POKE set "$CACHE" 0 end=$(($(offset_of 'Status: RO') + 9))
	session "$T/state" 'RETR 1' 'RETR 2' 'RETR 3' QUIT >"$T/cached"
	cp "$T/log" "$T/cachelog"
	grep -q 'index cache: not used: a record is inconsistent' "$T/cachelog"
	session "" 'RETR 1' 'RETR 2' 'RETR 3' QUIT >"$T/scanned"
	diff -u "$T/scanned" "$T/cached"
}

@test "a forged cache that passes every load check: the misplaced messages get -ERR [SYS/TEMP] before any byte, the others are served, UPDATE deletes nothing" {
	# 40 messages: records 0 and 1 are not both among the sampled starts.
	hidden_mbox 40
	build_cache
	end=$(($(offset_of 'Status: RO') + 9))
	$POKE set "$CACHE" 0 end=$end
	$POKE set "$CACHE" 1 start=$((end + 1))
	cp "$MBOX" "$T/before"
	run session "$T/state" 'RETR 1' 'RETR 2' 'TOP 1 0' 'RETR 3' 'DELE 2' QUIT
	grep -q 'index cache: hit$' "$T/log"
	assert_line --index 3 '-ERR [SYS/TEMP] mailbox changed by another program'
	assert_line --index 4 '-ERR [SYS/TEMP] mailbox changed by another program'
	assert_line --index 5 '-ERR [SYS/TEMP] mailbox changed by another program'
	assert_line --index 6 --regexp '^\+OK [0-9]+ octets$'
	assert_line --index 8 'Subject: m3'
	assert_line --index 9 'body 3'
	assert_line --index 10 '.'
	assert_line --index 11 '+OK message 2 deleted'
	assert_line --index 12 --regexp '^-ERR \[SYS/TEMP\]'
	cmp "$MBOX" "$T/before"
}

@test "the cache file changed after login (a data offset past the end): RETR 1 neither spins nor serves other bytes" {
	hidden_mbox 3
	build_cache
	session "" 'RETR 1' 'RETR 2' QUIT >"$T/scanned"
	# Written into the file as another program would (no checksum), once
	# the session has checked and taken the cache.
	run after_login "$POKE set $CACHE --raw 0 data=$(($(record 0 end) + 1000))" \
		'RETR 1' 'RETR 2' QUIT
	assert_success
	diff -u "$T/scanned" "$T/out"
}

@test "the cache file replaced in place by a consistent forgery after login: the records are refused, the mailbox scanned again" {
	hidden_mbox 40
	build_cache
	session "" 'RETR 1' 'RETR 2' 'RETR 3' QUIT >"$T/scanned"
	end=$(($(offset_of 'Status: RO') + 9))
	run after_login "$POKE set $CACHE 0 end=$end octets=1 &&
		$POKE set $CACHE 1 start=$((end + 1))" 'RETR 1' 'RETR 2' 'RETR 3' QUIT
	assert_success
	diff -u "$T/scanned" "$T/out"
}

@test "new mail, and the cache's last record changed after login under the same header: the records are refused, the mailbox scanned again" {
	hidden_mbox 3
	build_cache
	printf 'From n@example.org Mon Jan  1 00:00:00 2024\nSubject: new\n\nnew\n\n' >>"$MBOX"
	sleep 0.05
	session "" 'LIST' 'RETR 3' 'UIDL' QUIT >"$T/scanned"
	# Login scanned again from the start of message 3 (the last record);
	# the forgery moves its end, the header and checksums made to match.
	run after_login "$POKE set $CACHE 2 end=$(($(record 2 end) - 1))" \
		'LIST' 'RETR 3' 'UIDL' QUIT
	assert_success
	assert_output --partial 'index cache: grew'
	assert_output --partial 'index cache: not used: the cache file changed after login'
	diff -u "$T/scanned" "$T/out"
}

@test "the cache damaged after login and the mailbox rewritten since: -ERR [SYS/TEMP] for what needs the index, QUIT deletes nothing" {
	hidden_mbox 5
	build_cache
	# Another program removes message 5 while the session is logged in;
	# the cache's records are damaged at the same time.
	run after_login "$POKE set $CACHE --raw 0 octets=7 &&
		python3 -c 'import sys; p = sys.argv[1]; d = open(p, \"rb\").read()
i = d.index(b\"From a@example.org\", d.index(b\"Subject: m5\") - 80)
open(p, \"r+b\").truncate(i)' $MBOX && cp $MBOX $T/after" \
		STAT LIST 'RETR 1' 'DELE 1' 'UIDL 2' QUIT
	assert_success
	assert_output --partial 'indexing '
	assert_output --partial 'its index cache was damaged after login'
	run cat "$T/out"
	assert_line --index 2 --regexp '^\+OK alice has 5 messages \([0-9]+ octets\)$'
	assert_line --index 3 --regexp '^\+OK 5 [0-9]+$'
	for i in 4 5 6 7; do
		assert_line --index $i '-ERR [SYS/TEMP] the mailbox changed and its index is damaged: log in again'
	done
	assert_line --index 8 '+OK bye, 5 messages left'
	cmp "$MBOX" "$T/after"
	# The next session scans the mailbox as it is now.
	run session "$T/state" STAT QUIT
	assert_line --index 3 --regexp '^\+OK 4 [0-9]+$'
	grep -q 'index cache: miss$' "$T/log"
}

# big_mbox: message 1 has ~1 MiB of headers, then hidden ones, then a
# body; message 2 holds a secret.  A client that does not read stops pop3d
# within the first few hundred KiB (a pipe, the output and read buffers).
big_mbox() {
	{
		printf 'From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: big\n'
		awk 'BEGIN { for (i = 0; i < 12000; i++)
			printf "X-Filler-%05d: %070d\n", i, i }'
		printf 'Status: RO\nX-UID: 1\nX-Tail: kept\n\nbody of one\n\n'
		printf 'From b@example.org Mon Jan  1 00:00:00 2024\nSubject: two\n\nSECRET-OF-TWO\n\n'
	} | write_mbox
	[ "$(offset_of 'Status: RO')" -gt 1000000 ]
}

# stalled_retr ACTION: RETR 1, RETR 2 and QUIT pipelined; the client reads
# up to RETR 1's "+OK" line and then nothing until the shell command ACTION
# has run.  The transcript goes to $T/out, the log to $T/log; the same
# session without ACTION to $T/expected.
stalled_retr() {
	printf 'USER alice\r\nPASS secret\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n' |
		timeout 30 "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
		--state-dir="$T/state" >"$T/expected"
	STALL_TIMEOUT=60 $STALL "$T/out" \
		send 'USER alice\r\nPASS secret\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n' \
		until ' octets\r\n' run "$1" -- \
		"$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" -t 5 \
		--state-dir="$T/state" 2>"$T/log"
}

# is_cut_prefix: $T/out is a proper prefix of $T/expected that ends inside
# RETR 1's reply (no byte of message 2, no final ".").
is_cut_prefix() {
	local n
	n=$(stat -c %s "$T/out")
	[ "$n" -lt "$(stat -c %s "$T/expected")" ]
	cmp -n "$n" "$T/out" "$T/expected"
	! grep -q 'SECRET-OF-TWO' "$T/out"
	[ "$(tail -c 5 "$T/out" | od -An -c | tr -d ' ')" != '\r\n.\r\n' ]
	grep -q 'changed by another program while a message was sent' "$T/log"
}

@test "a mailbox rewritten in place during a blocked RETR (the LF after Status: gone): the reply is cut short, no byte past the message" {
	big_mbox
	at=$(offset_of 'Status: RO')
	secret=$(grep -bo 'SECRET-OF-TWO' "$MBOX" | cut -d: -f1)
	# From the Status: line to message 2's secret, one long line.
	run stalled_retr "$POKE unline $MBOX $((at + 10)) $((secret + 14))"
	[ "$status" -lt 128 ]
	is_cut_prefix
}

@test "a mailbox truncated during a blocked RETR: the reply is cut short" {
	big_mbox
	run stalled_retr "truncate -s 500000 $MBOX"
	[ "$status" -lt 128 ]
	is_cut_prefix
}

@test "new mail appended during a blocked RETR: every message is served whole" {
	big_mbox
	run stalled_retr "printf 'From c@example.org Mon Jan  1 00:00:00 2024\nSubject: new\n\nnew\n\n' >>$MBOX"
	assert_success
	cmp "$T/out" "$T/expected"
}
