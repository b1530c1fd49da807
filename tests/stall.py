#!/usr/bin/env python3
"""A client that reads only when told to, for tests of what happens to a
mailbox while pop3d waits on its client.

  stall.py OUT STEP... -- COMMAND...

runs COMMAND with its stdin and stdout on pipes and takes the steps in
order:
  send TEXT    writes TEXT to COMMAND's stdin (\\r and \\n as escapes)
  until TEXT   reads COMMAND's stdout, a byte at a time, until TEXT came:
               COMMAND gets no further than the pipe and its own buffers
               let it, however long the next steps take
  run SHELL    runs a shell command, which must succeed
Then stdin is closed and stdout read to its end.  OUT gets every byte
COMMAND wrote; the exit status is COMMAND's (128 + N for signal N).  After
STALL_TIMEOUT seconds (default 60) COMMAND is killed and the status is 124.
"""
import os
import signal
import subprocess
import sys


def main():
    out_path, args = sys.argv[1], sys.argv[2:]
    split = args.index("--")
    steps, command = args[:split], args[split + 1:]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)

    def expire(signum, frame):
        proc.kill()
        proc.wait()
        with open(out_path, "wb") as f:
            f.write(bytes(got))
        sys.stderr.write("stall.py: timed out\n")
        sys.exit(124)

    got = bytearray()
    signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(os.environ.get("STALL_TIMEOUT", "60")))
    fd = proc.stdout.fileno()
    for i in range(0, len(steps), 2):
        what, arg = steps[i], steps[i + 1]
        text = arg.encode().decode("unicode_escape").encode("latin-1")
        if what == "send":
            proc.stdin.write(text)
            proc.stdin.flush()
        elif what == "until":
            while not got.endswith(text):
                b = os.read(fd, 1)
                if not b:
                    sys.stderr.write("stall.py: output ended before %r\n"
                                     % arg)
                    break
                got += b
        elif what == "run":
            subprocess.run(arg, shell=True, check=True)
        else:
            raise SystemExit("stall.py: unknown step " + what)
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        got += b
    status = proc.wait()
    signal.alarm(0)
    with open(out_path, "wb") as f:
        f.write(bytes(got))
    sys.exit(128 - status if status < 0 else status)


main()
