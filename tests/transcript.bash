# Transcripts: a session written as the client's lines and the server's
# replies, run through pop3d and compared line by line.  Load after helpers.
#
#   transcript [POP3D-OPTION...] <<EOF
#   S~ ^\+OK             the greeting (a regular expression)
#   C: USER alice        sent with CRLF
#   S: +OK send the password   this reply line, exactly, ending in CRLF
#   L: NOOP              sent with a bare LF
#   B: NO\0OP\r\n        sent through printf %b, no line end added
#   @login               greeting, USER alice, PASS secret, the maildrop line
#   ...                  whatever replies come from here on are not compared
#   EOF
# pop3d runs with fd 2 joined to fd 1, as under inetd, so that anything it
# wrote to stderr would break the transcript (--stderr FILE as the first
# option sends it to FILE instead).  $rc is its exit status; the
# raw replies are in $T/replies.

transcript() {
	local line kinds=() want=()
	: >"$T/input"
	while IFS= read -r line; do
		line=${line#"${line%%[![:space:]]*}"}
		case $line in
		'@login')
			printf 'USER alice\r\nPASS secret\r\n' >>"$T/input"
			kinds+=('~' '=' '~')
			want+=('^\+OK ' '+OK send the password'
				'^\+OK alice has [0-9]+ messages \([0-9]+ octets\)$') ;;
		'C:') printf '\r\n' >>"$T/input" ;;
		'C: '*) printf '%s\r\n' "${line#C: }" >>"$T/input" ;;
		'L: '*) printf '%s\n' "${line#L: }" >>"$T/input" ;;
		'B: '*) printf '%b' "${line#B: }" >>"$T/input" ;;
		'S:') kinds+=('='); want+=('') ;;
		'S: '*) kinds+=('='); want+=("${line#S: }") ;;
		'S~ '*) kinds+=('~'); want+=("${line#S~ }") ;;
		'...') kinds+=('...'); want+=('') ;;
		''|'#'*) ;;
		*) echo "transcript: bad line: $line" >&2; return 1 ;;
		esac
	done
	rc=0
	local err=/dev/stdout
	if [ "${1-}" = --stderr ]; then
		err=$2
		shift 2
	fi
	"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 ${POP3D_ARGS:-} "$@" \
		<"$T/input" >"$T/replies" 2>"$err" || rc=$?
	compare_replies
}

# Checks $T/replies against kinds/want (set by transcript).
compare_replies() {
	local got=() i ok=1 n
	mapfile -t got <"$T/replies"
	if [ -s "$T/replies" ] && [ "$(tail -c 2 "$T/replies" | od -An -c | tr -d ' ')" != '\r\n' ]; then
		echo "the replies do not end in CRLF"
		ok=0
	fi
	n=${#want[@]}
	[ ${#got[@]} -gt "$n" ] && n=${#got[@]}
	for ((i = 0; i < n; i++)); do
		local g=${got[i]-'(nothing)'} w=${want[i]-'(nothing)'} k=${kinds[i]-=}
		[ "$k" = '...' ] && break
		local mark='  '
		if [[ $g != *$'\r' && $g != '(nothing)' ]]; then
			mark='LF'
			ok=0
		fi
		g=${g%$'\r'}
		if [ "$k" = '~' ]; then
			[[ $g =~ $w ]] || { mark='!='; ok=0; }
		else
			[ "$g" = "$w" ] || { mark='!='; ok=0; }
		fi
		printf '%s %-40s %s %s\n' "$mark" "${g:0:200}" "$k" "${w:0:200}"
	done >"$T/compared"
	if [ $ok -eq 0 ]; then
		echo "transcript mismatch (got | kind | wanted):"
		cat "$T/compared"
		echo "sent (cat -v):"
		cat -v "$T/input" | cut -c 1-200
		return 1
	fi
}

# two_messages: alice's mailbox holds two messages of 44 and 42 octets (86 in
# all); a copy is kept in $T/before.
two_messages() {
	{ msg a@example.org one 'hello'; msg b@example.org two 'bye'; } | write_mbox
	cp "$MBOX" "$T/before"
}

# as_user UID CMD...: CMD as that uid and gid, no groups, empty environment.
as_user() {
	local id=$1
	shift
	setpriv --reuid="$id" --regid="$id" --clear-groups env -i "$@"
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (${1:-to switch uids})"
	[ -z "${TESTS_UNPRIVILEGED:-}" ] ||
		skip "needs root (${1:-to switch uids}); TESTS_UNPRIVILEGED is set"
}
