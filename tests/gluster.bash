# GlusterFS for the shared-spool tests (farm.bats): a private glusterd, one
# brick per volume under the test's own directory, FUSE mounts as "hosts".
#
# glusterd keeps its state in $GD (working directory, run directory and CLI
# socket: options of its volfile), never in /var/lib/glusterd, and listens
# on a loopback address of its own: bricks fetch their volfile from port
# 24007 of the volume's host address whatever glusterd's port, so each run
# takes port 24007 on its own 127.x.y.z and concurrent runs do not meet.
# (Some paths are GlusterFS's own whatever the options: a brick's log in
# /var/log/glusterfs/bricks/ and its socket in /var/run/gluster, removed at
# the end; empty directories it makes once under /var/lib/glusterd and
# /var/log/glusterfs, and the CLI's lines in cmd_history.log, stay.)  Every process is stopped by its pid; gluster_teardown may be called
# at any point, also after a failure half-way.

# gluster_missing: why GlusterFS cannot run here (nothing when it can).
gluster_missing() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "needs root: glusterd, FUSE mounts"
	elif [ ! -c /dev/fuse ]; then
		echo "/dev/fuse is not available"
	elif ! command -v glusterd >/dev/null || ! command -v gluster >/dev/null ||
		[ ! -x /sbin/mount.glusterfs ]; then
		echo "glusterfs-server and glusterfs-client are not installed"
	elif ! grep -qw fuse /proc/filesystems && ! modprobe fuse 2>/dev/null; then
		echo "the kernel has no FUSE"
	fi
}

# gcli ARG...: the gluster CLI of our glusterd.
gcli() {
	timeout 60 gluster --mode=script --glusterd-sock="$GD/run/glusterd.socket" \
		--log-file="$GD/log/cli.log" "$@"
}

# gluster_start DIR: glusterd with its state in DIR; sets GD, GHOST.
gluster_start() {
	GD=$1
	GMOUNTS=()
	GVOLUMES=()
	mkdir -p "$GD/work" "$GD/run" "$GD/log"
	local try
	for try in 1 2 3 4 5; do
		GHOST=127.$((64 + RANDOM % 64)).$((RANDOM % 256)).$((2 + RANDOM % 250))
		if ! ss -Hltn "src $GHOST:24007 or src 0.0.0.0:24007 or src [::]:24007" |
			grep -q .; then
			break
		fi
	done
	cat >"$GD/glusterd.vol" <<-EOF
		volume management
		    type mgmt/glusterd
		    option working-directory $GD/work
		    option run-directory $GD/run
		    option glusterd-sockfile $GD/run/glusterd.socket
		    option transport-type socket
		    option transport.socket.bind-address $GHOST
		    option transport.socket.listen-port 24007
		    option ping-timeout 0
		    option event-threads 1
		end-volume
	EOF
	glusterd -N -f "$GD/glusterd.vol" -p "$GD/glusterd.pid" \
		-l "$GD/log/glusterd.log" </dev/null >"$GD/log/glusterd.out" 2>&1 3>&- &
	GLUSTERD_PID=$!
	local i
	for i in $(seq 100); do
		if [ -S "$GD/run/glusterd.socket" ] && gcli volume list >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$GLUSTERD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "glusterd did not start:" >&2
	tail -5 "$GD/log/glusterd.log" >&2
	return 1
}

# gluster_volume NAME [KEY VALUE]...: a started volume on one brick,
# $GD/NAME.brick, with these options set.
gluster_volume() {
	local name=$1
	shift
	mkdir -p "$GD/$name.brick"
	gcli volume create "$name" "$GHOST:$GD/$name.brick" force >/dev/null
	GVOLUMES+=("$name")
	while [ $# -ge 2 ]; do
		gcli volume set "$name" "$1" "$2" >/dev/null
		shift 2
	done
	gcli volume start "$name" >/dev/null
}

# gluster_mount NAME DIR: a FUSE mount of volume NAME, default options.
gluster_mount() {
	mkdir -p "$2"
	mount -t glusterfs -o "log-file=$GD/log/mount-${2//\//_}.log" \
		"$GHOST:/$1" "$2" 3>&-
	GMOUNTS+=("$2")
}

# gluster_teardown: unmount, stop and delete the volumes, stop glusterd and
# the bricks, remove the brick logs.
gluster_teardown() {
	local m v p
	for m in "${GMOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	GMOUNTS=()
	for v in "${GVOLUMES[@]}"; do
		# The brick's socket is made in /var/run/gluster whatever the
		# run directory: its path is on the brick's command line.
		local socks=()
		for p in "$GD/run/vols/$v"/*.pid; do
			[ -s "$p" ] || continue
			socks+=($(ps -o args= -p "$(cat "$p")" 2>/dev/null |
				sed -n 's/.* -S \([^ ]*\.socket\).*/\1/p'))
		done
		gcli volume stop "$v" force >/dev/null 2>&1 || true
		gcli volume delete "$v" >/dev/null 2>&1 || true
		# A brick that outlived the stop: by the pid glusterd recorded.
		for p in "$GD/run/vols/$v"/*.pid; do
			[ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
		done
		rm -f "${socks[@]}"
		rm -f "/var/log/glusterfs/bricks/$(printf %s "$GD/$v.brick" |
			sed 's|^/||; s|/|-|g').log"
	done
	GVOLUMES=()
	if [ -n "${GLUSTERD_PID:-}" ]; then
		kill "$GLUSTERD_PID" 2>/dev/null || true
		wait "$GLUSTERD_PID" 2>/dev/null || true
		GLUSTERD_PID=
	fi
}
