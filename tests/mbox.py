#!/usr/bin/env python3
"""mbox tools for the tests, independent of pop3d's own parser.

  mbox.py gen FILE N [BIG]      N messages, distinct, some of BIG bytes
  mbox.py expect IN OUT DELE... OUT = IN without messages DELE... (1-based),
                                every other byte kept, as UPDATE must leave it
  mbox.py digests FILE          one line per message: sha256 of its bytes
                                (From_ line to separator, excluded)
  mbox.py same FILE WANT...     exit 0 if FILE holds exactly the messages of
                                one WANT file (each once, byte-identical, in
                                order) and parses; prints which one
  mbox.py intact FILE WANT...  exit 0 if every message of the WANT files
                                occurs whole in FILE as it is (its bytes from
                                its From_ line to its end, at a From_ line
                                that starts a message, followed by the
                                separator or the end); prints those missing
  mbox.py convert IN OUT HOW    OUT = IN with its bare LFs made CRLF: every
                                one (HOW crlf) or every other one (mixed)
  mbox.py one TAG [N]           the messages that "append FILE TAG N" writes
  mbox.py append FILE TAG [N] [PAUSE]
                                an MDA: append N messages under fcntl + a
                                dotlock (dotlockfile, like Postfix local),
                                printing each TAG-i once it is durable, PAUSE
                                seconds apart
"""
import fcntl
import hashlib
import os
import random
import re
import subprocess
import sys
import time


def message(tag, size, rnd):
    head = (f"From {tag}@example.org Mon Jan  1 00:00:00 2024\n"
            f"From: {tag}@example.org\nSubject: {tag}\n"
            f"Message-ID: <{tag}@example.org>\n\n")
    lines = [f"body of {tag}", ">From the quoted line", ".a dot line", ""]
    body = "\n".join(lines) + "\n"
    pool = ["".join(rnd.choice("abcdefghij .") for _ in range(75)) + "\n"
            for _ in range(32)]
    parts = [body]
    while size > 0:
        parts.append(rnd.choice(pool))
        size -= 76
    return (head + "".join(parts) + "\n").encode()


def split(data):
    """Where the messages start: at a From_ line after a blank line ("\n" or
    "\r\n") or at the start of the file."""
    starts = [0] if data.startswith(b"From ") else []
    for m in re.finditer(rb"\n\r?\n(?=From )", data):
        starts.append(m.end())
    return starts


def strip_separator(chunk):
    """A message without the blank line that ends it (the separator's)."""
    for sep in (b"\n\n", b"\n\r\n"):
        if chunk.endswith(sep):
            return chunk[:1 - len(sep)]
    return chunk


def convert(data, how):
    """Bare LFs made CRLF: all of them, or every other one."""
    lines = re.split(rb"(?<!\r)\n", data)
    out = [lines[0]]
    for k, line in enumerate(lines[1:]):
        out.append(b"\n" if how == "mixed" and k % 2 else b"\r\n")
        out.append(line)
    return b"".join(out)


def chunks(data):
    s = split(data)
    return [data[a:b] for a, b in zip(s, s[1:] + [len(data)])]


def digests(data):
    out = []
    for c in chunks(data):
        out.append(hashlib.sha256(strip_separator(c)).hexdigest())
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        path, n = sys.argv[2], int(sys.argv[3])
        big = int(sys.argv[4]) if len(sys.argv) > 4 else 600
        rnd = random.Random(n)
        with open(path, "wb") as f:
            for k in range(1, n + 1):
                size = big if k % 4 == 1 else rnd.randrange(100, 3000)
                f.write(message(f"m{k}", size, rnd))
    elif cmd == "expect":
        data = open(sys.argv[2], "rb").read()
        dele = {int(x) for x in sys.argv[4:]}
        c = chunks(data)
        prefix = data[:split(data)[0]] if split(data) else data
        with open(sys.argv[3], "wb") as f:
            f.write(prefix + b"".join(x for k, x in enumerate(c, 1)
                                      if k not in dele))
    elif cmd == "convert":
        with open(sys.argv[3], "wb") as f:
            f.write(convert(open(sys.argv[2], "rb").read(), sys.argv[4]))
    elif cmd == "digests":
        print("\n".join(digests(open(sys.argv[2], "rb").read())))
    elif cmd == "same":
        got = open(sys.argv[2], "rb").read()
        for want in sys.argv[3:]:
            w = open(want, "rb").read()
            if got == w and len(set(digests(got))) == len(digests(w)):
                print(want)
                return 0
        print(f"{sys.argv[2]}: {len(got)} bytes, {len(chunks(got))} messages;"
              f" matches none of {sys.argv[3:]}", file=sys.stderr)
        return 1
    elif cmd == "intact":
        got = open(sys.argv[2], "rb").read()
        starts = split(got)
        missing = 0
        for want in sys.argv[3:]:
            for c in chunks(open(want, "rb").read()):
                m = strip_separator(c)
                if not any(got.startswith(m, a) and
                           (a + len(m) == len(got) or
                            got.startswith((b"\n", b"\r\n"), a + len(m)))
                           for a in starts):
                    head = m.split(b"\n", 1)[0].decode()
                    print(f"{want}: not whole in {sys.argv[2]}: {head}",
                          file=sys.stderr)
                    missing += 1
        return 1 if missing else 0
    elif cmd == "one":
        tag = sys.argv[2]
        n = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        rnd = random.Random(tag)
        for k in range(1, n + 1):
            sys.stdout.buffer.write(message(f"{tag}-{k}",
                                            rnd.randrange(100, 20000), rnd))
    elif cmd == "append":
        path, tag = sys.argv[2], sys.argv[3]
        n = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        rnd = random.Random(tag)
        pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0
        for k in range(1, n + 1):
            deliver(path, message(f"{tag}-{k}", rnd.randrange(100, 20000),
                                  rnd))
            print(f"{tag}-{k}", flush=True)
            time.sleep(pause)
    return 0


def deliver(path, msg):
    """fcntl first, then the dotlock without waiting while holding fcntl
    (Debian policy 11.6), as Postfix local does."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    deadline = time.time() + 30
    while True:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        r = subprocess.run(["dotlockfile", "-l", "-r", "0", "-p",
                            path + ".lock"])
        if r.returncode == 0:
            break
        fcntl.lockf(fd, fcntl.LOCK_UN)
        if time.time() > deadline:
            sys.exit(f"cannot lock {path}")
        time.sleep(0.02)
    try:
        os.write(fd, msg)
        os.fsync(fd)
    finally:
        subprocess.run(["dotlockfile", "-u", path + ".lock"], check=True)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
