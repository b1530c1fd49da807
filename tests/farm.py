#!/usr/bin/env python3
"""The shared-spool tests' clients and MDA (farm.bats).

  farm.py deliver MBOX ORIGDIR FIRST COUNT [PAUSE [MEGABYTES]]
      an MDA the Debian way (mbox.py's: fcntl lock, then the dotlock by
      dotlockfile, append, fsync, unlock): messages FIRST.. FIRST+COUNT-1, each also
      written to ORIGDIR/ID as the client must get it
  farm.py why POP3D PASSWD MBOX_A MAILDIR_B MODE [ARG...]
      one trial of the lost-mail scenario: a session on host B (pop3d with
      --mailbox=MAILDIR_B/%u) logs in (MODE retr: and retrieves message 1),
      deletes message 1; then mail is delivered on host A; then QUIT.
      MODE two: the mailbox holds two messages (an UPDATE that copies).
      Prints "kept" when the new message is in the file afterwards, whole,
      else "LOST"; then the reply to QUIT
  farm.py poplib HOST PORT SECONDS GOTDIR [SOURCE]
      sessions through the balancer (from address SOURCE) until SECONDS
      passed, at least one that ends well: retrieve every
      message, delete it, QUIT; what a session retrieved counts only when
      its QUIT succeeded (else the messages are still there): GOTDIR/ID
  farm.py kill-in-update PID JOURNALS TRUTH BEFORE OUT
      SIGKILL to process group PID once its UPDATE has a journal (a file
      matching the glob JOURNALS) and TRUTH grew beyond BEFORE bytes; fails
      when the session's output OUT shows it answered QUIT first
  farm.py check ORIGDIR MBOX GOTDIR... [maybe:DIR]
      every delivered message was retrieved or is in MBOX, exactly once,
      byte for byte ("N delivered, R retrieved, K in the mailbox"); what
      maybe:DIR holds counts as retrieved only when it is not in MBOX
"""
import fcntl
import glob
import os
import poplib
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mbox import deliver  # noqa: E402 (the Debian way: fcntl, then dotlock)

USER, PASSWORD = "alice", "secret"


def message(n, megabytes=0):
    """Message n as a client gets it (headers, blank line, body)."""
    lines = n % 23 + 1 if not megabytes else megabytes * 16384
    body = "".join("line %d of message %d %s\n" % (i, n, "x" * (n * 7 % 60))
                   for i in range(lines))
    return ("From: mda@example.org\nTo: alice@example.org\n"
            "Subject: message %d\nMessage-ID: <%d@farm.test>\n\n"
            "%s.a line with a dot\n>From the body, quoted\n" % (n, n, body)).encode()


def mbox_entry(n, megabytes=0):
    return (b"From mda@example.org Mon Jan  1 00:00:00 2024\n" +
            message(n, megabytes) + b"\n")


def messages_of(data):
    """The messages of an mbox, as clients get them (no From_ line, no
    separator line)."""
    out = []
    for part in re.split(rb"(?:^|\n\n)From [^\n]*\n", data)[1:]:
        out.append(part if part.endswith(b"\n") else part + b"\n")
    if out:
        out[-1] = out[-1][:-1] if out[-1].endswith(b"\n\n") else out[-1]
    return out


def msg_id(data):
    m = re.search(rb"^Message-ID: <(\d+)@farm\.test>$", data, re.M)
    return int(m.group(1)) if m else None


def cmd_deliver(mbox, origdir, first, count, pause="0", megabytes="0"):
    os.makedirs(origdir, exist_ok=True)
    os.close(os.open(mbox, os.O_WRONLY | os.O_CREAT, 0o600))
    for n in range(int(first), int(first) + int(count)):
        with open(os.path.join(origdir, str(n)), "wb") as f:
            f.write(message(n, int(megabytes)))
        deliver(mbox, mbox_entry(n, int(megabytes)))
        time.sleep(float(pause))


def cmd_why(pop3d, passwd, mbox_a, maildir_b, mode, *args):
    first = mbox_entry(1) + (mbox_entry(2) if mode == "two" else b"")
    new = mbox_entry(9)
    with open(mbox_a, "wb") as f:
        f.write(first)
    os.chown(mbox_a, int(os.environ["TEST_UID"]), int(os.environ["TEST_GID"]))
    os.chmod(mbox_a, 0o600)
    p = subprocess.Popen([pop3d, "-a", "file:" + passwd,
                          "-m", maildir_b + "/%u", "-t", "20", *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def say(line, multi=False):
        p.stdin.write(line + b"\r\n")
        p.stdin.flush()
        r = p.stdout.readline()
        if multi and r.startswith(b"+OK"):
            while p.stdout.readline() != b".\r\n":
                pass
        return r
    p.stdout.readline()
    say(b"USER " + USER.encode())
    r = say(b"PASS " + PASSWORD.encode())
    if not r.startswith(b"+OK"):
        sys.exit("login failed: %r" % r)
    if mode == "retr":
        say(b"RETR 1", True)
    say(b"DELE 1")
    deliver(mbox_a, new)
    r = say(b"QUIT").decode().strip()
    p.wait()
    # The truth is read on host A after its own lock (a fresh view).
    fd = os.open(mbox_a, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    os.fchown(fd, -1, -1)
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    os.close(fd)
    msgs = messages_of(data)
    ok = msgs.count(message(9)) == 1 and all(
        m in (message(1), message(2), message(9)) for m in msgs)
    print("kept" if ok else "LOST", r)


class POP3From(poplib.POP3):
    """poplib from a source address of our choice (whose it is shows in
    the servers' logs)."""
    source = None

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))


def cmd_poplib(host, port, seconds, gotdir, source="127.0.0.1"):
    os.makedirs(gotdir, exist_ok=True)
    end = time.monotonic() + float(seconds)
    sessions = in_use = 0
    POP3From.source = source
    while sessions == 0 or time.monotonic() < end:
        try:
            p = POP3From(host, int(port), timeout=30)
            p.user(USER)
            p.pass_(PASSWORD)
        except poplib.error_proto as e:
            if b"[IN-USE]" in e.args[0] or b"[SYS/TEMP]" in e.args[0]:
                in_use += b"[IN-USE]" in e.args[0]
                time.sleep(0.05)
                continue
            raise
        got = {}
        count = p.stat()[0]
        for i in range(1, count + 1):
            lines = p.retr(i)[1]
            data = b"".join(line + b"\n" for line in lines)
            got[msg_id(data)] = data
            p.dele(i)
        try:
            p.quit()
        except poplib.error_proto:
            continue	# not deleted: still in the mailbox
        sessions += 1
        for n, data in got.items():
            with open(os.path.join(gotdir, "%s.%d" % (n, sessions)), "wb") as f:
                f.write(data)
        time.sleep(0.05)
    print("%d sessions, %d [IN-USE]" % (sessions, in_use))


def cmd_kill_in_update(pid, journals, truth, before, out):
    """SIGKILL to process group PID as soon as its UPDATE has a journal (a
    file matching JOURNALS) and has begun its backup (TRUTH, the mailbox's
    file on the brick, is longer than BEFORE bytes).  The session answered
    QUIT in OUT: too late."""
    pid, before = int(pid), int(before)
    print("watching", flush=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if glob.glob(journals) and os.stat(truth).st_size > before:
            os.killpg(pid, signal.SIGKILL)
            print("killed at %d bytes" % os.stat(truth).st_size)
            return
        with open(out, "rb") as f:
            if f.read().split(b" deleted\r\n", 1)[-1]:
                sys.exit("the session ended before it could be killed")
        time.sleep(0.001)
    sys.exit("no UPDATE in 60 s")


def strip_received(data):
    """fetchmail puts one Received: field (folded) at the top."""
    lines = data.split(b"\n")
    if lines and lines[0].startswith(b"Received:"):
        lines.pop(0)
        while lines and lines[0][:1] in (b" ", b"\t"):
            lines.pop(0)
    return b"\n".join(lines)


def cmd_check(origdir, mbox, *gotdirs):
    orig = {int(n): open(os.path.join(origdir, n), "rb").read()
            for n in os.listdir(origdir)}
    seen = {n: [] for n in orig}
    bad = []
    retrieved = 0
    maybe = {}
    for d in gotdirs:
        if d.startswith("maybe:"):
            # A session killed after QUIT: what it retrieved counts only
            # when the UPDATE removed it (rolled forward).
            for name in os.listdir(d[6:]):
                data = open(os.path.join(d[6:], name), "rb").read()
                maybe[msg_id(data)] = data
            continue
        for name in sorted(os.listdir(d)):
            data = strip_received(open(os.path.join(d, name), "rb").read())
            n = msg_id(data)
            if n not in orig or data != orig[n]:
                bad.append("%s/%s differs" % (d, name))
                continue
            seen[n].append("retrieved")
            retrieved += 1
    kept = 0
    data = open(mbox, "rb").read() if os.path.exists(mbox) else b""
    for m in messages_of(data):
        n = msg_id(m)
        if n not in orig or m != orig[n]:
            bad.append("a message in the mailbox differs: %r" % m[:120])
            continue
        seen[n].append("in the mailbox")
        kept += 1
    for n, data in maybe.items():
        if not seen.get(n) and data == orig.get(n):
            seen[n].append("retrieved")
            retrieved += 1
    for n, where in sorted(seen.items()):
        if len(where) != 1:
            bad.append("message %d: %s" % (n, ", ".join(where) or "lost"))
    if bad:
        print("\n".join(bad))
        sys.exit(1)
    print("%d delivered, %d retrieved, %d in the mailbox" %
          (len(orig), retrieved, kept))


if __name__ == "__main__":
    {"deliver": cmd_deliver, "why": cmd_why, "poplib": cmd_poplib,
     "check": cmd_check, "kill-in-update": cmd_kill_in_update}[sys.argv[1]](*sys.argv[2:])
