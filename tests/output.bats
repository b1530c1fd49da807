#!/usr/bin/env bats
# Output in large writes: replies to pipelined commands (RFC 2449
# PIPELINING) are queued while more commands are waiting and leave
# together; a long message leaves in writes of at least 64 KiB (whole
# output buffers, params.h).  strace counts the write(2) calls on the
# connection (fd 1).

load helpers

setup() {
	command -v strace >/dev/null || skip "strace is not installed"
	setup_account
	{
		msg a@example.org one 'hello'
		# A 1 MiB body of 64-byte lines, some starting with a dot.
		printf 'From b@example.org Mon Jan  1 00:00:00 2024\nSubject: big\n\n'
		awk 'BEGIN { for (i = 0; i < 16384; i++)
			printf "%s%062d\n", (i % 7 ? "x" : "."), i }'
		printf '\n'
	} | write_mbox
}

# writes FILE: the session's commands come from FILE (all there at once);
# prints the byte counts of the writes to the client, one a line.
writes() {
	ASAN_OPTIONS=$(no_leak_check) strace -f -e trace=write -o "$T/trace" "$POP3D" -a "file:$T/passwd" \
	    -m "$T/mail/%u" -t 5 <"$1" >"$T/out"
	sed -n 's/^[0-9]* *write(1, .* = \([0-9]*\)$/\1/p' "$T/trace"
}

@test "replies to pipelined commands leave in one write" {
	[ -z "${VALGRIND_LOGS:-}" ] || skip "under valgrind: strace would count valgrind's writes"
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nNOOP\r\nTOP 1 0\r\nQUIT\r\n' >"$T/in"
	run writes "$T/in"
	assert_success
	assert_equal "${#lines[@]}" 1
	# ...and it holds the greeting and a reply to each of the 8 commands.
	assert_equal "$(tr -d '\r' <"$T/out" | grep -c '^+OK')" 9
}

@test "a long message leaves in writes of at least 64 KiB" {
	[ -z "${VALGRIND_LOGS:-}" ] || skip "under valgrind: strace would count valgrind's writes"
	printf 'USER alice\r\nPASS secret\r\nRETR 2\r\nQUIT\r\n' >"$T/in"
	run writes "$T/in"
	assert_success
	[ "${#lines[@]}" -ge 2 ]
	# Every write but the last is large.
	for n in "${lines[@]:0:${#lines[@]}-1}"; do
		[ "$n" -ge 65536 ] || { echo "a write of $n bytes"; false; }
	done
	# And what was written is the whole message: 16384 lines, 1 in 7
	# dot-stuffed.
	assert_equal "$(grep -c '^\.\.' "$T/out")" $(((16384 + 6) / 7))
}
