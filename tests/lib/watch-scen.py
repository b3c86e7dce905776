#!/usr/bin/env python3
# watch-scen.py SCENARIO [HOST] -- play one way a TCP connection ends, for
# t-watch.sh: a listener and a client in this process (the kernel does not
# care), real syscalls, exact byte counts. Prints one JSON line with the
# ports, the pid and what each side sent, then exits; t-watch.sh compares
# `hangup watch --json` with it.
import json, os, socket, struct, subprocess, sys, time

scen = sys.argv[1]
host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
fam = socket.AF_INET6 if ":" in host else socket.AF_INET


def pair():
    l = socket.socket(fam, socket.SOCK_STREAM)
    l.bind((host, 0))
    l.listen(8)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.connect(l.getsockname()[:2])
    s, _ = l.accept()
    return l, c, s


def settle():
    time.sleep(0.15)


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def drop(on):
    # Inside the test's private namespace only: every TCP packet lost.
    if on:
        subprocess.run(["nft", "add table inet hw; add chain inet hw out "
                        "{ type filter hook output priority 0; }; "
                        "add rule inet hw out meta l4proto tcp drop"],
                       check=True)
    else:
        subprocess.run(["nft", "delete table inet hw"], check=True)


def wait_timeout(c, s):
    # The client's recv() ends with ETIMEDOUT; the server, cut off as well,
    # is aborted (its RST is dropped too) so that nothing lingers.
    try:
        c.recv(100)
    except TimeoutError:
        pass
    c.close()
    linger0(s)
    s.close()
    drop(False)


out = {"scenario": scen, "pid": os.getpid()}
if scen == "syn-timeout":  # SYNs dropped; 1 retry: ETIMEDOUT in ~3 s
    l = socket.socket(fam, socket.SOCK_STREAM)
    l.bind((host, 0))
    l.listen(1)
    drop(True)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)
    try:
        c.connect(l.getsockname()[:2])
    except (TimeoutError, OSError):
        pass
    out.update(client=c.getsockname()[1], server=l.getsockname()[1])
    c.close()
    l.close()
    drop(False)
    print(json.dumps(out))
    sys.exit(0)
if scen == "refused":
    l = socket.socket(fam, socket.SOCK_STREAM)
    l.bind((host, 0))
    port = l.getsockname()[1]
    l.close()  # never listened: the port has no socket
    c = socket.socket(fam, socket.SOCK_STREAM)
    try:
        c.connect((host, port))
    except ConnectionRefusedError:
        pass
    out.update(client=c.getsockname()[1], server=port)
    print(json.dumps(out), flush=True)
    os._exit(0)  # at once: gone before watch reads the sample

l, c, s = pair()
out.update(client=c.getsockname()[1], server=l.getsockname()[1])
if scen == "client-closes":  # client: 6 out, 3 in; closes first
    c.sendall(b"hello\n")
    s.recv(100)
    s.sendall(b"abc")
    c.recv(100)
    c.close()
    settle()
    assert s.recv(100) == b""
    s.close()
elif scen == "server-closes":  # server sends 5, closes first
    c.sendall(b"ping")
    s.recv(100)
    s.sendall(b"pong\n")
    s.close()
    settle()
    c.recv(100)
    assert c.recv(100) == b""
    c.close()
elif scen == "half-close":  # client shuts down writing, keeps reading
    c.sendall(b"request")
    c.shutdown(socket.SHUT_WR)
    settle()
    assert s.recv(100) == b"request"
    assert s.recv(100) == b""
    s.sendall(b"the reply")
    s.close()
    settle()
    assert c.recv(100) == b"the reply"
    assert c.recv(100) == b""
    c.close()
elif scen == "unread":  # server closes with 6 bytes it never read: RST
    c.sendall(b"unread")
    settle()
    s.close()
    settle()
    try:
        c.recv(100)
    except ConnectionResetError:
        pass
    c.close()
elif scen == "reply-lost":  # request + FIN; the server reads only part,
    c.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")  # 27 bytes
    c.shutdown(socket.SHUT_WR)
    settle()
    s.recv(16)  # reads 16, answers 25, closes with 11 unread: RST
    s.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello\n")
    s.close()
    settle()  # the client never reads: the RST discarded the reply
    c.close()
elif scen == "linger-abort":  # client aborts with SO_LINGER {1,0}
    c.sendall(b"abcd")
    s.recv(100)
    linger0(c)
    c.close()
    settle()
    try:
        s.recv(100)
    except ConnectionResetError:
        pass
    s.close()
elif scen == "data-after-close":  # server closes; client writes after
    s.close()
    settle()
    c.sendall(b"late!")  # draws the RST (TCP_ABORT_ON_DATA)
    settle()
    try:
        c.sendall(b"x")
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.close()
elif scen == "keepalive":  # the peer vanishes; keepalive gives up
    c.sendall(b"123")
    s.recv(100)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
    drop(True)
    wait_timeout(c, s)  # ETIMEDOUT after ~3 s
elif scen == "user-timeout":  # data never acknowledged: ETIMEDOUT
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 1000)
    c.sendall(b"12345678")
    s.recv(100)
    drop(True)
    c.sendall(b"lost in the void")  # 16 bytes, never acknowledged
    wait_timeout(c, s)
elif scen == "simultaneous":  # both FINs sent while the wire is cut
    c.sendall(b"x" * 10)
    s.recv(100)
    drop(True)
    c.shutdown(socket.SHUT_WR)
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.05)
    drop(False)  # the retransmitted FINs cross: FIN_WAIT1 -> CLOSING
    time.sleep(1.5)
    c.close()
    s.close()
else:
    sys.exit("unknown scenario " + scen)
l.close()
print(json.dumps(out))
