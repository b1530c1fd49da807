# Serving the client corpus over TCP for tests/clients.bats: pop3d under
# tcpserver (ucspi-tcp) on 127.0.0.1, a free port, stopped in teardown.
# Needs helpers.bash loaded first.

CLIENTS=$BATS_TEST_DIRNAME/clients

# serve_corpus [--big]: alice's mbox is the corpus (tests/clients/corpus);
# the originals are in $T/orig.  Then start_server.
serve_corpus() {
	setup_account
	"$CLIENTS/corpus" "$T" "$@" | write_mbox
	start_server
}

# append_mail: one more message at the end of alice's mbox (as an MDA would
# append it) and in $T/orig.
append_mail() {
	"$CLIENTS/corpus" --append "$T" >>"$MBOX"
}

# start_server: pop3d for $T's accounts on 127.0.0.1:$PORT.  The port is one
# the kernel just gave out; if someone takes it before tcpserver binds it,
# try another.  The server's log is $T/server.log.
start_server() {
	local try i
	for try in 1 2 3 4 5; do
		PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		# fd 3 is bats' own: a background job holding it would hang bats.
		tcpserver -v -R -H -l localhost -c 8 127.0.0.1 "$PORT" \
			"$POP3D" -d -a "file:$T/passwd" -m "$T/mail/%u" -t 60 \
			>/dev/null 2>"$T/server.log" 3>&- &
		SERVER_PID=$!
		for i in $(seq 50); do
			grep -q 'status: 0/' "$T/server.log" && return 0
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		stop_server
	done
	echo "tcpserver did not start: $(cat "$T/server.log")" >&2
	return 1
}

stop_server() {
	if [ -n "${SERVER_PID:-}" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}

# compare ARGS...: tests/clients/compare against $T/orig.
compare() {
	"$CLIENTS/compare" "$T/orig" "$@"
}

# served: how many messages alice's mbox has now, by pop3d's own STAT.
served() {
	pop STAT QUIT | sed -n 's/^+OK \([0-9]*\) [0-9]*$/\1/p'
}
