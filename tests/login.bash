# Helpers for the login and bounds suites (loaded after helpers).

# session LINE...: sends the lines (CRLF added) from the greeting on, without
# logging in; replies with CRs removed on stdout, pop3d's log (-d) in $T/log.
session() {
	local -
	set -o pipefail
	printf '%s\r\n' "$@" |
		"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 -d ${POP3D_ARGS:-} 2>"$T/log" |
		tr -d '\r'
}

# plain AUTHZID AUTHCID PASSWORD: a SASL PLAIN response (RFC 4616).
plain() {
	printf '%s\0%s\0%s' "$1" "$2" "$3" | base64 -w0
}

# apop_session SECRET LINE...: reads the greeting, answers it with
# "APOP alice MD5(timestamp SECRET)", then sends the lines; prints every
# reply (CRs removed), the greeting first; the log goes to $T/log.  Needs
# POP3D_ARGS=--apop=FILE.  apop_login USER SECRET LINE... for another user;
# the array APOP_CMD replaces the pop3d command line.
apop_session() {
	apop_login alice "$@"
}

apop_login() {
	local user=$1 secret=$2 greeting digest
	shift 2
	local cmd=("${APOP_CMD[@]}")
	if [ ${#cmd[@]} -eq 0 ]; then
		cmd=("$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 -d ${POP3D_ARGS:-})
	fi
	coproc POP { "${cmd[@]}" 2>>"$T/log"; }
	local out=${POP[0]} in=${POP[1]} pid=$POP_PID
	IFS= read -r -t 5 greeting <&"$out"
	greeting=${greeting%$'\r'}
	digest=$(printf '%s%s' "${greeting##* }" "$secret" | md5sum | cut -d' ' -f1)
	{ printf 'APOP %s %s\r\n' "$user" "$digest"; printf '%s\r\n' "$@"; } >&"$in"
	exec {in}>&-
	printf '%s\n' "$greeting"
	tr -d '\r' <&"$out"
	wait "$pid"
}

# now_ms: the time in milliseconds, for measuring delays.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
