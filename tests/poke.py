#!/usr/bin/env python3
"""Changes a mailbox or its index cache in place, as a hostile owner or a
careless program would (tests/security.bats).

  poke.py show CACHE             the records: index start data end octets
  poke.py set CACHE [--raw] I FIELD=VALUE...
                                 sets fields of record I (start, data, end,
                                 octets, occurrence); the header's octets
                                 and both checksums are made to match
                                 unless --raw (a plain write into the
                                 file, as another program's)
  poke.py unline FILE FROM TO    every LF in bytes [FROM, TO) becomes 'X':
                                 same size, same inode

The cache layout is cache.h's: a 168-byte header (the count at 88, the
records' octets at 128, the SHA-256 of the 136 bytes before it at 136),
then 56-byte records (start, data, end, octets, digest[16], occurrence,
deleted), then the SHA-256 of the records and the header.
"""
import hashlib
import struct
import sys

HEADER = 168
OCTETS = 128
HEADER_SUM = 136
RECORD = struct.Struct("=qqqQ16sII")
FIELDS = ("start", "data", "end", "octets", "digest", "occurrence", "deleted")


def records(data):
    count = struct.unpack_from("=Q", data, 88)[0]
    return count, [list(RECORD.unpack_from(data, HEADER + i * RECORD.size))
                   for i in range(count)]


def main():
    what, path = sys.argv[1], sys.argv[2]
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if what == "show":
            for i, r in enumerate(records(data)[1]):
                print(i, *r[:4])
            return
        if what == "unline":
            lo, hi = int(sys.argv[3]), int(sys.argv[4])
            data[lo:hi] = data[lo:hi].replace(b"\n", b"X")
            f.seek(lo)
            f.write(data[lo:hi])
            return
        if what != "set":
            raise SystemExit("poke.py: unknown command " + what)
        args = sys.argv[3:]
        raw = args[0] == "--raw"
        if raw:
            args = args[1:]
        i = int(args[0])
        count, recs = records(data)
        for a in args[1:]:
            name, value = a.split("=")
            recs[i][FIELDS.index(name)] = int(value)
        at = HEADER + i * RECORD.size
        data[at:at + RECORD.size] = RECORD.pack(*recs[i])
        end = HEADER + count * RECORD.size
        if not raw:
            octets = sum(r[3] for r in recs) % 2**64
            struct.pack_into("=Q", data, OCTETS, octets)
            data[HEADER_SUM:HEADER] = hashlib.sha256(
                data[:HEADER_SUM]).digest()
            data[end:end + 32] = hashlib.sha256(
                data[HEADER:end] + data[:HEADER]).digest()
        f.seek(0)
        f.write(data)


main()
