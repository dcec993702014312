#!/usr/bin/env python3
"""The benchmark's second load generator, independent of the Node one: Python 3's
standard library only (asyncio, ssl, poplib), so that no result depends on
how our own client happens to read.

  pop3load.py sessions --port P [--tls] --slots 0,2,4 --total-slots 50 --pool 500 [--retr]
                       --start-at EPOCH_MS --warmup MS --duration MS
      closed loops of connect, USER/PASS, [STAT, RETR 1,] QUIT (scenarios a and d)
  pop3load.py retr --port P --user U --client poplib|bulk|slow --start-at EPOCH_MS --warmup MS --duration MS
      RETR 1 back to back in one session (scenario b):
        poplib  Python's poplib (reads and splits lines as any poplib program does)
        bulk    a socket read 1 MiB at a time (the issue's client)
        slow    a reader that takes 64 KiB every 2 ms (about 32 MB/s at most)

Prints one JSON object: completed sessions or retrieved messages, octets
counted in the window, latencies (ms), errors by kind, and this process's own
CPU seconds inside the window.
"""
import argparse
import asyncio
import json
import poplib
import socket
import ssl
import sys
import time

END = b"\r\n.\r\n"
SESSION_TIMEOUT_S = 30


def user_name(i):
    return "u%05d" % i


def password_of(user):
    return "pw-" + user


class Window:
    def __init__(self, args):
        start = args.start_at / 1000.0
        self.begin = start + args.warmup / 1000.0
        self.end = self.begin + args.duration / 1000.0
        self.start = start
        self.cpu_begin = None
        self.cpu_end = None

    def inside(self, t):
        return self.begin <= t <= self.end

    def tick(self):
        """Notes this process's CPU time when the counted window opens and closes."""
        now = time.time()
        if self.cpu_begin is None and now >= self.begin:
            self.cpu_begin = time.process_time()
        if self.cpu_end is None and now >= self.end:
            self.cpu_end = time.process_time()

    def cpu(self):
        if self.cpu_begin is None:
            return 0.0
        return (self.cpu_end if self.cpu_end is not None else time.process_time()) - self.cpu_begin


def count(errors, err):
    kind = type(err).__name__
    errors[kind] = errors.get(kind, 0) + 1


async def reply(reader):
    line = await reader.readline()
    if not line.startswith(b"+OK"):
        raise RuntimeError("server said %r" % line[:80])
    return line


async def multiline(reader):
    octets = 0
    tail = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            raise ConnectionError("closed in a multi-line reply")
        octets += len(chunk)
        tail = (tail + chunk)[-5:]
        if tail == END:
            return octets


async def one_session(args, user, tls):
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port, ssl=tls)
    try:
        await reply(reader)
        writer.write(("USER %s\r\n" % user).encode())
        await reply(reader)
        writer.write(("PASS %s\r\n" % password_of(user)).encode())
        await reply(reader)
        octets = 0
        if args.retr:
            writer.write(b"STAT\r\n")
            await reply(reader)
            writer.write(b"RETR 1\r\n")
            await reply(reader)
            octets = await multiline(reader)
        writer.write(b"QUIT\r\n")
        await reply(reader)
        return octets
    finally:
        writer.close()


async def sessions(args):
    window = Window(args)
    tls = None
    if args.tls:
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE  # the benchmark's self-signed certificate; every handshake is full
    result = {"completed": 0, "octets": 0, "latencies": [], "errors": {}}
    slots = [int(s) for s in args.slots.split(",") if s != ""]
    per_slot = max(1, args.pool // args.total_slots)
    await asyncio.sleep(max(0.0, window.start - time.time()))

    async def ticker():
        while time.time() <= window.end + 0.05:
            window.tick()
            await asyncio.sleep(0.01)

    async def loop(slot):
        k = 0
        while time.time() < window.end:
            user = user_name(slot + args.total_slots * (k % per_slot))
            k += 1
            t0 = time.time()
            try:
                octets = await asyncio.wait_for(one_session(args, user, tls), SESSION_TIMEOUT_S)
                t1 = time.time()
                if window.inside(t1):
                    result["completed"] += 1
                    result["octets"] += octets
                    result["latencies"].append((t1 - t0) * 1000)
            except Exception as err:  # counted, and the loop goes on as a real client would retry
                if time.time() <= window.end:
                    count(result["errors"], err)
                await asyncio.sleep(0.01)

    tick = asyncio.ensure_future(ticker())
    await asyncio.gather(*(loop(s) for s in slots))
    await tick
    result["cpuSeconds"] = window.cpu()
    return result


def retr_poplib(args, window, result):
    box = poplib.POP3("127.0.0.1", args.port, timeout=SESSION_TIMEOUT_S)
    box.user(args.user)
    box.pass_(password_of(args.user))
    while time.time() < window.end:
        window.tick()
        t0 = time.time()
        _, lines, octets = box.retr(1)
        t1 = time.time()
        window.tick()
        if window.inside(t1):
            result["retrieved"] += 1
            result["octets"] += octets
            result["latencies"].append((t1 - t0) * 1000)
    box.quit()


def retr_socket(args, window, result, read_size, pause_s):
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=SESSION_TIMEOUT_S)
    file = sock.makefile("rb")
    file.readline()
    sock.sendall(("USER %s\r\n" % args.user).encode())
    file.readline()
    sock.sendall(("PASS %s\r\n" % password_of(args.user)).encode())
    if not file.readline().startswith(b"+OK"):
        raise RuntimeError("login refused")
    while time.time() < window.end:
        t0 = time.time()
        sock.sendall(b"RETR 1\r\n")
        if not file.readline().startswith(b"+OK"):
            raise RuntimeError("RETR refused")
        tail = b""
        while True:
            chunk = file.read1(read_size)
            if not chunk:
                raise ConnectionError("closed during RETR")
            now = time.time()
            window.tick()
            if window.inside(now):
                result["octets"] += len(chunk)  # octets as they arrive: the window cuts a RETR anywhere
            tail = (tail + chunk)[-5:]
            if tail == END:
                break
            if pause_s:
                time.sleep(pause_s)
        t1 = time.time()
        if window.inside(t1):
            result["retrieved"] += 1
            result["latencies"].append((t1 - t0) * 1000)
    sock.sendall(b"QUIT\r\n")
    file.readline()
    sock.close()


def retr(args):
    window = Window(args)
    result = {"retrieved": 0, "octets": 0, "latencies": [], "errors": {}}
    time.sleep(max(0.0, window.start - time.time()))
    try:
        if args.client == "poplib":
            retr_poplib(args, window, result)
        elif args.client == "bulk":
            retr_socket(args, window, result, 1 << 20, 0)
        else:
            retr_socket(args, window, result, 64 << 10, 0.002)
    except Exception as err:
        count(result["errors"], err)
    window.tick()
    result["cpuSeconds"] = window.cpu()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="task", required=True)
    for name in ("sessions", "retr"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--start-at", type=float, required=True)
        p.add_argument("--warmup", type=float, required=True)
        p.add_argument("--duration", type=float, required=True)
    s = sub.choices["sessions"]
    s.add_argument("--tls", action="store_true")
    s.add_argument("--retr", action="store_true")
    s.add_argument("--slots", required=True)
    s.add_argument("--total-slots", type=int, required=True)
    s.add_argument("--pool", type=int, required=True)
    r = sub.choices["retr"]
    r.add_argument("--user", required=True)
    r.add_argument("--client", choices=("poplib", "bulk", "slow"), required=True)
    args = parser.parse_args()
    result = asyncio.run(sessions(args)) if args.task == "sessions" else retr(args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
