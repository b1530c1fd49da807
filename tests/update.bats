#!/usr/bin/env bats
# A crash-safe UPDATE, proved by fault injection: strace fails (EIO, ENOSPC)
# or SIGKILLs pop3d at every write, fsync, sync_file_range, ftruncate,
# rename and unlink of an UPDATE in turn.  At once, before anyone logs in again, every kept
# message (and any mail delivered meanwhile) must be whole in the mailbox
# file as it is; then the next login must find each exactly once, byte for
# byte.  mbox.py computes what the mailbox must hold, independently of
# pop3d's parser.

load helpers

SYSCALLS=pwrite64,fsync,ftruncate,renameat,unlinkat,sync_file_range

# LeakSanitizer cannot run under ptrace: with the ASan build it would only
# report that (a report that fails tests/run).  ASan itself still runs.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

setup() {
	setup_account
	command -v strace >/dev/null || skip "strace is not installed"
	strace -f -qq -o /dev/null true 2>/dev/null ||
		skip "strace cannot trace here (ptrace not permitted)"
	MB="python3 $BATS_TEST_DIRNAME/mbox.py"
	STATE=$DEFAULT_STATE
	# 40 messages, every fourth 300 kB: 3 MB, so the copy takes many
	# writes and the journal holds a real backup.
	$MB gen "$T/orig" 40 300000
}

reset_mbox() {
	cat "$1" >"$MBOX"
	chmod 600 "$MBOX"
	own "$MBOX"
}

# traced INJECT LINE...: a session as pop() does, under strace.
traced() {
	local inject=$1
	shift
	{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@"; } |
		ASAN_OPTIONS=$(no_leak_check) strace -f -qq -o /dev/null -e trace=$SYSCALLS \
			-e inject="$inject" "$POP3D" -a "file:$T/passwd" \
			-m "$T/mail/%u" -t 5 | tr -d '\r'
}

# stat_traced STRACE-ARG...: a login and STAT under strace run with those
# arguments; prints STAT's reply.
stat_traced() {
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' |
		ASAN_OPTIONS=$(no_leak_check) strace -f -qq "$@" "$POP3D" \
			-a "file:$T/passwd" -m "$T/mail/%u" -t 5 | tr -d '\r' | sed -n 3p
}

# pop_log LINE...: pop, with the log in $T/log.
pop_log() {
	{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@"; } |
		"$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" -t 5 2>"$T/log" |
		tr -d '\r'
}

# count SYSCALL LINE...: how often an undisturbed session makes it.
count() {
	local sc=$1
	shift
	reset_mbox "$T/orig"
	{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@"; } |
		ASAN_OPTIONS=$(no_leak_check) strace -f -qq -o "$T/count" -e trace=$SYSCALLS "$POP3D" \
			-a "file:$T/passwd" -m "$T/mail/%u" -t 5 >/dev/null
	grep -c "^[0-9]* *$sc(" "$T/count" || true
}

# check REPLY NEW: after a disturbed UPDATE whose QUIT answered REPLY, the
# next login recovers, and the mailbox is byte for byte the original or the
# completed one (each followed by the mail in NEW), as the reply said.
check() {
	local reply=$1 new=$2 got=
	run pop STAT QUIT
	assert_line --index 2 --regexp '^\+OK alice has'
	cat "$T/orig" "$new" >"$T/want-orig"
	cat "$T/complete" "$new" >"$T/want-complete"
	if cmp -s "$MBOX" "$T/want-complete"; then
		got=complete
	elif cmp -s "$MBOX" "$T/want-orig"; then
		got=orig
	else
		# Say which messages are missing or extra, for the log.
		diff <($MB digests "$T/want-complete") <($MB digests "$MBOX")
		false
	fi
	# ... and the next session serves them all.
	assert_line --index 3 --regexp "^\+OK $(grep -c '^From ' "$MBOX") "
	case $reply in
	'+OK bye'*) [ $got = complete ] ;;
	*'nothing deleted'*) [ $got = orig ] ;;
	esac
	[ "$(stat -c '%u:%g:%a:%i' "$MBOX")" = "$ident" ]
	! ls "$STATE"/update-* 2>/dev/null
}

# phase: the phase of the UPDATE journal left behind (none: -).
phase() {
	local j=("$STATE"/update-*.journal)
	[ -e "${j[0]}" ] && dd if="${j[0]}" bs=1 skip=16 count=1 status=none ||
		echo -
}

# intact NEW: right after a disturbed UPDATE, before the next login, every
# message to keep and the mail in NEW are whole in the mailbox as it is.
intact() {
	run $MB intact "$MBOX" "$T/complete" "$1"
	assert_success
}

# expected DELE...: the completed mailbox, checked to hold distinct,
# parseable messages (so that byte equality means "each exactly once").
expected() {
	$MB expect "$T/orig" "$T/complete" "$@"
	run $MB same "$T/complete" "$T/complete"
	assert_success
}

# matrix DELE...: every fault at every syscall of the UPDATE of that
# deletion, checked.
matrix() {
	local dele=() d n k sc err reply
	for d in "$@"; do dele+=("DELE $d"); done
	expected "$@"
	: >"$T/none"
	reset_mbox "$T/orig"
	ident=$(stat -c '%u:%g:%a:%i' "$MBOX")
	# Undisturbed, the UPDATE completes (so the faults below hit one).
	run pop "${dele[@]}" QUIT
	assert_line --index -1 --regexp '^\+OK bye'
	cmp "$T/complete" "$MBOX"
	for sc in ${SYSCALLS//,/ }; do
		n=$(count "$sc" "${dele[@]}" QUIT)
		for ((k = 1; k <= n; k++)); do
			for err in error=EIO error=ENOSPC error=EDQUOT signal=KILL; do
				case $err in error=ENOSPC | error=EDQUOT)
					[ "$sc" = pwrite64 ] || continue ;;
				esac
				reset_mbox "$T/orig"
				reply=$(traced "$sc:$err:when=$k" "${dele[@]}" QUIT |
					tail -n 1)
				echo "# $sc $err when=$k: $reply"
				intact "$T/none"
				check "$reply" "$T/none"
			done
		done
	done
}

@test "UPDATE survives an error or SIGKILL at every syscall (messages kept after the first deleted one)" {
	matrix 1 5 6 22
}

@test "UPDATE survives faults when only the end is deleted, and when everything is" {
	matrix 39 40
	matrix $(seq 1 40)
}

@test "mail delivered after a crash is kept by the recovery" {
	expected 1 5 6
	$MB one late >"$T/late"
	reset_mbox "$T/orig"
	ident=$(stat -c '%u:%g:%a:%i' "$MBOX")
	local n k sc phases=
	for sc in pwrite64 fsync ftruncate; do
		n=$(count "$sc" 'DELE 1' 'DELE 5' 'DELE 6' QUIT)
		# Every phase: PREPARE (the backup half written), COPY (the
		# copy half done), TRUNCATE (before and after the ftruncate).
		for ((k = 1; k <= n; k++)); do
			reset_mbox "$T/orig"
			traced "$sc:signal=KILL:when=$k" 'DELE 1' 'DELE 5' 'DELE 6' QUIT
			phases+=$(phase)
			# The MDA finds a dead pop3d's locks stale at once.
			run $MB append "$MBOX" late
			assert_output late-1
			intact "$T/late"
			check killed "$T/late"
		done
	done
	# ... killed in each phase of the journal.
	[[ $phases == *P* && $phases == *C* && $phases == *T* ]]
}

@test "a full disk during the backup leaves the mailbox as it was" {
	expected 1 5 6
	: >"$T/none"
	reset_mbox "$T/orig"
	ident=$(stat -c '%u:%g:%a:%i' "$MBOX")
	count pwrite64 'DELE 1' 'DELE 5' 'DELE 6' QUIT >/dev/null
	# The backup: the writes to the mailbox beyond its old end.
	local k size=$(stat -c %s "$T/orig")
	local backup=$(grep '^[0-9]* *pwrite64(' "$T/count" |
		awk -v s="$size" '{ sub(/\).*/, ""); n = split($0, a, ", ");
			if (a[n] + 0 >= s) print NR }')
	[ -n "$backup" ]
	for k in $backup; do
		for err in ENOSPC EDQUOT; do
			reset_mbox "$T/orig"
			run traced "pwrite64:error=$err:when=$k" 'DELE 1' 'DELE 5' \
				'DELE 6' QUIT
			assert_line --index -1 '-ERR [SYS/TEMP] nothing deleted: cannot update the mailbox now'
			cmp "$T/orig" "$MBOX"
			! ls "$STATE"/update-* 2>/dev/null
			check "${lines[-1]}" "$T/none"
		done
	done
}

@test "a crash during the recovery is recovered by the next start" {
	expected 1 5 6
	: >"$T/none"
	reset_mbox "$T/orig"
	ident=$(stat -c '%u:%g:%a:%i' "$MBOX")
	# Kill the UPDATE in the middle of its copy into the mailbox (the last
	# writes are the copy's, then the journal's phase), then each of the
	# recovery's writes.
	local k n=$(count pwrite64 'DELE 1' 'DELE 5' 'DELE 6' QUIT)
	for ((k = 1; k <= 6; k++)); do
		reset_mbox "$T/orig"
		traced pwrite64:signal=KILL:when=$((n - 2)) 'DELE 1' 'DELE 5' \
			'DELE 6' QUIT
		[ -e "$STATE"/update-*.journal ]
		intact "$T/none"
		traced pwrite64:signal=KILL:when=$k STAT QUIT
		intact "$T/none"
		check killed "$T/none"
	done
}

@test "a damaged journal stops the server from touching the mailbox" {
	local n=$(count pwrite64 'DELE 1' QUIT)
	reset_mbox "$T/orig"
	traced pwrite64:signal=KILL:when=$((n - 2)) 'DELE 1' QUIT
	local j=$(echo "$STATE"/update-*.journal)
	[ -e "$j" ]
	printf 'X' | dd of="$j" bs=1 seek=100 conv=notrunc status=none
	cp "$MBOX" "$T/before"
	run pop STAT QUIT
	assert_line --index 2 '-ERR [SYS/TEMP] cannot open the mailbox'
	cmp "$MBOX" "$T/before"
}

# v2journal JOURNAL MAILBOX: rewrites a journal as the unreleased version 2
# wrote it (the same layout; the digest is the SHA-256 of every byte of the
# backup).
v2journal() {
	python3 - "$1" "$2" <<-'PY'
		import hashlib, struct, sys
		j = bytearray(open(sys.argv[1], 'rb').read())
		s, blen = struct.unpack_from('<Q', j, 72)[0], struct.unpack_from('<Q', j, 96)[0]
		with open(sys.argv[2], 'rb') as f:
		    f.seek(s)
		    j[17:49] = hashlib.sha256(f.read(blen)).digest()
		j[0:16] = b'pop3d-journal-2\n'
		j[-32:] = hashlib.sha256(j[0:16] + j[56:-32]).digest()
		open(sys.argv[1], 'wb').write(j)
	PY
}

@test "a backup that does not match its digest is refused, and so is a journal of another version" {
	local n=$(count pwrite64 'DELE 1' 'DELE 5' 'DELE 6' QUIT) j s how
	# Killed during the copy: the journal says COPY.  Then a byte of the
	# backup changes behind the journal's back (its first byte is
	# sampled), or the journal is one of version 2 (never released): the
	# server must not copy from the backup.
	for how in byte version; do
		reset_mbox "$T/orig"
		traced pwrite64:signal=KILL:when=$((n - 2)) 'DELE 1' 'DELE 5' 'DELE 6' QUIT
		j=$(echo "$STATE"/update-*.journal)
		[ "$(phase)" = C ]
		case $how in
		byte)
			s=$(python3 -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1],"rb").read(), 72)[0] + 2)' "$j")
			printf 'Y' | dd of="$MBOX" bs=1 seek="$s" conv=notrunc status=none ;;
		version) v2journal "$j" "$MBOX" ;;
		esac
		cp "$MBOX" "$T/before"
		run pop STAT QUIT
		assert_line --index 2 '-ERR [SYS/TEMP] cannot open the mailbox'
		cmp "$MBOX" "$T/before"
		rm -f "$STATE"/update-*
	done
}

@test "a read error anywhere in a recovery: nothing is guessed, and the next login completes the UPDATE" {
	expected 1 5 6
	: >"$T/none"
	local n=$(count pwrite64 'DELE 1' 'DELE 5' 'DELE 6' QUIT) first k reads paths reply
	# Killed during the copy (the journal says COPY) or before the
	# ftruncate (TRUNCATE: the old tail and the backup still there).  The
	# recovery then finds a read error (EIO) at each of its reads of the
	# mailbox and the journal in turn: an unreadable old tail is not a
	# truncated one.
	for first in "pwrite64:signal=KILL:when=$((n - 2))" ftruncate:signal=KILL:when=1; do
		reset_mbox "$T/orig"
		ident=$(stat -c '%u:%g:%a:%i' "$MBOX")
		traced "$first" 'DELE 1' 'DELE 5' 'DELE 6' QUIT
		paths=(-P "$MBOX" -P "$(echo "$STATE"/update-*.journal)")
		stat_traced -o "$T/count" "${paths[@]}" -e trace=pread64
		cmp "$T/complete" "$MBOX"
		reads=$(grep -c '^[0-9]* *pread64(' "$T/count")
		[ "$reads" -gt 5 ]
		for ((k = 1; k <= reads; k++)); do
			reset_mbox "$T/orig"
			traced "$first" 'DELE 1' 'DELE 5' 'DELE 6' QUIT
			reply=$(stat_traced -o /dev/null "${paths[@]}" \
				-e trace=pread64 -e inject=pread64:error=EIO:when=$k)
			echo "# $first, then a read error at read $k of $reads:" \
				"$reply, journal $(phase)"
			intact "$T/none"
			check killed "$T/none"
			cmp "$T/complete" "$MBOX"
		done
	done
}

@test "a disk that keeps failing: QUIT says the UPDATE completes at the next login, and it does" {
	expected 1 5 6
	: >"$T/none"
	reset_mbox "$T/orig"
	ident=$(stat -c '%u:%g:%a:%i' "$MBOX")
	local n=$(count pwrite64 'DELE 1' 'DELE 5' 'DELE 6' QUIT)
	reset_mbox "$T/orig"
	# Every write from the copy's second one on fails, the redo's too.
	run traced "pwrite64:error=EIO:when=$((n - 2))+" 'DELE 1' 'DELE 5' \
		'DELE 6' QUIT
	assert_line --index -1 '-ERR [SYS/TEMP] deleting was interrupted; it completes at the next login'
	[ -e "$STATE"/update-*.journal ]
	intact "$T/none"
	check killed "$T/none"
	cmp "$T/complete" "$MBOX"
}

@test "a crash during a recovery that keeps mail delivered after the first crash" {
	expected 1 5 6
	$MB one late >"$T/late"
	reset_mbox "$T/orig"
	ident=$(stat -c '%u:%g:%a:%i' "$MBOX")
	# The first UPDATE dies with its backup half written (PREPARE), or
	# before its ftruncate (TRUNCATE); the MDA appends; the recovery,
	# which must remove the partial backup or the old tail and keep the
	# new mail (a plan of its own), dies at each of its writes in turn.
	local first k
	for first in pwrite64:signal=KILL:when=3 ftruncate:signal=KILL:when=1; do
		for ((k = 1; k <= 6; k++)); do
			reset_mbox "$T/orig"
			traced "$first" 'DELE 1' 'DELE 5' 'DELE 6' QUIT
			run $MB append "$MBOX" late
			assert_output late-1
			traced "pwrite64:signal=KILL:when=$k" STAT QUIT
			echo "# $first, then the recovery killed at write $k: $(phase)"
			intact "$T/late"
			check killed "$T/late"
		done
	done
}

@test "a state directory that exists but cannot be used: no login until it can, then the UPDATE completes" {
	expected 1 5 6
	: >"$T/none"
	reset_mbox "$T/orig"
	ident=$(stat -c '%u:%g:%a:%i' "$MBOX")
	# Killed before its ftruncate: the journal says TRUNCATE, the mailbox
	# holds the copy and the old tail after it (messages twice).
	traced ftruncate:signal=KILL:when=1 'DELE 1' 'DELE 5' 'DELE 6' QUIT
	[ "$(phase)" = T ]
	cp "$MBOX" "$T/crashed"
	local how ways="mode-770 mode-000 symlink"
	[ "$(id -u)" -ne 0 ] || ways+=" owner"
	for how in $ways; do
		case $how in
		mode-770) chmod 770 "$STATE" ;;
		mode-000) chmod 000 "$STATE" ;;
		symlink) mv "$STATE" "$STATE.real" && ln -s "$STATE.real" "$STATE" ;;
		owner) chown "$((TEST_UID + 1))" "$STATE" ;;
		esac
		run pop_log STAT QUIT
		echo "# $how"
		assert_line --index 2 '-ERR [SYS/TEMP] the mailbox cannot be served now, try later'
		assert_equal "${#lines[@]}" 3
		cmp "$T/crashed" "$MBOX"
		# The log says which directory and why.
		grep -q "state directory $STATE: exists but cannot be used" "$T/log"
		grep -q 'login user=alice .* refused: its state directory' "$T/log"
		case $how in
		mode-*) chmod 700 "$STATE" ;;
		symlink) rm "$STATE" && mv "$STATE.real" "$STATE" ;;
		owner) chown "$TEST_UID" "$STATE" ;;
		esac
	done
	check killed "$T/none"
	cmp "$T/complete" "$MBOX"
}
