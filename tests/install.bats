#!/usr/bin/env bats
# make install / make uninstall into a DESTDIR: every file where the
# variables say, the deployment files pointing at the installed binary,
# and nothing left behind.

load helpers

REPO=$BATS_TEST_DIRNAME/..

# The files "make install" must create under DESTDIR, one a line, with the
# given sbindir/mandir/sysconfdir/PREFIX.
expected() {
	local prefix=$1 sbindir=$2 mandir=$3 sysconfdir=$4
	echo "$sbindir/pop3d"
	echo "$sbindir/pop3d-session"
	echo "$mandir/man8/pop3d.8"
	echo "$mandir/man8/pop3d-session.8"
	echo "$sysconfdir/pam.d/pop3"
	echo "$prefix/lib/systemd/system/pop3d.socket"
	echo "$prefix/lib/systemd/system/pop3d@.service"
	echo "$prefix/lib/systemd/system/pop3ds.socket"
	echo "$prefix/lib/systemd/system/pop3ds@.service"
	echo "$prefix/share/pop3d/inetd.conf"
	echo "$prefix/share/pop3d/tcpserver/run"
	echo "$prefix/share/pop3d/fail2ban/filter.d/pop3d.conf"
	echo "$prefix/share/pop3d/fail2ban/jail.d/pop3d.conf"
	echo "$prefix/share/doc/pop3d/README"
	for f in "$REPO"/xinetd.d/*; do
		[ -e "$f" ] && echo "$sysconfdir/xinetd.d/${f##*/}"
	done
}

@test "make install honours PREFIX and DESTDIR; sysconfdir stays /etc" {
	D=$BATS_TEST_TMPDIR/root
	run make -s -C "$REPO" install DESTDIR="$D" PREFIX=/usr
	assert_success
	(cd "$D" && find . -type f | sed 's|^\.||' | sort) >"$BATS_TEST_TMPDIR/got"
	expected /usr /usr/sbin /usr/share/man /etc | sort >"$BATS_TEST_TMPDIR/want"
	diff -u "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	[ -x "$D/usr/sbin/pop3d" ]
	[ "$(stat -c %a "$D/usr/share/pop3d/tcpserver/run")" = 755 ]
	[ "$(stat -c %a "$D/etc/pam.d/pop3")" = 644 ]
	# The deployment files name the installed binary.
	grep -qx 'ExecStart=/usr/sbin/pop3d' "$D/usr/lib/systemd/system/pop3d@.service"
	grep -q '[[:space:]]/usr/sbin/pop3d[[:space:]]' "$D/usr/share/pop3d/inetd.conf"
	grep -q '/usr/sbin/pop3d' "$D/usr/share/pop3d/tcpserver/run"
	run grep -rl @sbindir@ "$D"
	assert_failure
	# The installed man page and README name the installed paths.
	run grep -rl /usr/local "$D"
	assert_output ''
	grep -q '^\.I /usr/share/doc/pop3d/README$' "$D/usr/share/man/man8/pop3d.8"
	grep -q '^\.IR /usr/share/pop3d/inetd.conf' "$D/usr/share/man/man8/pop3d.8"
	grep -q '/usr/lib/systemd/system/pop3d.socket' "$D/usr/share/man/man8/pop3d.8"
	grep -q 'root  /usr/sbin/pop3d  pop3d$' "$D/usr/share/man/man8/pop3d.8"
	grep -q '/usr/share/pop3d/inetd.conf' "$D/usr/share/doc/pop3d/README"
	# The installed man page is well-formed and names every option.
	run groff -man -ww -z "$D/usr/share/man/man8/pop3d.8"
	assert_output ''
	run make -s -C "$REPO" uninstall DESTDIR="$D" PREFIX=/usr
	assert_success
	# Nothing left, not even an empty directory.
	run find "$D" -mindepth 1
	assert_output ''
}

@test "make install keeps an existing /etc/pam.d/pop3 and xinetd service, and says so" {
	D=$BATS_TEST_TMPDIR/root
	mkdir -p "$D/etc/pam.d" "$D/etc/xinetd.d"
	echo '# the admin own' >"$D/etc/pam.d/pop3"
	echo '# the admin own' >"$D/etc/xinetd.d/pop3"
	run make -s -C "$REPO" install DESTDIR="$D" PREFIX=/usr
	assert_success
	assert_line "$D/etc/pam.d/pop3 exists: kept, not overwritten (the new one is pam.d/pop3)"
	assert_line "$D/etc/xinetd.d/pop3 exists: kept, not overwritten (the new one is xinetd.d/pop3)"
	assert_line "installing $D/etc/xinetd.d/pop3s"
	assert_equal "$(cat "$D/etc/pam.d/pop3")" '# the admin own'
	assert_equal "$(cat "$D/etc/xinetd.d/pop3")" '# the admin own'
	# The new pop3s is as shipped; a second install keeps it too.
	grep -q '^	server		= /usr/sbin/pop3d$' "$D/etc/xinetd.d/pop3s"
	run make -s -C "$REPO" install DESTDIR="$D" PREFIX=/usr
	assert_line "$D/etc/xinetd.d/pop3s exists: kept, not overwritten (the new one is xinetd.d/pop3s)"
	# uninstall removes only what is as installed: the admin's files stay.
	run make -s -C "$REPO" uninstall DESTDIR="$D" PREFIX=/usr
	assert_success
	assert_line "$D/etc/pam.d/pop3 was changed: kept"
	assert_line "$D/etc/xinetd.d/pop3 was changed: kept"
	(cd "$D" && find . -mindepth 1 | sort) >"$BATS_TEST_TMPDIR/left"
	printf '%s\n' ./etc ./etc/pam.d ./etc/pam.d/pop3 ./etc/xinetd.d ./etc/xinetd.d/pop3 |
		diff -u - "$BATS_TEST_TMPDIR/left"
}

@test "make install: sbindir, mandir and sysconfdir can each be set" {
	D=$BATS_TEST_TMPDIR/root
	run make -s -C "$REPO" install DESTDIR="$D" PREFIX=/opt/p sbindir=/opt/bin \
		mandir=/opt/man sysconfdir=/opt/etc
	assert_success
	(cd "$D" && find . -type f | sed 's|^\.||' | sort) >"$BATS_TEST_TMPDIR/got"
	expected /opt/p /opt/bin /opt/man /opt/etc | sort >"$BATS_TEST_TMPDIR/want"
	diff -u "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	grep -qx 'ExecStart=/opt/bin/pop3d' "$D/opt/p/lib/systemd/system/pop3d@.service"
	run make -s -C "$REPO" uninstall DESTDIR="$D" PREFIX=/opt/p sbindir=/opt/bin \
		mandir=/opt/man sysconfdir=/opt/etc
	assert_success
	run find "$D" -mindepth 1
	assert_output ''
}

@test "every option in --help is in the man page" {
	"$POP3D" --help | grep -oE -- '--[a-z-]+' | sort -u >"$BATS_TEST_TMPDIR/opts"
	[ -s "$BATS_TEST_TMPDIR/opts" ]
	LC_ALL=C MANWIDTH=200 man -l "$REPO/pop3d.8" 2>/dev/null | col -b >"$BATS_TEST_TMPDIR/man" ||
		LC_ALL=C groff -man -Tascii "$REPO/pop3d.8" | col -b >"$BATS_TEST_TMPDIR/man"
	while read -r o; do
		grep -q -e "$o" "$BATS_TEST_TMPDIR/man" || { echo "missing: $o"; false; }
	done <"$BATS_TEST_TMPDIR/opts"
}
