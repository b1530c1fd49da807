# Network fixtures for the TLS and privilege-separation suites: a throwaway
# CA and server certificate, and pop3d under tcpserver on 127.0.0.1.  Load
# after helpers (needs $T from setup_account).

# make_pki: $T/pki/ca.pem (a test CA) and cert.pem/key.pem (localhost and
# 127.0.0.1, signed by it).  P-256 keys: made in milliseconds.
make_pki() {
	local d=$T/pki
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
		-subj /CN=pop3d-test-CA 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/key.pem" -out "$d/req.csr" -subj /CN=localhost 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext"
	openssl x509 -req -in "$d/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -out "$d/cert.pem" -days 2 -extfile "$d/ext" 2>/dev/null
	chmod 600 "$d/key.pem"
	CA=$d/ca.pem
	TLS_FILES="--tls-cert=$d/cert.pem --tls-key=$d/key.pem"
}

# serve ARG...: pop3d -a/-m for alice plus ARGs, one process per connection
# under tcpserver on 127.0.0.1:$PORT (a free port); -d log in $T/server.log
# (SERVE_LOG= for no -d).  SERVE_AS: a command prefix to run it as another
# user (setpriv ...).
serve() {
	local try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		PORT=$((20000 + RANDOM % 40000))
		${SERVE_AS:-} tcpserver -v -R -H -l 0 -c 20 127.0.0.1 "$PORT" \
			"$POP3D" -a "file:$T/passwd" -m "$T/mail/%u" -t 5 ${SERVE_LOG--d} "$@" \
			>"$T/server.log" 2>&1 &
		SERVER_PID=$!
		SERVER_AS=${SERVE_AS:-}
		local i
		for i in $(seq 50); do
			if grep -q 'status: 0/' "$T/server.log"; then
				return 0
			fi
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	done
	echo "serve: no free port" >&2
	return 1
}

# children PID: the pids whose parent is PID, one a line; nothing when PID
# is gone.  One read of each of PID's
# threads' children file, no process started: a scan of all of /proc with
# a command per process took minutes on a loaded machine.
children() {
	local f c
	for f in /proc/"$1"/task/*/children; do
		[ -r "$f" ] || continue
		read -r -a c <"$f" 2>/dev/null || true
		[ ${#c[@]} -eq 0 ] || printf '%s\n' "${c[@]}"
	done
}

# stop_server: the server, and with SERVE_AS a shell function, the
# tcpserver that the function's subshell started.
stop_server() {
	if [ -n "${SERVER_PID:-}" ]; then
		if [ -n "${SERVER_AS:-}" ]; then
			kill $(children "$SERVER_PID") 2>/dev/null || true
		fi
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}

# s_client [ARG...]: stdin lines (LF; s_client adds the CR) over STLS to
# $PORT, verified against the test CA; server replies printed without CRs.
s_client() {
	timeout "${S_CLIENT_TIMEOUT:-20}" openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" \
		-verify_return_error -verify_hostname localhost -crlf -quiet \
		"$@" 2>/dev/null | tr -d '\r'
}

# await_sessions N: waits (up to 5 s) until N pop3d processes have exited
# (tcpserver -v says so in $T/server.log).  A session releases the mailbox's
# session lock only after its last reply, so a client that logs in again at
# once can meet [IN-USE].
await_sessions() {
	local i
	for i in $(seq 50); do
		[ "$(grep -c '^tcpserver: end ' "$T/server.log")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
