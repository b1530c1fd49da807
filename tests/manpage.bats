#!/usr/bin/env bats
# pop3d.8 as an admin reads it: it renders without a warning, and its
# OPTIONS section and `pop3d --help` name the same options.

load helpers

MAN=$BATS_TEST_DIRNAME/../pop3d.8
MAN_SESSION=$BATS_TEST_DIRNAME/../pop3d-session.8

@test "man --warnings renders pop3d.8 without a warning" {
	command -v man >/dev/null || skip "man (man-db) is not installed"
	LC_ALL=C MANWIDTH=80 man --warnings -l "$MAN" 2>"$BATS_TEST_TMPDIR/err" >/dev/null
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output ''
}

@test "pop3d-session.8 renders without a warning, and mandoc -Tlint finds none" {
	command -v man >/dev/null || skip "man (man-db) is not installed"
	LC_ALL=C MANWIDTH=80 man --warnings -l "$MAN_SESSION" 2>"$BATS_TEST_TMPDIR/err" >/dev/null
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output ''
	command -v mandoc >/dev/null || return 0
	run mandoc -Tlint -Wwarning "$MAN_SESSION"
	assert_success
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

# The section headings of pop3d.8, one a line, in order.
man_sections() {
	sed -n 's/^\.SH //p' "$MAN" | tr -d '"'
}

@test "pop3d.8's sections are in man-pages(7) order, its own topics after OPTIONS" {
	# man-pages(7), "Sections within a manual page" (those a section 8
	# page may have).
	local order='NAME
SYNOPSIS
CONFIGURATION
DESCRIPTION
OPTIONS
EXIT STATUS
RETURN VALUE
ERRORS
ENVIRONMENT
FILES
VERSIONS
ATTRIBUTES
STANDARDS
HISTORY
NOTES
CAVEATS
BUGS
EXAMPLES
AUTHORS
REPORTING BUGS
COPYRIGHT
SEE ALSO'
	man_sections >"$BATS_TEST_TMPDIR/all"
	grep -Fxf <(echo "$order") "$BATS_TEST_TMPDIR/all" >"$BATS_TEST_TMPDIR/known"
	# Each known section once, in the conventional order.
	grep -Fxf "$BATS_TEST_TMPDIR/known" <(echo "$order") >"$BATS_TEST_TMPDIR/want"
	run diff -u --label man-pages "$BATS_TEST_TMPDIR/want" --label pop3d.8 "$BATS_TEST_TMPDIR/known"
	assert_success
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS 'EXIT STATUS' ENVIRONMENT FILES \
	    STANDARDS NOTES EXAMPLES 'SEE ALSO'; do
		grep -qxF "$s" "$BATS_TEST_TMPDIR/known" || { echo "no $s section"; false; }
	done
	# pop3d's own sections (MBOX, SECURITY, ...) come between OPTIONS and
	# EXIT STATUS: none before, none among the conventional ones after.
	run awk -v order="$order" 'BEGIN { n = split(order, o, "\n"); for (i = 1; i <= n; i++) k[o[i]] = 1 }
	    $0 == "OPTIONS" { s = 1; next } $0 == "EXIT STATUS" { s = 2 }
	    !($0 in k) && s != 1 { print "out of place: " $0 }' "$BATS_TEST_TMPDIR/all"
	assert_output ''
}

# The text of section NAME of pop3d.8, roff source.
man_section() {
	awk -v s="$1" '/^\.SH/ { f = ($0 == ".SH " s || $0 == ".SH \"" s "\"") ; next } f' "$MAN"
}

@test "ENVIRONMENT names every variable pop3d reads" {
	grep -ohE 'getenv\("[A-Za-z_0-9]+"\)' "$BATS_TEST_DIRNAME"/../*.c | sed 's/getenv("//; s/")//' |
		sort -u >"$BATS_TEST_TMPDIR/read"
	grep -qx TCPREMOTEIP "$BATS_TEST_TMPDIR/read"
	man_section ENVIRONMENT >"$BATS_TEST_TMPDIR/env"
	while read -r v; do
		grep -qx "\.B $v" "$BATS_TEST_TMPDIR/env" || { echo "ENVIRONMENT lacks $v"; false; }
	done <"$BATS_TEST_TMPDIR/read"
}

@test "EXAMPLES: inetd, xinetd, systemd, tcpserver and a certbot key" {
	man_section EXAMPLES >"$BATS_TEST_TMPDIR/ex"
	grep -q '^pop3  stream  tcp  nowait' "$BATS_TEST_TMPDIR/ex"
	grep -q 'xinetd.d/pop3' "$BATS_TEST_TMPDIR/ex"
	grep -q '^systemctl enable \\-\\-now pop3d.socket' "$BATS_TEST_TMPDIR/ex"
	grep -q '^tcpserver ' "$BATS_TEST_TMPDIR/ex"
	grep -q 'tls\\-key=/etc/letsencrypt/live/.*/privkey.pem' "$BATS_TEST_TMPDIR/ex"
}

@test "pop3d.8 says a missing mailbox is served as empty, and where the README is" {
	man_section OPTIONS | tr '\n' ' ' | grep -q 'does not exist is served as an empty one'
	man_section FILES | grep -qx '\.I /usr/local/share/doc/pop3d/README'
	# Every other mention of the README sends the reader to FILES.
	run sh -c "grep README '$MAN' | grep -v -e \"README's\" -e '^\.I /usr/local/share/doc/pop3d/README\$'"
	assert_output ''
}

@test "the README keeps no second option list: it points to pop3d(8)" {
	README=$BATS_TEST_DIRNAME/../README
	grep -q 'described once, in the man page pop3d(8)' "$README"
	# An option list is lines like "  -m, --mailbox=PATTERN   text".
	run grep -nE '^ +(-[A-Za-z], )?--[a-z-]+(=[A-Z]+)? {2,}[a-z]' "$README"
	assert_output ''
}
