#!/usr/bin/env bats
# The fail2ban filter (fail2ban/filter.d/pop3d.conf) against the lines pop3d
# really sends to syslog: pop3d runs in a private mount namespace whose
# /dev/log is a socket of the test's, and each datagram becomes a line as a
# syslog daemon writes it ("Dec  4 16:00:00 host pop3d[123]: ...").
# fail2ban-regex then says which lines match and which addresses they name.

load helpers

FILTER=$BATS_TEST_DIRNAME/../fail2ban/filter.d/pop3d.conf

setup() {
	setup_account
	{ msg a@example.org one 'hello'; } | write_mbox
	command -v fail2ban-regex >/dev/null || skip "fail2ban-regex is not installed (package fail2ban)"
	[ "$(id -u)" -eq 0 ] || skip "needs root: a mount namespace with its own /dev/log"
	# fail2ban resolves the filter's "before = common.conf" beside it.
	mkdir -p "$T/f2b/filter.d"
	cp "$FILTER" "$T/f2b/filter.d/pop3d.conf"
	cp /etc/fail2ban/filter.d/common.conf "$T/f2b/filter.d/"
	python3 - "$T/log.sock" "$T/datagrams" <<-'EOF' &
		import os, socket, sys
		s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		s.bind(sys.argv[1] + ".new")
		os.chmod(sys.argv[1] + ".new", 0o666)
		os.rename(sys.argv[1] + ".new", sys.argv[1])
		with open(sys.argv[2], "ab", buffering=0) as f:
		    while True:
		        f.write(s.recv(65536) + b"\n")
	EOF
	SYSLOG_PID=$!
	local i
	for i in $(seq 100); do
		[ -S "$T/log.sock" ] && break
		sleep 0.1
	done
	[ -S "$T/log.sock" ]
	: >"$T/datagrams"
}

teardown() {
	if [ -n "${SYSLOG_PID:-}" ]; then
		kill "$SYSLOG_PID" 2>/dev/null || true
		wait "$SYSLOG_PID" 2>/dev/null || true
	fi
}

# logged PEER [ARG...]: stdin to pop3d on a pipe whose peer is PEER
# (TCPREMOTEIP), with ARGs; its syslog lines are added to $T/datagrams.
# /dev is a tmpfs in the namespace, with the devices pop3d uses bound in.
logged() {
	local peer=$1
	shift
	TCPREMOTEIP=$peer unshare -m --propagation private sh -c '
		d=$1; shift
		mkdir -p "$d/olddev" && mount --rbind /dev "$d/olddev" &&
		mount -t tmpfs -o mode=755 tmpfs /dev || exit 99
		for n in null zero random urandom; do
			touch "/dev/$n" && mount --bind "$d/olddev/$n" "/dev/$n" || exit 99
		done
		touch /dev/log && mount --bind "$d/log.sock" /dev/log || exit 99
		exec "$@"' sh "$T" timeout 20 "$POP3D" -a "file:$T/passwd" \
		-m "$T/mail/%u" -t 5 "$@" >/dev/null
}

# syslog_file N: waits (5 s at most) for N datagrams, then writes them as
# rsyslog's traditional format does to $T/mail.log.
syslog_file() {
	local i
	for i in $(seq 50); do
		[ "$(wc -l <"$T/datagrams")" -ge "$1" ] && break
		sleep 0.1
	done
	sed -E 's/^<[0-9]+>([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}) /\1 testhost /' \
		"$T/datagrams" >"$T/mail.log"
}

@test "the filter matches failed logins by peer, and nothing else pop3d logs" {
	# 3 failures and the connection ends: 4 lines that match.
	printf 'USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS wrong\r\nUSER nosuchuser\r\nPASS x\r\n' |
		logged 192.0.2.7 || [ $? -eq 1 ]
	# A good login: no match.
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' | logged 192.0.2.8
	# Over IPv6, one failure.
	printf 'USER alice\r\nPASS wrong\r\nQUIT\r\n' | logged 2001:db8::5
	# Behind a balancer: the client's address from the PROXY header.
	printf 'PROXY TCP4 198.51.100.9 127.0.0.1 4000 110\r\nUSER alice\r\nPASS wrong\r\nQUIT\r\n' |
		logged 127.0.0.1 --proxy-trusted=127.0.0.1 --plaintext=always
	syslog_file 10
	run grep -c -E '^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} testhost pop3d\[[0-9]+\]: ' "$T/mail.log"
	assert_output "$(wc -l <"$T/mail.log")"
	run grep -c 'pop3d\[[0-9]*\]: login user=alice peer=192.0.2.8 ' "$T/mail.log"
	assert_output 1

	run fail2ban-regex -o ip "$T/mail.log" "$T/f2b/filter.d/pop3d.conf"
	assert_success
	run sort <<<"$output"
	assert_output "192.0.2.7
192.0.2.7
192.0.2.7
192.0.2.7
198.51.100.9
2001:db8::5"
}

@test "the filter still matches when lines gain key=value fields" {
	printf 'USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS wrong\r\nUSER alice\r\nPASS wrong\r\n' |
		logged 203.0.113.4 || [ $? -eq 1 ]
	printf 'USER alice\r\nPASS secret\r\nQUIT\r\n' | logged 203.0.113.5
	syslog_file 6
	# Fields before, between and after the ones there are today, and a
	# value that looks like a peer field.
	sed -E -e 's/: login failed user=/: session=1a2b login failed tls=no user=/' \
		-e 's/ peer=([^ ]*)/ peer=\1 tls=yes session=x9 port=110/' \
		-e 's/: too many login failures /: session=1a2b too many login failures user=peer=6.6.6.6 /' \
		-e 's/: login user=/: session=1a2b login user=/' \
		"$T/mail.log" >"$T/extended.log"
	run grep -c 'session=1a2b login failed tls=no user=alice peer=203.0.113.4 tls=yes' "$T/extended.log"
	assert_output 3
	run fail2ban-regex -o ip "$T/extended.log" "$T/f2b/filter.d/pop3d.conf"
	assert_success
	assert_output "203.0.113.4
203.0.113.4
203.0.113.4
203.0.113.4"
}
