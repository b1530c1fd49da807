#!/usr/bin/env bats
# pop3d.8 as an admin reads it: it renders without a warning, and its
# OPTIONS section and `pop3d --help` name the same options.

load helpers

MAN=$BATS_TEST_DIRNAME/../pop3d.8

@test "man --warnings renders pop3d.8 without a warning" {
	command -v man >/dev/null || skip "man (man-db) is not installed"
	LC_ALL=C MANWIDTH=80 man --warnings -l "$MAN" 2>"$BATS_TEST_TMPDIR/err" >/dev/null
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output ''
}

@test "mandoc -Tlint finds no warning or error in pop3d.8" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	# STYLE notes (long source lines) are advice, not faults.
	run mandoc -Tlint -Wwarning "$MAN"
	assert_success
	assert_output ''
}

# The options of --help, one per line: "-m" and "--mailbox" alike.
help_options() {
	"$POP3D" --help | grep -E '^  +-' | grep -oE -- '(^|[ ,])--?[A-Za-z][a-z-]*' |
		tr -d ' ,' | sort -u
}

# The options pop3d.8 describes: the tag line after each .TP in OPTIONS.
man_options() {
	awk '/^\.SH OPTIONS/ { f = 1; next } /^\.SH/ { f = 0 }
	    f && prev == ".TP" { print } { prev = $0 }' "$MAN" |
		sed 's/\\-/-/g' | grep -oE -- '(^|[ "])--?[A-Za-z][a-z-]*' |
		tr -d ' "' | sort -u
}

@test "every option in --help is in pop3d.8's OPTIONS, and the other way round" {
	help_options >"$BATS_TEST_TMPDIR/help"
	man_options >"$BATS_TEST_TMPDIR/man"
	# Both lists are real: the options every pop3d has are in each.
	for o in -m --mailbox -a --auth -h --help; do
		grep -qx -- "$o" "$BATS_TEST_TMPDIR/help"
		grep -qx -- "$o" "$BATS_TEST_TMPDIR/man"
	done
	run diff -u --label help "$BATS_TEST_TMPDIR/help" --label pop3d.8 "$BATS_TEST_TMPDIR/man"
	assert_success
}
