#!/usr/bin/env python3
"""A real POP3 client session for the deployment tests (Python's poplib):
pop_client.py PORT USER PASSWORD -- logs in on 127.0.0.1:PORT, prints the
replies to STAT, LIST, RETR 1 (its lines), DELE 1 and QUIT, one a line."""
import poplib
import sys

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
p = poplib.POP3("127.0.0.1", port, timeout=10)
print(p.getwelcome().decode())
print(p.user(user).decode())
print(p.pass_(password).decode())
print("STAT", *p.stat())
resp, listing, _ = p.list()
print(resp.decode(), *(x.decode() for x in listing), sep="\n")
resp, lines, octets = p.retr(1)
print(resp.decode(), *(x.decode() for x in lines), sep="\n")
print(p.dele(1).decode())
print(p.quit().decode())
