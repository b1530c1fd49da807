# cwrap fixtures (libpam-wrapper with pam_matrix, libnss-wrapper,
# libuid-wrapper): fake accounts, a private PAM service and a fake /var/mail,
# without touching the host's accounts.  Load after helpers.
#
#   cwrap_build_module         once per suite (setup_file): builds
#                              tests/pam_test.c into $BATS_FILE_TMPDIR
#   cwrap_setup                per test: $T/passwd, $T/group, $T/passdb,
#                              $T/pam/pop3, homes, $T/mail; $LOG is where
#                              pop3d -d and pam_test.so write
#   cw CMD...                  runs CMD with the fake users and PAM (the
#                              process still has its real uid)
#   cw_root CMD...             the same, and uid_wrapper makes CMD believe
#                              it is root with working setuid()
#   pop_pam LINE...            a session through PAM as fake root: the lines
#                              are sent (CRLF added) and the replies printed
#                              without CRs; POP3D_ARGS adds options;
#                              pop3d's exit status is left in $T/status

PAM_MATRIX=/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so
for d in /usr/lib/*/pam_wrapper /usr/lib/pam_wrapper; do
	[ -e "$d/pam_matrix.so" ] && PAM_MATRIX=$d/pam_matrix.so
done

cwrap_build_module() {
	cc -Wall -Wextra -Werror -shared -fPIC -o "$BATS_FILE_TMPDIR/pam_test.so" \
		"$BATS_TEST_DIRNAME/pam_test.c" -lpam
}

# The fake users.  As root, files can be given to any uid, so alice is a
# number no real account uses; otherwise alice is the caller's own uid (the
# only owner a non-root test can give a file), and what needs another
# owner is skipped.
cwrap_setup() {
	setup_account
	if [ "$(id -u)" -eq 0 ]; then
		ALICE_UID=1001
	else
		ALICE_UID=$(id -u)
	fi
	BOB_UID=$((ALICE_UID + 1))
	CAROL_UID=$((ALICE_UID + 2))
	mkdir -p "$T/home/alice" "$T/home/bob" "$T/home/carol" "$T/pam"
	# Homes of their own: ~/.pop3d can be made (as root, pop3d would
	# otherwise make the state directory under /var/lib/pop3d).
	if [ "$(id -u)" -eq 0 ]; then
		chown "$ALICE_UID:$ALICE_UID" "$T/home/alice"
		chown "$BOB_UID:$BOB_UID" "$T/home/bob"
		chown "$CAROL_UID:$CAROL_UID" "$T/home/carol"
	fi
	cat >"$T/passwd" <<-EOT
		root:x:0:0:root:/root:/bin/sh
		sys:x:500:500:a system account:/:/bin/sh
		alice:x:$ALICE_UID:$ALICE_UID:Alice:$T/home/alice:/bin/sh
		bob:x:$BOB_UID:$BOB_UID:Bob:$T/home/bob:/bin/sh
		carol:x:$CAROL_UID:$CAROL_UID:Carol:$T/home/carol:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
	EOT
	cat >"$T/group" <<-EOT
		root:x:0:
		mail:x:8:
		alice:x:$ALICE_UID:
		bob:x:$BOB_UID:
		carol:x:$CAROL_UID:
		staff:x:50:alice
	EOT
	cat >"$T/passdb" <<-EOT
		root:rootpw:pop3
		sys:syspw:pop3
		alice:secret:pop3
		bob:hunter2:pop3
		carol:carolpw:pop3
	EOT
	chmod 644 "$T/passwd" "$T/group" "$T/passdb"
	LOG=$T/log
	: >"$LOG"
	chmod 666 "$LOG"
	local m=$BATS_FILE_TMPDIR/pam_test.so
	cat >"$T/pam/pop3" <<-EOT
		auth     required $PAM_MATRIX passdb=$T/passdb
		auth     optional $m log=$LOG
		account  required $PAM_MATRIX passdb=$T/passdb
		account  required $m expired=carol
		session  required $PAM_MATRIX passdb=$T/passdb
		session  required $m log=$LOG
	EOT
	echo "auth required pam_deny.so" >"$T/pam/other"
	MBOX=$T/mail/alice
}

# ASan must come first in the link order: with the wrappers preloaded it
# cannot, and that is harmless here; deep binding is what the wrappers'
# manuals say to disable under sanitizers.
cw() {
	cw_env
	env "${CW_ENV[@]}" "$@"
}

# cw_env: the variables of cw in the array CW_ENV, for "env" run directly
# (in the background, $! is then pop3d itself).
cw_env() {
	CW_ENV=(LD_PRELOAD="libpam_wrapper.so libnss_wrapper.so ${CW_EXTRA_PRELOAD:-}"
		PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pam"
		NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group"
		ASAN_OPTIONS="verify_asan_link_order=0${CW_ASAN:+:$CW_ASAN}"
		PAM_WRAPPER_DISABLE_DEEPBIND=1 NSS_WRAPPER_DISABLE_DEEPBIND=1
		UID_WRAPPER_DISABLE_DEEPBIND=1)
}

# As root, uid_wrapper only pretends that pop3d drops to the user: what
# pop3d creates is root's, and a state directory root made is not the
# user's (a login with one is refused).  So these sessions get none: pop3d
# (also under tcpserver) is given a --state-dir that cannot be made.
cw_root() {
	local a args=()
	for a in "$@"; do
		args+=("$a")
		if [ "$a" = "$POP3D" ] && [ "$(id -u)" -eq 0 ]; then
			args+=(--state-dir="$T/no-state/%u")
		fi
	done
	CW_EXTRA_PRELOAD=libuid_wrapper.so cw UID_WRAPPER=1 UID_WRAPPER_ROOT=1 "${args[@]}"
}

# own_as UID FILE...: gives files to a fake uid (root only).
own_as() {
	local u=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		chown "$u:$u" "$@"
	fi
}

# pop3d's exit status is left in $T/status.
pop_pam() {
	printf '%s\r\n' "$@" >"$T/in"
	local rc=0
	cw_root "$POP3D" -d -m "$T/mail/%u" -t 5 ${POP3D_ARGS:-} <"$T/in" \
		>"$T/out" 2>>"$LOG" || rc=$?
	echo "$rc" >"$T/status"
	tr -d '\r' <"$T/out"
}

# needs_root REASON: skips the test unless root, saying why.
needs_root() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root: $1"
	fi
}
