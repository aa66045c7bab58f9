#!/usr/bin/env python3
"""AWS-like round trips in front of moto, for the benchmark (issue 16).

    python3 bench/latency_proxy.py --upstream http://127.0.0.1:PORT --latency-ms 25 [--jitter-ms 5] [--hold]

Every request is forwarded to the emulator at once and answered no sooner than --latency-ms
(plus a uniform 0..--jitter-ms) after it arrived: the emulator's own time is spent inside the
round trip, as a service's is at AWS, where requests in flight do not queue behind each other
(moto serves one at a time, so its time shows only where its queue is longer than the round
trip, as under a sweep). --hold instead holds each request that long and only then forwards it,
so the emulator's time, its queue included, comes on top.

One asyncio loop, keep-alive connections on both sides, no thread per request, a timer thread
for exact deadlines: the proxy's own cost per round trip stays well under a millisecond, so what a run measures is the tool and the round
trips. Every request is logged with `service`, `operation` (named as tests/fault_proxy.py
names them), `t_in` and `t_out` (monotonic seconds: request received, answer sent), from
which bench/latency.py reads the critical path and the requests in flight.

--bucket-region answers ListBuckets as S3 does (2024): each bucket with its `BucketRegion`, which
moto leaves out (the proxy asks the emulator for each bucket's location itself; those look-ups
are not logged). Without it a sweep takes the fallback, one GetBucketLocation per bucket.

Prints `LISTENING <port>` as its first line on stdout. Control endpoints (never forwarded):
    POST /__proxy/reset   clear the log
    GET  /__proxy/log     JSON list of every request received, in order

Bounded: binds 127.0.0.1 only, forwards only to a loopback upstream, and exits when its stdin
closes or after --max-seconds.
"""

import argparse
import asyncio
import heapq
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fault_proxy import HOP_HEADERS, MAX_BODY, exit_when_stdin_closes, loopback_upstream, operation_of  # noqa: E402

MAX_LOG = 2_000_000


class Headers(dict):
    """Header names matched case-insensitively (what operation_of expects)."""

    def get(self, key, default=None):
        return super().get(key.lower(), default)


async def read_head(reader):
    """(start line, [(name, value)]) of one HTTP message, or None at EOF."""
    line = await reader.readline()
    if not line:
        return None
    headers = []
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return line.decode("latin-1").rstrip("\r\n"), headers


async def read_body(reader, headers, until_eof=False):
    lower = {k.lower(): v for k, v in headers}
    if "chunked" in lower.get("transfer-encoding", "").lower():
        chunks, total = [], 0
        while True:
            size = int((await reader.readline()).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise ValueError("body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    length = lower.get("content-length")
    if length is not None:
        n = int(length)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return await reader.readexactly(n) if n else b""
    return await reader.read(MAX_BODY) if until_eof else b""


BUCKET_END = re.compile(rb"<Name>([^<]+)</Name>(.*?)</Bucket>", re.S)
LOCATION = re.compile(rb"<LocationConstraint[^>]*>([^<]*)</LocationConstraint>|<LocationConstraint[^>]*/>")


class Proxy:
    def __init__(self, upstream, latency, jitter, hold, bucket_region=False):
        self.upstream, self.latency, self.jitter, self.hold = upstream, latency, jitter, hold
        self.bucket_region = bucket_region
        self.log = []
        self.idle = []  # kept-alive connections to the emulator

    async def forward(self, method, target, headers, body):
        """One request to the emulator over a kept-alive connection (a fresh one if a kept
        connection turns out closed before it answered)."""
        for attempt in range(2):
            reused = bool(self.idle) and attempt == 0
            reader, writer = self.idle.pop() if reused else await asyncio.open_connection(
                self.upstream.hostname, self.upstream.port)
            try:
                answer, keep = await self._exchange(reader, writer, method, target, headers, body)
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                if reused:
                    continue
                raise
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return answer
        raise ConnectionError("the emulator closed the connection")

    async def _exchange(self, reader, writer, method, target, headers, body):
        out = [f"{method} {target} HTTP/1.1", f"Host: {self.upstream.netloc}"]
        out += [f"{k}: {v}" for k, v in headers
                if k.lower() not in HOP_HEADERS and k.lower() not in ("host", "content-length")]
        if body or method in ("PUT", "POST", "PATCH"):
            out.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        head = await read_head(reader)
        if head is None:
            raise ConnectionError("the emulator closed the connection")
        status_line, rheaders = head
        status = int(status_line.split()[1])
        lower = {k.lower(): v.lower() for k, v in rheaders}
        framed = "content-length" in lower or "chunked" in lower.get("transfer-encoding", "")
        if method == "HEAD":
            rbody = b""
        else:
            rbody = await read_body(reader, rheaders, until_eof=not framed)
        keep = framed and lower.get("connection") != "close" and status_line.startswith("HTTP/1.1")
        return (status, rheaders, rbody), keep

    async def serve(self, reader, writer):
        try:
            while True:
                head = await read_head(reader)
                if head is None:
                    return
                t_in = time.monotonic()
                request_line, headers = head
                method, target, _ = request_line.split(" ", 2)
                body = await read_body(reader, headers)
                close = any(k.lower() == "connection" and v.lower() == "close" for k, v in headers)
                split = urllib.parse.urlsplit(target)
                if split.path.startswith("/__proxy/"):
                    await self.control(writer, method, split.path)
                else:
                    await self.round_trip(writer, t_in, method, target, split, headers, body)
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()

    async def round_trip(self, writer, t_in, method, target, split, headers, body):
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        service, operation = operation_of(method, split.path, query, Headers((k.lower(), v) for k, v in headers), body)
        entry = {"time": time.time(), "method": method, "path": split.path, "query": split.query,
                 "service": service, "operation": operation, "status": None, "t_in": t_in, "t_out": None}
        if len(self.log) < MAX_LOG:
            self.log.append(entry)
        answer_at = t_in + self.latency + random.uniform(0, self.jitter)
        if self.hold:
            await sleep_until(answer_at)
        try:
            status, rheaders, rbody = await self.forward(method, target, headers, body)
        except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError) as e:
            status, rheaders, rbody = 502, [("Content-Type", "text/plain")], f"upstream error: {e}".encode()
        if self.bucket_region and operation == "ListBuckets" and status == 200 and b"<BucketRegion>" not in rbody:
            rbody = await self.with_bucket_regions(headers, rbody)
            rheaders = [(k, v) for k, v in rheaders if k.lower() != "content-length"]
        if not self.hold:
            await sleep_until(answer_at)
        entry["status"], entry["t_out"] = status, time.monotonic()
        await respond(writer, status, rheaders, rbody, head=method == "HEAD")

    async def with_bucket_regions(self, headers, body):
        """A ListBuckets answer with each bucket's BucketRegion, as S3 gives it."""
        out, last = [], 0
        for m in BUCKET_END.finditer(body):
            name = m.group(1).decode()
            _, _, located = await self.forward("GET", f"/{urllib.parse.quote(name)}?location", headers, b"")
            found = LOCATION.search(located)
            region = (found.group(1) if found and found.group(1) else b"us-east-1").decode()
            region = "eu-west-1" if region == "EU" else region
            out.append(body[last:m.end() - len(b"</Bucket>")])
            out.append(f"<BucketRegion>{region}</BucketRegion></Bucket>".encode())
            last = m.end()
        out.append(body[last:])
        return b"".join(out)

    async def control(self, writer, method, path):
        if method == "POST" and path == "/__proxy/reset":
            self.log = []
            await respond(writer, 200, [("Content-Type", "application/json")], b"{}")
        elif method == "GET" and path == "/__proxy/log":
            await respond(writer, 200, [("Content-Type", "application/json")], json.dumps(self.log).encode())
        else:
            await respond(writer, 404, [("Content-Type", "text/plain")], b"unknown control endpoint")


class Timer:
    """Wakes the loop at exact monotonic deadlines: asyncio's own timers wait in whole
    milliseconds (epoll), which would add up to 1 ms to every round trip."""

    def __init__(self, loop):
        self.loop, self.cond, self.heap, self.seq = loop, threading.Condition(), [], 0
        threading.Thread(target=self._run, daemon=True).start()

    def at(self, deadline):
        future = self.loop.create_future()
        with self.cond:
            self.seq += 1
            heapq.heappush(self.heap, (deadline, self.seq, future))
            self.cond.notify()
        return future

    def _run(self):
        with self.cond:
            while True:
                if not self.heap:
                    self.cond.wait()
                    continue
                left = self.heap[0][0] - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                _, _, future = heapq.heappop(self.heap)
                self.loop.call_soon_threadsafe(_wake, future)


def _wake(future):
    if not future.done():
        future.set_result(None)


TIMER = None


async def sleep_until(deadline):
    if deadline > time.monotonic():
        await TIMER.at(deadline)


async def respond(writer, status, headers, body, head=False):
    out = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}"]
    out += [f"{k}: {v}" for k, v in headers
            if k.lower() not in HOP_HEADERS and k.lower() not in ("content-length", "date", "server")]
    length = next((v for k, v in headers if k.lower() == "content-length"), None) if head else None
    out.append(f"Content-Length: {length if length is not None else len(body)}")
    writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + (b"" if head else body))
    await writer.drain()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the emulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=25.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--hold", action="store_true", help="hold each request, then forward it")
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    ap.add_argument("--bucket-region", action="store_true", help="add BucketRegion to ListBuckets, as S3 does")
    args = ap.parse_args()
    if not (0 <= args.latency_ms <= 10_000 and 0 <= args.jitter_ms <= 10_000):
        sys.exit("latency_proxy: --latency-ms and --jitter-ms must be within 0..10000")
    upstream = loopback_upstream(args.upstream, "latency_proxy")
    proxy = Proxy(upstream, args.latency_ms / 1000, args.jitter_ms / 1000, args.hold, args.bucket_region)

    async def run():
        global TIMER
        TIMER = Timer(asyncio.get_running_loop())
        server = await asyncio.start_server(proxy.serve, "127.0.0.1", args.port, backlog=512)
        print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
        threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
        await asyncio.sleep(args.max_seconds)
        os._exit(0)

    asyncio.run(run())


if __name__ == "__main__":
    main()
