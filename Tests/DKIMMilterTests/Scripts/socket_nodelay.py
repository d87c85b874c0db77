#!/usr/bin/python3
"""Prints TCP_NODELAY (0 or 1) for every accepted TCP connection of a process on a port.

usage: socket_nodelay.py PID PORT
Takes a copy of each of the process's socket descriptors with pidfd_getfd (Linux 5.6+, needs
the right to ptrace the process: root) and asks the kernel for the option.
"""
import ctypes, os, socket, sys

SYS_PIDFD_GETFD = 438
libc = ctypes.CDLL(None, use_errno=True)

pid, port = int(sys.argv[1]), int(sys.argv[2])
pidfd = os.pidfd_open(pid)
found = 0
for name in os.listdir('/proc/%d/fd' % pid):
    if not os.readlink('/proc/%d/fd/%s' % (pid, name)).startswith('socket:'):
        continue
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
    if fd < 0:
        sys.exit('pidfd_getfd failed: %s' % os.strerror(ctypes.get_errno()))
    s = socket.socket(fileno=fd)
    try:
        if s.family in (socket.AF_INET, socket.AF_INET6) and s.type == socket.SOCK_STREAM \
                and s.getsockname()[1] == port:
            try:
                s.getpeername()
            except OSError:
                continue  # the listening socket
            print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) and 1 or 0)
            found += 1
    finally:
        s.close()
sys.exit(0 if found else 3)
