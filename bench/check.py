#!/usr/bin/env python3
"""Correctness checker for the pop3d benchmark.

  check.py ref      --out OUT --n N --mbox PRISTINE --idx IDX --greeting G --ref REF.json
  check.py scenario --scenario S --out OUT --n N --mbox PRISTINE --idx IDX
                    --greeting G --ref REF.json --live LIVE.mbox [--mid M] [--grow K]
  check.py floor    --out OUT --mbox PRISTINE [--stuff]
  check.py gen      --scenario S --n N [--mid M] [--login 0|1]   (writes the session to stdout)

Ground truth is the generator's index (offset/length of every message's
content in the pristine mbox).  A message as served over POP3 must be that
content with LF -> CRLF; a server may hide or add the mbox bookkeeping
headers listed in HIDDEN (Dovecot hides Status:/X-Status:, GNU pop3d adds
X-UID:/X-IMAPbase:) -- such messages pass but are counted in the note.

The 'ref' mode checks one untimed session "LIST, RETR 1..N, QUIT" on the
pristine mailbox against the ground truth and stores the server's LIST sizes
and an MD5 of every message and of every message's header part (for TOP n 0).
'scenario' mode checks a timed session's output against that reference and
the mailbox left behind.  With --grow K (STAT only), the live mailbox is
the pristine one with a copy of its first K messages appended: STAT must
count N+K messages and the LIST sizes of both, and the live file must be
exactly that.  Prints "PASS <note>" or "FAIL <reason>" on the
first line; on FAIL a transcript excerpt follows on the next lines.
"""
import argparse
import hashlib
import json
import mmap
import os
import sys

HIDDEN = {b"status", b"x-status", b"x-uid", b"x-imapbase", b"x-imap",
          b"x-keywords", b"content-length", b"x-uidl", b"lines"}
LOGIN = b"USER bench\r\nPASS secret\r\n"


class Fail(Exception):
    def __init__(self, msg, pos=None, cmd=None):
        super().__init__(msg)
        self.pos = pos
        self.cmd = cmd


def session_cmds(scenario, n, mid):
    """The commands of a scenario, in order (without login, with QUIT)."""
    if scenario == "stat":
        c = ["STAT"]
    elif scenario == "list":
        c = ["LIST"]
    elif scenario == "uidl":
        c = ["UIDL"]
    elif scenario == "retr":
        c = ["RETR %d" % i for i in range(1, n + 1)]
    elif scenario == "retrdele":
        c = []
        for i in range(1, n + 1):
            c += ["RETR %d" % i, "DELE %d" % i]
    elif scenario == "delemid":
        c = ["DELE %d" % mid]
    elif scenario == "top":
        c = ["TOP %d 0" % i for i in range(1, n + 1)]
    elif scenario == "ref":
        c = ["LIST"] + ["RETR %d" % i for i in range(1, n + 1)]
    else:
        raise SystemExit("unknown scenario " + scenario)
    return c + ["QUIT"]


def is_multi(cmd):
    w = cmd.split()
    return w[0] in ("RETR", "TOP") or (w[0] in ("LIST", "UIDL") and len(w) == 1)


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def line(self, cmd):
        e = self.d.find(b"\r\n", self.p)
        if e < 0:
            raise Fail("truncated output: no CRLF-terminated reply", self.p, cmd)
        l = self.d[self.p:e]
        self.p = e + 2
        return l

    def status(self, cmd):
        start = self.p
        l = self.line(cmd)
        if not l.startswith(b"+OK"):
            raise Fail("reply is not +OK: %r" % l[:200], start, cmd)
        return l

    def multi(self, cmd):
        """Raw (still dot-stuffed) data of a multi-line reply, CRLF ended."""
        start = self.p
        if self.d[self.p:self.p + 3] == b".\r\n":
            self.p += 3
            return b""
        e = self.d.find(b"\r\n.\r\n", self.p)
        if e < 0:
            raise Fail("truncated multi-line reply (no CRLF.CRLF)", start, cmd)
        body = self.d[self.p:e + 2]
        self.p = e + 5
        return body


def destuff(raw, cmd, pos):
    # every line starting with '.' must have been stuffed to '..'
    if raw.startswith(b".") and not raw.startswith(b".."):
        raise Fail("line starting with '.' not dot-stuffed", pos, cmd)
    if b"\r\n." in raw:
        i = raw.find(b"\r\n.")
        while i >= 0:
            if raw[i + 3:i + 4] != b".":
                raise Fail("line starting with '.' not dot-stuffed", pos + i, cmd)
            i = raw.find(b"\r\n.", i + 4)
        raw = raw.replace(b"\r\n..", b"\r\n.")
    if raw.startswith(b".."):
        raw = raw[1:]
    return raw


def unquote(msg, eol):
    """mboxrd-style reading: drop one '>' from body lines matching ^>+From ."""
    he = msg.find(eol + eol)
    if he < 0:
        return msg
    body = msg[he:]
    import re
    rx = re.compile(re.escape(eol) + b">(>*From )")
    return msg[:he] + rx.sub(lambda m: eol + m.group(1), body)


def same_message(got, want, eol):
    """-> None if different, else '' (identical) or a note what differs."""
    if got == want:
        return ""
    if normalize(got, eol) == normalize(want, eol):
        return "status headers"
    uw = unquote(want, eol)
    if got == uw:
        return ">From unquoted"
    if normalize(got, eol) == normalize(uw, eol):
        return "status headers, >From unquoted"
    return None


def normalize(msg, eol):
    """Drop HIDDEN headers (and their continuation lines)."""
    he = msg.find(eol + eol)
    if he < 0:
        he = len(msg)
    hdr = msg[:he]
    out = []
    drop = False
    for l in hdr.split(eol):
        if l[:1] in (b" ", b"\t"):
            if not drop:
                out.append(l)
            continue
        name = l.split(b":", 1)[0].strip().lower()
        drop = name in HIDDEN
        if not drop:
            out.append(l)
    return eol.join(out) + msg[he:]


class Truth:
    def __init__(self, mbox, idx):
        self.f = open(mbox, "rb")
        size = os.fstat(self.f.fileno()).st_size
        self.m = mmap.mmap(self.f.fileno(), 0, prot=mmap.PROT_READ) if size else b""
        self.ix = []
        with open(idx) as f:
            for l in f:
                o, ln, hl = l.split()
                self.ix.append((int(o), int(ln), int(hl)))

    def lf(self, i):  # 0-based, LF content
        o, ln, _ = self.ix[i]
        return self.m[o:o + ln]

    def crlf(self, i):
        return self.lf(i).replace(b"\n", b"\r\n")


def md5(b):
    return hashlib.md5(b).hexdigest()


def excerpt(data, pos, cmd):
    lines = []
    if cmd:
        lines.append("command: %s" % cmd)
    if pos is not None:
        lo = max(0, pos - 200)
        lines.append("output bytes %d..%d (of %d): %r" % (lo, pos + 400, len(data), bytes(data[lo:pos + 400])))
    return "\n".join(lines)


def output_size(path):
    """bench/sink.c overwrites without truncating and writes the length
    into PATH.len; a file written otherwise is all output."""
    try:
        with open(path + ".len") as f:
            return int(f.read())
    except FileNotFoundError:
        return os.stat(path).st_size


def read_output(path):
    size = output_size(path)
    if size == 0:
        return b""
    f = open(path, "rb")
    return mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ)


def walk(data, cmds, greeting, login, handler):
    """Walk the replies; handler(cmd, reader, status_line, pos) for each."""
    r = Reader(data)
    if greeting:
        r.status("(greeting)")
    if login:
        r.status("USER bench")
        r.status("PASS secret")
    for c in cmds:
        pos = r.p
        st = r.status(c)
        handler(c, r, st, pos)
    if r.p != len(data):
        raise Fail("%d bytes of unexpected output after QUIT reply" % (len(data) - r.p), r.p, "QUIT")
    return r


def do_ref(a):
    t = Truth(a.mbox, a.idx)
    n = a.n
    data = read_output(a.out)
    res = {"sizes": [], "md5": [], "topmd5": [], "how": {}, "out": os.path.abspath(a.out),
           "roff": [], "rlen": [], "rhl": []}
    st = {}

    def h(c, r, line, pos):
        if c == "LIST":
            raw = r.multi(c)
            ls = raw.split(b"\r\n")[:-1] if raw else []
            if len(ls) != n:
                raise Fail("LIST has %d lines, want %d" % (len(ls), n), pos, c)
            for k, l in enumerate(ls, 1):
                w = l.split()
                if len(w) != 2 or int(w[0]) != k:
                    raise Fail("bad LIST line %r" % l, pos, c)
                res["sizes"].append(int(w[1]))
        elif c.startswith("RETR"):
            i = int(c.split()[1]) - 1
            rstart = r.p
            raw = r.multi(c)
            res["roff"].append(rstart)
            res["rlen"].append(len(raw))
            rh = raw.find(b"\r\n\r\n")
            res["rhl"].append(rh + 4 if rh >= 0 else len(raw))
            m = destuff(raw, c, pos)
            want = t.crlf(i)
            how = same_message(m, want, b"\r\n")
            if how is None:
                # report the first difference after the allowed ones
                eol = b"\r\n"
                best = None
                for g, w_ in ((normalize(m, eol), normalize(want, eol)),
                              (normalize(m, eol), normalize(unquote(want, eol), eol))):
                    d = next((k for k in range(min(len(g), len(w_))) if g[k] != w_[k]), min(len(g), len(w_)))
                    if best is None or d > best[0]:
                        best = (d, g, w_)
                d, g, w_ = best
                raise Fail("RETR %d content differs from the mailbox (%d vs %d octets; ignoring status headers "
                           "and >From quoting, first difference at octet %d: got %r want %r)"
                           % (i + 1, len(m), len(want), d, g[max(0, d - 60):d + 40], w_[max(0, d - 60):d + 40]),
                           pos, c)
            if how:
                res["how"][how] = res["how"].get(how, 0) + 1
            if len(m) != res["sizes"][i]:
                raise Fail("RETR %d: %d octets but LIST said %d" % (i + 1, len(m), res["sizes"][i]), pos, c)
            res["md5"].append(md5(m))
            he = m.find(b"\r\n\r\n")
            res["topmd5"].append(md5(m[:he + 4] if he >= 0 else m))
    try:
        walk(data, session_cmds("ref", n, 0), a.greeting, a.login, h)
        res["ok"] = True
        note = ", ".join("RETR: %d msgs differ from the mbox bytes only by %s" % (v, k)
                         for k, v in sorted(res["how"].items()))
        res["note"] = note
        print("PASS " + note)
    except Fail as e:
        res["ok"] = False
        res["note"] = "reference session: " + str(e)
        print("FAIL reference session: " + str(e))
        print(excerpt(data, e.pos, e.cmd))
    with open(a.ref, "w") as f:
        json.dump(res, f)


def parse_mbox(path):
    with open(path, "rb") as f:
        d = f.read()
    if not d:
        return []
    if not d.startswith(b"From "):
        raise Fail("mailbox afterwards does not start with 'From ': %r" % d[:80])
    msgs = []
    p = 0
    while True:
        nl = d.find(b"\n", p)
        if nl < 0:
            raise Fail("mailbox afterwards: truncated From_ line")
        s = d.find(b"\n\nFrom ", nl)
        if s < 0:
            c = d[nl + 1:]
            if c.endswith(b"\n\n"):
                c = c[:-1]
            msgs.append(c)
            break
        msgs.append(d[nl + 1:s + 1])
        p = s + 2
    return msgs


def check_mailbox(a, t, ref, expect_idx):
    """expect_idx: list of 0-based ground-truth message numbers expected."""
    msgs = parse_mbox(a.live)
    note = ""
    pseudo = [k for k, m in enumerate(msgs[:1]) if b"FOLDER INTERNAL DATA" in m[:4096]]
    if pseudo:
        msgs = msgs[1:]
        note = "keeps a folder-internal-data pseudo message"
    if len(msgs) != len(expect_idx):
        raise Fail("mailbox afterwards has %d messages, want %d" % (len(msgs), len(expect_idx)))
    changed = 0
    for k, (m, i) in enumerate(zip(msgs, expect_idx)):
        want = t.lf(i)
        if m != want:
            if normalize(m, b"\n") != normalize(want, b"\n"):
                raise Fail("mailbox afterwards: message %d (originally #%d) differs" % (k + 1, i + 1))
            changed += 1
    if changed:
        note = (note + "; " if note else "") + "rewrote %d msgs' status headers" % changed
    return note


def check_grown(a, t):
    """The live mailbox must be the pristine one plus a copy of its first
    a.grow messages (up to the From_ line of the next one)."""
    if a.scenario != "stat":
        raise Fail("--grow is for the stat scenario only")
    k = a.grow
    o, ln, _ = t.ix[k - 1]
    extra = o + ln + 1
    size = os.path.getsize(a.mbox)
    if os.path.getsize(a.live) != size + extra:
        raise Fail("mailbox afterwards has %d octets, want %d + %d appended" % (
            os.path.getsize(a.live), size, extra))
    with open(a.live, "rb") as f:
        f.seek(size)
        if f.read(extra) != t.m[:extra]:
            raise Fail("mailbox afterwards: the %d appended messages differ" % k)
        f.seek(max(0, size - 4096))
        if f.read(min(size, 4096)) != t.m[max(0, size - 4096):size]:
            raise Fail("mailbox afterwards: the end of the original messages differs")
    return "mailbox grown by %d messages (%d octets)" % (k, extra)


def do_scenario(a):
    n = a.n
    with open(a.ref) as f:
        ref = json.load(f)
    data = read_output(a.out)
    if not ref.get("ok"):
        print("FAIL " + ref.get("note", "reference failed"))
        return
    sizes, md5s, tops = ref["sizes"], ref["md5"], ref["topmd5"]
    # fast path: the reference session's raw (still stuffed) replies
    refout = read_output(ref["out"]) if os.path.exists(ref.get("out", "")) else None
    roff, rlen, rhl = ref.get("roff"), ref.get("rlen"), ref.get("rhl")
    sc = a.scenario
    seen_uid = {}
    octets = [0]

    def h(c, r, line, pos):
        w = c.split()
        if w[0] == "STAT":
            x = line.split()
            wn, wo = n + a.grow, sum(sizes) + sum(sizes[:a.grow])
            if len(x) < 3 or int(x[1]) != wn or int(x[2]) != wo:
                raise Fail("STAT %r, want +OK %d %d" % (line, wn, wo), pos, c)
        elif w[0] == "LIST":
            raw = r.multi(c)
            ls = raw.split(b"\r\n")[:-1] if raw else []
            if len(ls) != n:
                raise Fail("LIST has %d lines, want %d" % (len(ls), n), pos, c)
            for k, l in enumerate(ls, 1):
                if l != b"%d %d" % (k, sizes[k - 1]):
                    raise Fail("LIST line %r, want '%d %d'" % (l, k, sizes[k - 1]), pos, c)
        elif w[0] == "UIDL":
            raw = r.multi(c)
            ls = raw.split(b"\r\n")[:-1] if raw else []
            if len(ls) != n:
                raise Fail("UIDL has %d lines, want %d" % (len(ls), n), pos, c)
            for k, l in enumerate(ls, 1):
                x = l.split(b" ")
                if len(x) != 2 or x[0] != b"%d" % k:
                    raise Fail("bad UIDL line %r" % l, pos, c)
                u = x[1]
                if not (1 <= len(u) <= 70) or any(ch < 0x21 or ch > 0x7e for ch in u):
                    raise Fail("UIDL %d: unique-id %r violates RFC 1939 syntax" % (k, u), pos, c)
                if u in seen_uid:
                    raise Fail("UIDL: messages %d and %d share unique-id %r (byte-identical messages must "
                               "still get distinct ids)" % (seen_uid[u], k, u), pos, c)
                seen_uid[u] = k
        elif w[0] in ("RETR", "TOP"):
            i = int(w[1]) - 1
            raw = r.multi(c)
            if refout is not None:
                # byte-identical to the verified reference reply: done
                o = roff[i]
                if w[0] == "RETR" and len(raw) == rlen[i] and raw == refout[o:o + rlen[i]]:
                    octets[0] += sizes[i]
                    return
                if w[0] == "TOP" and len(raw) == rhl[i] and raw == refout[o:o + rhl[i]]:
                    octets[0] += len(raw) - raw.count(b"\r\n.")
                    return
            m = destuff(raw, c, pos)
            octets[0] += len(m)
            if w[0] == "RETR":
                if len(m) != sizes[i] or md5(m) != md5s[i]:
                    raise Fail("RETR %d: %d octets (LIST size %d) or content differs from the reference"
                               % (i + 1, len(m), sizes[i]), pos, c)
            else:
                if md5(m) != tops[i]:
                    he = m.find(b"\r\n\r\n")
                    raise Fail("TOP %d 0: reply (%d octets, header end at %d) is not exactly the header "
                               "part plus the blank line" % (i + 1, len(m), he), pos, c)

    try:
        walk(data, session_cmds(sc, n, a.mid), a.greeting, a.login, h)
        t = Truth(a.mbox, a.idx)
        if a.grow:
            note = check_grown(a, t)
        elif sc == "retrdele":
            note = check_mailbox(a, t, ref, [])
        elif sc == "delemid":
            note = check_mailbox(a, t, ref, [i for i in range(n) if i != a.mid - 1])
        else:
            ps, ls = os.stat(a.base or a.mbox), os.stat(a.live)
            if (ps.st_size, ps.st_mtime_ns) == (ls.st_size, ls.st_mtime_ns):
                note = ""
            else:
                note = check_mailbox(a, t, ref, list(range(n)))
        tot = len(data)
        extra = (" octets=%d (content %d)" % (tot, octets[0])) if octets[0] else " octets=%d" % tot
        if ref.get("note"):
            note = ref["note"] + ("; " + note if note else "")
        print("PASS " + (note + ";" if note else "") + extra)
    except Fail as e:
        print("FAIL " + str(e))
        print(excerpt(data, e.pos, e.cmd))


def do_floor(a):
    with open(a.mbox, "rb") as f:
        src = f.read()
    if a.stuff:
        want = len(src) + src.count(b"\n") + src.count(b"\n.") + (1 if src.startswith(b".") else 0)
    else:
        want = len(src)
    got = output_size(a.out)
    print(("PASS octets=%d" % got) if got == want else ("FAIL %d octets, want %d" % (got, want)))


def do_gen(a):
    out = sys.stdout.buffer
    if a.login:
        out.write(LOGIN)
    out.write("".join(c + "\r\n" for c in session_cmds(a.scenario, a.n, a.mid)).encode())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["ref", "scenario", "floor", "gen"])
    p.add_argument("--out")
    p.add_argument("--n", type=int)
    p.add_argument("--mbox")
    p.add_argument("--idx")
    p.add_argument("--greeting", type=int, default=1)
    p.add_argument("--login", type=int, default=1)
    p.add_argument("--ref")
    p.add_argument("--live")
    p.add_argument("--base", help="the mailbox the live copy was restored from")
    p.add_argument("--scenario")
    p.add_argument("--mid", type=int, default=0)
    p.add_argument("--grow", type=int, default=0,
                   help="stat: the live mailbox has a copy of its first GROW messages appended")
    p.add_argument("--stuff", action="store_true")
    a = p.parse_args()
    {"ref": do_ref, "scenario": do_scenario, "floor": do_floor, "gen": do_gen}[a.mode](a)


if __name__ == "__main__":
    main()
