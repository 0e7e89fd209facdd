#!/usr/bin/env python3
"""proccount.py - what a running daemon holds, for the load and soak tests.

    proccount.py PID HOOK_PORT

Prints one line, "THREADS OTHER HOOK PAIRS RSS_KB":
    THREADS  entries of /proc/PID/task
    HOOK     descriptors that are TCP connections to port HOOK_PORT (the hook server)
    PAIRS    descriptors that are unnamed unix sockets (libcurl gives every easy
             handle a wake-up socket pair)
    OTHER    all its other descriptors (/proc/PID/fd)
    RSS_KB   VmRSS of /proc/PID/status
Linux only; standard library only.
"""

import os
import sys


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    pid, port = argv[1], "%04X" % int(argv[2])
    hook, unnamed = set(), set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = [line.split() for line in f.readlines()[1:]]
        except OSError:
            continue
        hook.update(r[9] for r in rows if r[2].endswith(":" + port))
    try:
        with open("/proc/net/unix") as f:
            unnamed.update(r[6] for r in (line.split() for line in f.readlines()[1:])
                           if len(r) == 7)
    except OSError:
        pass
    fds = os.listdir("/proc/%s/fd" % pid)
    n_hook = n_pair = 0
    for fd in fds:
        try:
            link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        inode = link[8:-1] if link.startswith("socket:[") else None
        if inode in hook:
            n_hook += 1
        elif inode in unnamed:
            n_pair += 1
    rss = -1
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    print(len(os.listdir("/proc/%s/task" % pid)), len(fds) - n_hook - n_pair, n_hook, n_pair,
          rss)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
