#!/usr/bin/env bats
# Real clients from Debian's packages against pop3d under tcpserver on
# 127.0.0.1: what each one delivers must be the original messages byte for
# byte.  tests/clients/corpus makes the mailbox (the hard cases are listed
# there); tests/clients/compare checks a delivery and is the one place that
# states what a client may change.  What each client adds, exactly:
#   fetchmail  a Received: field at the top (folded, 3 lines); nothing else.
#              It un-dot-stuffs and turns CRLF into LF for its MDA, keeps
#              NUL and 8-bit bytes.
#   mpop       a Received: field at the top; to an mbox it writes mboxrd:
#              a "From MAILER-DAEMON date" line, one more '>' before each
#              ">*From " line, a blank line after each message.
#   getmail6   Return-Path:, Delivered-To:, Received: at the top, in that
#              order; its Mboxrd destination writes mboxrd as mpop does.
#   curl       nothing: the message with CRLF line ends, dot-stuffing and
#              the final "." removed.
#   poplib     nothing: lines without CRLF, dot-stuffing removed.
# All of them end the last line of a message that had no final LF (pop3d
# sends it with CRLF, as RFC 1939 requires).

load helpers
load clients/serve

setup() {
	command -v tcpserver >/dev/null || skip "tcpserver (ucspi-tcp) is not installed"
}

teardown() {
	stop_server
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

# ---- fetchmail -------------------------------------------------------------

# fetchmailrc: a private rc file polling alice, delivering each
# message to its own file in $T/out through tests/clients/deliver.  Plain
# USER/PASS over loopback: sslproto '' stops fetchmail from insisting on STLS
# (pop3d runs here without --tls: no STLS to offer).
fetchmailrc() {
	mkdir -p "$T/home" "$T/out"
	cat >"$T/home/.fetchmailrc" <<-EOF
		poll 127.0.0.1 protocol pop3 port $PORT
		  user alice password secret sslproto ''
		  mda "$CLIENTS/deliver $T/out"
	EOF
	chmod 600 "$T/home/.fetchmailrc"
}

# fetch OPTION...: one poll, in the foreground, no syslog, no daemon.
fetch() {
	HOME=$T/home FETCHMAILHOME=$T/home timeout 60 "$CLIENTS/known-user" fetchmail --nosyslog \
		--nodetach -s -f "$T/home/.fetchmailrc" \
		--idfile "$T/home/.fetchids" "$@"
}

@test "fetchmail --all --keep: every message delivered byte for byte, none deleted" {
	need fetchmail
	serve_corpus --big
	fetchmailrc
	run fetch --all --keep
	assert_success
	run compare --added Received --files "$T/out"
	assert_success
	assert_output "9 messages identical"
	run served
	assert_output 9
}

@test "fetchmail --all: delivered byte for byte, then deleted at UPDATE" {
	need fetchmail
	serve_corpus
	fetchmailrc
	run fetch --all
	assert_success
	run compare --added Received --files "$T/out"
	assert_success
	assert_output "8 messages identical"
	run served
	assert_output 0
}

@test "fetchmail uidl keep mode: the second poll fetches only the new mail" {
	need fetchmail
	serve_corpus
	fetchmailrc
	run fetch --uidl --keep
	assert_success
	run compare --added Received --files "$T/out"
	assert_output "8 messages identical"
	append_mail
	rm -r "$T/out"
	mkdir "$T/out"
	run fetch --uidl --keep
	assert_success
	run compare --added Received --only 9 --files "$T/out"
	assert_success
	assert_output "1 messages identical"
	# A third poll finds nothing new: fetchmail exits 1.
	run fetch --uidl --keep
	assert_failure 1
	run ls "$T/out"
	assert_output 001
	run served
	assert_output 9
}

# ---- mpop ------------------------------------------------------------------

# mpoprc KEEP DELIVERY TARGET [COMMAND...]: a private configuration file.
mpoprc() {
	cat >"$T/mpoprc" <<-EOF
		account default
		host 127.0.0.1
		port $PORT
		user alice
		password secret
		auth user
		tls off
		keep $1
		uidls_file $T/mpop.uidls
		delivery $2 $3
	EOF
	shift 3
	printf '%s\n' "$@" >>"$T/mpoprc"
	chmod 600 "$T/mpoprc"
}

mpop_run() {
	timeout 60 mpop -q -C "$T/mpoprc"
}

maildir() {
	mkdir -p "$1/new" "$1/cur" "$1/tmp"
}

@test "mpop keep on, to an mbox: mboxrd, byte for byte, none deleted" {
	need mpop
	serve_corpus --big
	mpoprc on mbox "$T/mpop.mbox"
	run mpop_run
	assert_success
	run compare --added Received --mboxrd "$T/mpop.mbox"
	assert_success
	assert_output "9 messages identical"
	# The escaping is mboxrd's, as the test assumes: one more '>'.
	run grep -c '^>>From the mbox escaping$' "$T/mpop.mbox"
	assert_output 1
	run served
	assert_output 9
}

@test "mpop keep off, to a maildir: byte for byte, then deleted" {
	need mpop
	serve_corpus
	maildir "$T/md"
	mpoprc off maildir "$T/md"
	run mpop_run
	assert_success
	run compare --added Received --maildir "$T/md"
	assert_success
	assert_output "8 messages identical"
	run served
	assert_output 0
}

@test "mpop only_new: a second run with keep fetches only the new mail" {
	need mpop
	serve_corpus
	maildir "$T/md1"
	mpoprc on maildir "$T/md1" "only_new on"
	run mpop_run
	assert_success
	run compare --added Received --maildir "$T/md1"
	assert_output "8 messages identical"
	append_mail
	maildir "$T/md2"
	mpoprc on maildir "$T/md2" "only_new on"
	run mpop_run
	assert_success
	run compare --added Received --only 9 --maildir "$T/md2"
	assert_success
	assert_output "1 messages identical"
	run mpop_run
	assert_success
	run compare --added Received --only 9 --maildir "$T/md2"
	assert_output "1 messages identical"
}

# ---- getmail6 --------------------------------------------------------------

# getmailrc TYPE PATH DELETE READ_ALL: a private getmaildir with one rc file.
getmailrc() {
	mkdir -p "$T/gm"
	cat >"$T/gm/getmailrc" <<-EOF
		[retriever]
		type = SimplePOP3Retriever
		server = 127.0.0.1
		port = $PORT
		username = alice
		password = secret

		[destination]
		type = $1
		path = $2

		[options]
		delete = $3
		read_all = $4
	EOF
}

# getmail_run [FILE...]: getmail refuses to deliver as root: as root it runs
# as a throwaway uid, given FILE... first.  tests/clients/getmail is Debian's
# getmail with a race of its own worked around (see there).
CLIENT_UID=40124
getmail_run() {
	local as=()
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "$CLIENT_UID:$CLIENT_UID" "$T/gm" "$@"
		as=(setpriv --reuid="$CLIENT_UID" --regid="$CLIENT_UID" --clear-groups)
	fi
	HOME=$T/gm timeout 60 "${as[@]}" "$CLIENTS/known-user" \
		"$CLIENTS/getmail" -q --getmaildir="$T/gm" --rcfile=getmailrc
}

GETMAIL_ADDS=Return-Path,Delivered-To,Received

@test "getmail6 Mboxrd, delete off: byte for byte, none deleted" {
	need getmail
	serve_corpus --big
	touch "$T/gm.mbox"
	getmailrc Mboxrd "$T/gm.mbox" false true
	run getmail_run "$T/gm.mbox"
	assert_success
	run compare --added "$GETMAIL_ADDS" --mboxrd "$T/gm.mbox"
	assert_success
	assert_output "9 messages identical"
	run served
	assert_output 9
}

@test "getmail6 Maildir, delete on: byte for byte, then deleted" {
	need getmail
	serve_corpus
	maildir "$T/gmd"
	getmailrc Maildir "$T/gmd/" true true
	run getmail_run "$T/gmd"
	assert_success
	run compare --added "$GETMAIL_ADDS" --maildir "$T/gmd"
	assert_success
	assert_output "8 messages identical"
	run served
	assert_output 0
}

@test "getmail6 without read_all: its oldmail file makes the second run fetch only the new mail" {
	need getmail
	serve_corpus
	maildir "$T/gmd"
	getmailrc Maildir "$T/gmd/" false false
	run getmail_run "$T/gmd"
	assert_success
	run compare --added "$GETMAIL_ADDS" --maildir "$T/gmd"
	assert_output "8 messages identical"
	append_mail
	rm -rf "$T/gmd"
	maildir "$T/gmd"
	run getmail_run "$T/gmd"
	assert_success
	run compare --added "$GETMAIL_ADDS" --only 9 --maildir "$T/gmd"
	assert_success
	assert_output "1 messages identical"
}

# ---- curl ------------------------------------------------------------------

@test "curl pop3://: the listing, and each /N byte for byte" {
	need curl
	serve_corpus --big
	local url=pop3://alice:secret@127.0.0.1:$PORT
	curl -sS "$url/" | tr -d '\r' >"$T/list"
	compare --octets >"$T/want"
	cmp "$T/want" "$T/list"
	local files=() n
	for n in $(seq 9); do
		curl -sS -o "$T/curl.$n" "$url/$n"
		files+=("$T/curl.$n")
	done
	run compare --crlf "${files[@]}"
	assert_success
	assert_output "9 messages identical"
	# A message that does not exist is an error, and no output.
	run curl -sS "$url/10"
	assert_failure
	refute_output --partial From:
}

# ---- Python's poplib -------------------------------------------------------

@test "poplib: CAPA, STAT, LIST, UIDL, TOP, RETR, DELE, RSET, QUIT, and what UPDATE left" {
	serve_corpus --big
	run "$CLIENTS/poplib-session" "$PORT" "$T/orig"
	assert_success
	refute_output --partial 'got '
	assert_line 'ok RETR 8 content'
	assert_line 'ok UIDL after UPDATE, later ones'
	run served
	assert_output 7
}
