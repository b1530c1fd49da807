#!/usr/bin/env bats
# The password-file backend (--auth=file:PATH) and whose uid serves the
# mailbox.  Each failed login costs LOGIN_FAILURE_DELAY_MS: few of them here.

bats_require_minimum_version 1.5.0
load helpers
load transcript

setup() {
	setup_account
	two_messages
}

# entry HASH [IDS]: alice's line in the password file: "alice:HASH" plus
# ":uid:gid:home" when root (where ids are required), or IDS if given.
entry() {
	local ids=${2-}
	if [ -z "$ids" ] && [ "$(id -u)" -eq 0 ]; then
		ids=":$TEST_UID:$TEST_GID:$T"
	fi
	printf 'alice:%s%s\n' "$1" "$ids"
}

login_works() {
	transcript "$@" <<-EOF
	@login
	C: STAT
	S: +OK 2 86
	C: QUIT
	S: +OK bye, 2 messages left
	EOF
	[ "$rc" -eq 0 ]
}

@test "yescrypt, sha512crypt and bcrypt hashes are checked with crypt(3)" {
	command -v mkpasswd >/dev/null || skip "needs mkpasswd (package whois)"
	for hash in "$(mkpasswd -m yescrypt secret)" "$(openssl passwd -6 secret)" \
		"$(mkpasswd -m sha512crypt secret)" "$(mkpasswd -m bcrypt secret)"; do
		echo "$hash"
		case $hash in '$y$'* | '$6$'* | '$2b$'*) ;; *) false ;; esac
		entry "$hash" >"$T/passwd"
		login_works
	done
}

@test "comments and blank lines are skipped; the first entry of a name counts" {
	{
		echo '# virtual POP3 users'
		echo
		echo '#alice:$6$x$notahash'
		entry "$HASH"
		entry "$(openssl passwd -6 other)"
	} >"$T/passwd"
	login_works
}

@test "a wrong password or an unknown user: the same -ERR [AUTH], about a second later" {
	local start end
	start=$(date +%s%N)
	transcript <<-EOF
	S~ ^\+OK
	C: USER bob
	S: +OK send the password
	C: PASS secret
	S: -ERR [AUTH] authentication failed
	C: USER alice
	S: +OK send the password
	C: PASS Secret
	S: -ERR [AUTH] authentication failed
	C: USER alice
	S: +OK send the password
	C: PASS secret
	S: +OK alice has 2 messages (86 octets)
	C: QUIT
	S~ ^\+OK
	EOF
	end=$(date +%s%N)
	[ "$rc" -eq 0 ]
	echo "$(((end - start) / 1000000)) ms"
	[ $(((end - start) / 1000000)) -ge 1800 ]
}

@test "three failed logins end the connection; legacy hashes are refused" {
	# bob's md5crypt hash is right, but libxcrypt calls the method legacy.
	printf 'bob:%s\n' "$(openssl passwd -1 secret)" >>"$T/passwd"
	transcript --stderr "$T/log" -d <<-EOF
	S~ ^\+OK
	C: USER bob
	S: +OK send the password
	C: PASS secret
	S: -ERR [AUTH] authentication failed
	C: USER carol
	S: +OK send the password
	C: PASS secret
	S: -ERR [AUTH] authentication failed
	C: USER alice
	S: +OK send the password
	C: PASS wrong
	S: -ERR [AUTH] authentication failed
	C: USER alice
	C: PASS secret
	EOF
	[ "$rc" -eq 1 ]
	cat "$T/log"
	grep -q 'the hash of bob is not one crypt(3) accepts' "$T/log"
	grep -q '^pop3d: session=[0-9a-f]* login failed user=bob .*reason=bad credentials$' "$T/log"
	grep -q '^pop3d: session=[0-9a-f]* login failed user=(unknown) ' "$T/log"
	grep -q '^pop3d: session=[0-9a-f]* login failed user=alice ' "$T/log"
	grep -q '^pop3d: session=[0-9a-f]* too many login failures' "$T/log"
}

@test "a password file writable by others or its group is refused: exit 2, no greeting" {
	chmod 602 "$T/passwd"
	run -2 --separate-stderr "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" < <(printf 'USER alice\r\nPASS secret\r\n')
	assert_output ''
	run -2 "$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" </dev/null
	assert_output --partial 'that group and others may not write'
	# Whoever may write it may add a login for any uid.
	chmod 620 "$T/passwd"
	run -2 "$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" </dev/null
	assert_output --partial "password file $T/passwd: refused"
	chmod 640 "$T/passwd"
	login_works
}

@test "as root: a password file owned by another user is refused" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give the file away"
	chown "$TEST_UID" "$T/passwd"
	run -2 "$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" </dev/null
	assert_output --partial "password file $T/passwd: refused: not a regular file owned by root that"
	# Started as an ordinary user, the file may be that user's own, but
	# not another's (who may read it here).
	chmod 644 "$T/passwd"
	run -2 as_user "$((TEST_UID + 1))" "$POP3D" -d -a "file:$T/passwd" </dev/null
	assert_output --partial "refused: not a regular file owned by root or uid $((TEST_UID + 1)) that"
	run as_user "$TEST_UID" "$POP3D" -d -a "file:$T/passwd" <<<$'QUIT\r'
	assert_success
	chown 0 "$T/passwd"
	login_works
}

@test "%h in the mailbox pattern is the entry's home, %% a percent sign" {
	local ids=":$(id -u):$(id -g)"
	[ "$(id -u)" -eq 0 ] && ids=":$TEST_UID:$TEST_GID"
	mkdir -p "$T/home%"
	chmod 777 "$T/home%"
	entry "$HASH" "$ids:$T/home%" >"$T/passwd"
	mv "$MBOX" "$T/home%/mbox"
	login_works -m '%h/mbox'
	login_works -m "$T/home%%/mbox"
	# An escape it does not know is refused at startup, for every user.
	run -2 "$POP3D" -a "file:$T/passwd" -m '%h/%x' </dev/null
	assert_output 'pop3d: bad --mailbox: %h/%x (unknown escape %x: %u, %h or %%)'
}

@test "without uid:gid, served as the invoking user, who needs no passwd entry, HOME or USER" {
	local uid
	if [ "$(id -u)" -eq 0 ]; then
		uid=$TEST_UID
		if getent passwd "$uid" >/dev/null; then
			skip "uid $uid has a passwd entry on this host"
		fi
		chown "$uid" "$T/passwd"
	else
		uid=$(id -u)
	fi
	printf 'alice:%s\n' "$HASH" >"$T/passwd"
	run_as() {
		if [ "$(id -u)" -eq 0 ]; then as_user "$uid" "$@"; else env -i "$@"; fi
	}
	run run_as "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" < <(printf 'USER alice\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n')
	assert_success
	assert_line $'+OK bye, 1 messages left\r'
	msg b@example.org two 'bye' | cmp - "$MBOX"
	[ "$(stat -c %u "$MBOX")" = "$uid" ]
}

@test "an entry's uid:gid other than the invoking user's is refused when not root" {
	local uid=$(id -u) other
	other=$((uid == 0 ? TEST_UID + 1 : uid + 1))
	entry "$HASH" ":$other:$other:$T" >"$T/passwd"
	if [ "$uid" -eq 0 ]; then
		chown "$TEST_UID" "$T/passwd"
		run as_user "$TEST_UID" "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" < <(printf 'USER alice\r\nPASS secret\r\nSTAT\r\n')
	else
		run "$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" < <(printf 'USER alice\r\nPASS secret\r\nSTAT\r\n')
	fi
	assert_failure 1
	assert_line $'-ERR [AUTH] authentication failed\r'
	refute_line --partial '+OK alice has'
	cmp "$T/before" "$MBOX"
}

@test "as root: the session runs as the entry's uid and gid, with no other groups" {
	require_root
	mkfifo "$T/fifo"
	"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" <>"$T/fifo" >"$T/replies" &
	local pid=$! i
	printf 'USER alice\r\nPASS secret\r\n' >"$T/fifo"
	for i in $(seq 50); do
		grep -q '^+OK alice has' "$T/replies" && break
		sleep 0.1
	done
	grep '^Uid:\|^Gid:\|^Groups:' "/proc/$pid/status" | tr -s '\t ' ' ' >"$T/ids"
	printf 'QUIT\r\n' >"$T/fifo"
	wait "$pid"
	cat "$T/ids"
	printf 'Uid: %s %s %s %s\nGid: %s %s %s %s\nGroups: %s \n' \
		$TEST_UID $TEST_UID $TEST_UID $TEST_UID $TEST_GID $TEST_GID \
		$TEST_GID $TEST_GID $TEST_GID | cmp - "$T/ids"
}

@test "as root: a mailbox that is not the user's is refused" {
	require_root
	chown 0:0 "$MBOX"
	for mode in 600 666; do
		chmod "$mode" "$MBOX"
		transcript <<-EOF
		S~ ^\+OK
		C: USER alice
		S: +OK send the password
		C: PASS secret
		S~ ^-ERR \[SYS/(TEMP|PERM)\] cannot open the mailbox$
		C: DELE 1
		C: QUIT
		EOF
		[ "$rc" -eq 1 ]
		cmp "$T/before" "$MBOX"
	done
}

@test "as root: uid 0 and entries without uid:gid are never served" {
	require_root
	for ids in ':0:0:/root' ':0:40123:/root' ''; do
		printf 'alice:%s%s\n' "$HASH" "$ids" >"$T/passwd"
		transcript <<-EOF
		S~ ^\+OK
		C: USER alice
		S: +OK send the password
		C: PASS secret
		S: -ERR [AUTH] authentication failed
		C: STAT
		S: -ERR command not valid in this state
		EOF
		[ "$rc" -eq 1 ]
	done
	cmp "$T/before" "$MBOX"
}
