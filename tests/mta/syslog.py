#!/usr/bin/env python3
"""syslog.py - a syslog receiver on a unix datagram socket, for an MTA under test.

    syslog.py --socket PATH --log FILE

Sendmail logs only through syslog(3), and the test machines run no syslog
daemon. tests/mta/sendmail.sh binds PATH over /dev/log inside the private
mount namespace Sendmail runs in, so its log lines land in FILE (one line per
message, the "<PRI>" prefix kept) and nothing outside the test sees them.
Runs until killed. Standard library only.
"""

import argparse
import os
import socket


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(args.socket)
    # Sendmail's children log after they have switched to an unprivileged user.
    os.chmod(args.socket, 0o666)
    with open(args.log, "ab", buffering=0) as log:
        while True:
            data = sock.recv(65536)
            log.write(data.rstrip(b"\0\r\n").replace(b"\n", b" ") + b"\n")


if __name__ == "__main__":
    main()
