#!/usr/bin/env python3
"""What fanning small messages out over loopback TCP costs on this machine with no server at all.

One or more sender processes write a WebSocket-sized text frame (default 142 bytes, the size of a
reading) to each of N loopback TCP connections, R rounds a second, as a server fans one reading out
to N clients; a receiver process reads them all with epoll. Prints, for the senders: kernel and
user CPU per send, CPU as a percentage of one core, and how long a round took from its first send
to its last (the earliest the last client could have the message). The figures are a floor for
any server: the kernel's send path, not the server's code, sets them. CPU time comes from
getrusage, which this kernel samples at the scheduler tick: the kernel/user split means something
only over many sends (100,000 or more).

    python3 bench/loopback-floor.py --clients 1000 --rate 10 --duration 20
    python3 bench/loopback-floor.py --clients 10000 --rate 4 --duration 15 --senders 2
"""
import argparse
import json
import os
import resource
import select
import socket
import statistics
import time


def receive(listener, clients, expected_bytes, ready, deadline):
    """Accepts every connection, signals ready, reads until everything sent has arrived (or the deadline)."""
    poller = select.epoll()
    conns = {}
    for _ in range(clients):
        conn, _ = listener.accept()
        conn.setblocking(False)
        conns[conn.fileno()] = conn
        poller.register(conn.fileno(), select.EPOLLIN)
    os.write(ready, b"r")
    received = 0
    while received < expected_bytes and time.monotonic() < deadline:
        for fd, _ in poller.poll(1.0):
            try:
                received += len(conns[fd].recv(65536))
            except BlockingIOError:
                pass


def send(socks, message, rounds, rate, start, out):
    """Sends one message per socket per round at the given rate; reports CPU and round times."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    spans = []
    for i in range(rounds):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        first = time.monotonic()
        for s in socks:
            s.sendall(message)
        spans.append((first, time.monotonic()))
    after = resource.getrusage(resource.RUSAGE_SELF)
    os.write(out, (json.dumps({
        "kernel_s": after.ru_stime - before.ru_stime,
        "user_s": after.ru_utime - before.ru_utime,
        "spans": spans,
    }) + "\n").encode())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--size", type=int, default=142)
    parser.add_argument("--senders", type=int, default=1)
    args = parser.parse_args()

    # Each connection is a descriptor in the sender and one in the receiver.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.clients + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < args.clients + 100:
            parser.error(f"--clients {args.clients} needs more open files than the hard limit ({hard})")

    # A server-to-client text frame: FIN + text opcode, 16-bit length, payload.
    message = b"\x81\x7e" + (args.size - 4).to_bytes(2, "big") + b"x" * (args.size - 4)
    rounds = int(args.rate * args.duration)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)

    ready_r, ready_w = os.pipe()
    receiver = os.fork()
    if receiver == 0:
        deadline = time.monotonic() + args.duration + 60
        receive(listener, args.clients, rounds * args.clients * len(message), ready_w, deadline)
        os._exit(0)

    socks = []
    for _ in range(args.clients):
        s = socket.create_connection(listener.getsockname())
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    os.read(ready_r, 1)

    results_r, results_w = os.pipe()
    start = time.monotonic() + 0.5
    senders = []
    for k in range(args.senders):
        pid = os.fork()
        if pid == 0:
            send(socks[k::args.senders], message, rounds, args.rate, start, results_w)
            os._exit(0)
        senders.append(pid)
    for pid in senders:
        os.waitpid(pid, 0)
    wall = time.monotonic() - start
    os.waitpid(receiver, 0)

    with os.fdopen(results_r) as results:
        os.close(results_w)
        reports = [json.loads(line) for line in results]
    if len(reports) != args.senders:
        raise SystemExit(f"{args.senders - len(reports)} of {args.senders} sender processes failed")
    kernel = sum(r["kernel_s"] for r in reports)
    user = sum(r["user_s"] for r in reports)
    # A round runs from its first send in any sender to its last in any (one monotonic clock for all).
    rounds_ms = sorted(
        (max(r["spans"][i][1] for r in reports) - min(r["spans"][i][0] for r in reports)) * 1000
        for i in range(rounds))
    sends = rounds * args.clients
    print(json.dumps({
        "clients": args.clients, "rate": args.rate, "senders": args.senders, "sends": sends,
        "message_bytes": len(message),
        "kernel_us_per_send": round(kernel / sends * 1e6, 2),
        "user_us_per_send": round(user / sends * 1e6, 2),
        "kernel_pct_of_core": round(kernel / wall * 100, 1),
        "round_ms_median": round(statistics.median(rounds_ms), 2),
        "round_ms_max": round(rounds_ms[-1], 2),
    }))


main()
