#!/usr/bin/env bats
# One spool served by several hosts (README "Serving one spool from several
# hosts"), on one machine: a GlusterFS volume on one brick under this test's
# directory, FUSE-mounted once per "host" with default mount options; pop3d
# under tcpserver for each host on its own loopback address; Debian's
# HAProxy in front with the shipped haproxy/pop3d.cfg's server options; an
# MDA delivering through one mount the Debian way while poplib and
# fetchmail retrieve and delete through HAProxy.  Needs root, /dev/fuse,
# glusterfs-server, glusterfs-client and haproxy; skips with the reason
# otherwise.  Everything started is stopped by pid, everything mounted is
# unmounted, the volumes are deleted (teardown_file), also on failure.

load helpers
load gluster

FARM=$BATS_TEST_DIRNAME/farm.py

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	FARM_SKIP=$(gluster_missing)
	if [ -z "$FARM_SKIP" ] && ! command -v haproxy >/dev/null; then
		FARM_SKIP="haproxy is not installed"
	fi
	if [ -z "$FARM_SKIP" ] && ! command -v tcpserver >/dev/null; then
		FARM_SKIP="tcpserver (ucspi-tcp) is not installed"
	fi
	export FARM_SKIP
	[ -z "$FARM_SKIP" ] || return 0
	F=$BATS_FILE_TMPDIR
	searchable "$F"
	if ! farm_volumes; then
		gluster_teardown
		return 1
	fi
	export F GD GHOST
}

# Two volumes: "why" with GlusterFS's defaults, for the lost-mail scenario
# as reported; "farm" set up as the README says (quick-read off).
farm_volumes() {
	gluster_start "$F/gd" &&
		gluster_volume why &&
		gluster_volume farm performance.quick-read off &&
		gluster_mount why "$F/A" && gluster_mount why "$F/B" &&
		gluster_mount farm "$F/h1" && gluster_mount farm "$F/h2" &&
		gluster_mount farm "$F/h3" &&
		mkdir -p "$F/A/mail" "$F/h1/mail" "$F/h1/state" &&
		chmod 1777 "$F/A/mail" "$F/h1/mail" "$F/h1/state"
}

teardown_file() {
	[ -z "${FARM_SKIP:-}" ] || return 0
	gluster_teardown
}

setup() {
	[ -z "$FARM_SKIP" ] || skip "$FARM_SKIP"
	setup_account
	export TEST_UID TEST_GID
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# Host A's mailbox is emptied, not removed: made again on A by the next
	# test, it would be a new file that host B still knows by the old
	# one's handle for FUSE's entry timeout (open or fcntl: ESTALE).
	[ ! -e "$F/A/mail/alice" ] || : >"$F/A/mail/alice"
	rm -f "$F/h1/mail/alice"
	rm -rf "$F/h1/state/alice"
}

# ---- the lost-mail scenario ------------------------------------------------

# A session on host B has seen the mailbox, deleted message 1; less than a
# second later mail is delivered on host A; then QUIT.  B's FUSE client
# still believed the old size: the UPDATE cut the new message off.
@test "mail delivered on host A during a session on host B survives its UPDATE (3 trials each: DELE, RETR+DELE, two messages)" {
	local mode i
	for mode in plain retr two; do
		for i in 1 2 3; do
			run python3 "$FARM" why "$POP3D" "$T/passwd" "$F/A/mail/alice" \
				"$F/B/mail" "$mode"
			assert_success
			assert_output --regexp '^kept '
		done
	done
}

@test "a mailbox on a FUSE file system is noted in the log" {
	run python3 "$FARM" why "$POP3D" "$T/passwd" "$F/A/mail/alice" \
		"$F/B/mail" plain -d
	assert_success
	assert_output --partial "the mailbox is on a shared (FUSE) file system"
}

# ---- session exclusivity across hosts ---------------------------------------

@test "with --state-dir on the shared volume, a second login on another host gets [IN-USE]" {
	python3 "$FARM" deliver "$F/h1/mail/alice" "$T/orig" 1 2
	chown "$TEST_UID:$TEST_GID" "$F/h1/mail/alice"
	mkfifo "$T/in1"
	"$POP3D" -a "file:$T/passwd" -m "$F/h1/mail/%u" \
		--state-dir="$F/h1/state/%u" -t 30 <"$T/in1" >"$T/out1" 3>&- &
	PIDS+=($!)
	exec 4>"$T/in1"
	printf 'USER alice\r\nPASS secret\r\n' >&4
	wait_for_text "$T/out1" '+OK alice has 2'
	run pop_on h2 STAT
	assert_output --partial "-ERR [IN-USE]"
	run pop_on h3 STAT
	assert_output --partial "-ERR [IN-USE]"
	printf 'QUIT\r\n' >&4
	exec 4>&-
	wait "${PIDS[0]}"
	run pop_on h2 STAT
	assert_line --regexp '^\+OK 2 [0-9]+$'
}

# pop_on HOST LINE...: a session on that host's mount, state on the volume.
pop_on() {
	{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@" QUIT; } |
		"$POP3D" -a "file:$T/passwd" -m "$F/$1/mail/%u" \
			--state-dir="$F/$1/state/%u" -t 10 | tr -d '\r'
}


# ---- the farm ---------------------------------------------------------------

# The PROXY protocol, when this pop3d has it: HAProxy passes each client's
# address, and the logs name the clients.
proxy_supported() {
	"$POP3D" --help 2>&1 | grep -q -- --proxy-trusted
}

# start_hosts: pop3d under tcpserver for host N on 127.0.0.1N (N = 1..3),
# its mailbox and state directory on mount hN; ports in HOST_PORT[N].
start_hosts() {
	local n try i extra=()
	if proxy_supported; then
		extra=(--proxy-trusted=127.0.0.3/32)
	fi
	for n in 1 2 3; do
		for try in 1 2 3 4 5 6 7 8 9 10; do
			HOST_PORT[n]=$((20000 + RANDOM % 40000))
			tcpserver -v -R -H -l 0 -c 40 "127.0.0.1$n" "${HOST_PORT[n]}" \
				"$POP3D" -a "file:$T/passwd" -m "$F/h$n/mail/%u" \
				--state-dir="$F/h$n/state/%u" -t 30 -d "${extra[@]}" \
				>"$T/host$n.log" 2>&1 3>&- &
			PIDS+=($!)
			for i in $(seq 50); do
				grep -q 'status: 0/' "$T/host$n.log" && continue 3
				kill -0 "${PIDS[-1]}" 2>/dev/null || break
				sleep 0.1
			done
		done
		echo "host $n did not start" >&2
		return 1
	done
}

# start_haproxy: HAProxy on 127.0.0.1:$LB_PORT in front of the hosts, its
# connections to them from 127.0.0.3, each server line with the options of
# the shipped haproxy/pop3d.cfg (without the PROXY protocol's when pop3d
# does not have it).
start_haproxy() {
	local opts n try i
	opts=$(awk '$1 == "server" { for (i = 4; i <= NF; i++) printf "%s ", $i; exit }' \
		"$BATS_TEST_DIRNAME/../haproxy/pop3d.cfg")
	if ! proxy_supported; then
		opts=$(echo "$opts" | sed 's/send-proxy-v2//; s/check-send-proxy//')
	fi
	for try in 1 2 3 4 5 6 7 8 9 10; do
		LB_PORT=$((20000 + RANDOM % 40000))
		{
			printf 'global\n\tmaxconn 200\n'
			printf 'defaults\n\tmode tcp\n\ttimeout connect 5s\n'
			printf '\ttimeout client 1m\n\ttimeout server 1m\n\ttimeout check 5s\n'
			printf 'frontend pop3\n\tbind 127.0.0.1:%s\n\tdefault_backend pop3d\n' "$LB_PORT"
			printf 'backend pop3d\n\tbalance leastconn\n\tsource 127.0.0.3\n'
			for n in 1 2 3; do
				printf '\tserver pop%s 127.0.0.1%s:%s %s\n' "$n" "$n" "${HOST_PORT[n]}" "$opts"
			done
		} >"$T/haproxy.cfg"
		haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 3>&- &
		PIDS+=($!)
		for i in $(seq 50); do
			if timeout 5 python3 -c 'import poplib, sys
poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=5).quit()' "$LB_PORT" 2>/dev/null; then
				return 0
			fi
			kill -0 "${PIDS[-1]}" 2>/dev/null || break
			sleep 0.1
		done
	done
	echo "haproxy did not start:" >&2
	cat "$T/haproxy.log" >&2
	return 1
}

# fetch_loop SECONDS: fetchmail through HAProxy, one poll after another.
fetch_loop() {
	local end=$((SECONDS + $1))
	mkdir -p "$T/home" "$T/fetched"
	cat >"$T/home/.fetchmailrc" <<-EOF2
		poll 127.0.0.1 protocol pop3 port $LB_PORT
		  user alice password secret sslproto '' no rewrite
		  mda "$BATS_TEST_DIRNAME/clients/deliver $T/fetched"
	EOF2
	chmod 600 "$T/home/.fetchmailrc"
	while [ $SECONDS -lt $end ]; do
		echo "poll at $SECONDS s" >>"$T/fetchmail.log"
		HOME=$T/home FETCHMAILHOME=$T/home timeout 20 \
			"$BATS_TEST_DIRNAME/clients/known-user" fetchmail --nosyslog \
			--nodetach -s -f "$T/home/.fetchmailrc" --all \
			--idfile "$T/home/.fetchids" >>"$T/fetchmail.log" 2>&1 || true
		sleep 0.2
	done
}

@test "a farm of 3 hosts behind HAProxy: every delivered message retrieved or kept, exactly once, byte for byte" {
	local start=$SECONDS
	start_hosts
	start_haproxy
	local mbox=$F/h1/mail/alice truth=$F/gd/farm.brick/mail/alice
	: >"$mbox"
	chown "$TEST_UID:$TEST_GID" "$mbox"
	chmod 600 "$mbox"
	# Phase 1: 60 messages delivered on host 1, 0.1 s apart, while two
	# poplib clients and fetchmail retrieve and delete through HAProxy
	# for 13 s.
	python3 "$FARM" deliver "$mbox" "$T/orig" 1 60 0.1 3>&- &
	local mda=$!
	python3 "$FARM" poplib 127.0.0.1 "$LB_PORT" 13 "$T/got1" 127.0.0.21 >"$T/pop1.out" 3>&- &
	local c1=$!
	python3 "$FARM" poplib 127.0.0.1 "$LB_PORT" 13 "$T/got2" 127.0.0.22 >"$T/pop2.out" 3>&- &
	local c2=$!
	fetch_loop 13
	echo "# phase 1 done at $((SECONDS - start)) s" >&3
	wait "$mda"
	wait "$c1"
	wait "$c2"
	# Phase 2: a session on host 2 is killed (SIGKILL, its whole process
	# group) in its UPDATE (which moves 8 MB) once the backup began; host 3
	# finishes it at its next login.
	python3 "$FARM" deliver "$mbox" "$T/orig" 900 1
	python3 "$FARM" deliver "$mbox" "$T/orig" 901 1 0 8
	python3 "$FARM" deliver "$mbox" "$T/orig" 902 1
	local before
	before=$(stat -c %s "$truth")
	mkfifo "$T/in2"
	setsid "$POP3D" -a "file:$T/passwd" -m "$F/h2/mail/%u" \
		--state-dir="$F/h2/state/%u" -t 30 <"$T/in2" >"$T/out2" 2>/dev/null 3>&- &
	local victim=$!
	PIDS+=($victim)
	exec 4>"$T/in2"
	printf 'USER alice\r\nPASS secret\r\nRETR 1\r\nDELE 1\r\n' >&4
	wait_for_text "$T/out2" "+OK message 1 deleted"
	python3 "$FARM" kill-in-update "$victim" \
		"$F/gd/farm.brick/state/alice/update-*.journal" "$truth" "$before" \
		"$T/out2" >"$T/killer.out" 2>&1 3>&- &
	local killer=$!
	PIDS+=($killer)
	wait_for_text "$T/killer.out" "watching"
	printf 'QUIT\r\n' >&4
	exec 4>&-
	wait "$killer" || { cat "$T/killer.out"; false; }
	wait "$victim" || true
	compgen -G "$F/gd/farm.brick/state/alice/update-*.journal" >/dev/null
	mkdir -p "$T/killed"
	python3 - "$T/out2" "$T/killed/900" <<-'EOF2'
		import sys
		data = open(sys.argv[1], "rb").read().split(b"\r\n")
		start = next(i for i, l in enumerate(data) if l.startswith(b"+OK") and b"octets" in l)
		end = data.index(b".", start)
		msg = b"".join((l[1:] if l.startswith(b"..") else l) + b"\n" for l in data[start + 1:end])
		open(sys.argv[2], "wb").write(msg)
	EOF2
	run pop_on_log h3 "$T/recover.log" STAT
	assert_line --regexp '^\+OK [0-9]+ [0-9]+$'
	run grep -c "completing an interrupted UPDATE" "$T/recover.log"
	assert_output 1
	# Phase 3: the rest is retrieved through HAProxy.
	run python3 "$FARM" poplib 127.0.0.1 "$LB_PORT" 0 "$T/got3" 127.0.0.23
	assert_success
	run python3 "$FARM" check "$T/orig" "$truth" "$T/got1" "$T/got2" "$T/got3" \
		"$T/fetched" "maybe:$T/killed"
	echo "$output"
	assert_success
	assert_output --regexp '^63 delivered, [0-9]+ retrieved, [0-9]+ in the mailbox$'
	# [IN-USE] across hosts, and the logs name the clients.
	local inuse
	inuse=$(cat "$T"/host?.log | grep -c "in use by another POP3 session" || true)
	if proxy_supported; then
		grep -q "peer=127.0.0.21" "$T"/host?.log
		grep -q "peer=127.0.0.22" "$T"/host?.log
	else
		grep -q "peer=127.0.0.3" "$T"/host?.log
	fi
	echo "# farm: $output; $(cat "$T/pop1.out"), $(cat "$T/pop2.out"); $inuse [IN-USE] in the hosts' logs; $((SECONDS - start)) s" >&3
}

# pop_on_log HOST LOG LINE...: pop_on with the log (-d) in LOG.
pop_on_log() {
	local host=$1 log=$2
	shift 2
	{ printf 'USER alice\r\nPASS secret\r\n'; printf '%s\r\n' "$@" QUIT; } |
		"$POP3D" -a "file:$T/passwd" -m "$F/$host/mail/%u" \
			--state-dir="$F/$host/state/%u" -t 10 -d 2>"$log" | tr -d '\r'
}
