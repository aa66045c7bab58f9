"""The benchmark's emulator: one moto_server on a free 127.0.0.1 port, whose werkzeug access
log (one line per request, written when the status line is sent) is the request counter.

Counting from the log adds nothing to the timed path: no proxy sits between a tool and the
emulator while it is timed. A window of the log is taken between two *marks* (a request
the benchmark sends itself and waits to see in the log), so every request a tool sent
before it exited is in its window, and nothing else is.

`ObservingProxy` is used only for the untimed runs: time to first request and the
per-operation profile (service and operation of every request, from the SigV4 scope,
X-Amz-Target, the query `Action` or the S3 sub-resource).
"""

import contextlib
import http.client
import itertools
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from urllib.parse import parse_qsl, unquote

LOG_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')

# S3 sub-resources (the first query key) -> operation name, by method.
S3_SUBRESOURCES = {
    "encryption": "BucketEncryption", "policy": "BucketPolicy",
    "publicAccessBlock": "PublicAccessBlock", "tagging": "BucketTagging",
    "acl": "BucketAcl", "replication": "BucketReplication", "versioning": "BucketVersioning",
    "website": "BucketWebsite", "logging": "BucketLogging", "lifecycle": "BucketLifecycleConfiguration",
    "notification": "BucketNotificationConfiguration", "cors": "BucketCors",
    "ownershipControls": "BucketOwnershipControls", "policyStatus": "BucketPolicyStatus",
    "requestPayment": "BucketRequestPayment", "accelerate": "BucketAccelerateConfiguration",
    "object-lock": "ObjectLockConfiguration", "analytics": "BucketAnalyticsConfiguration",
    "intelligent-tiering": "BucketIntelligentTieringConfiguration", "inventory": "BucketInventoryConfiguration",
    "metrics": "BucketMetricsConfiguration",
}
VERB = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3_operation(method, target):
    """(operation, bucket or None, is_write) of an S3 REST request line."""
    path, _, query = target.partition("?")
    parts = unquote(path).lstrip("/").split("/", 1)
    bucket = parts[0] or None
    keys = [k for k, _ in parse_qsl(query, keep_blank_values=True) if k != "x-id"]
    write = method in ("PUT", "POST", "DELETE")
    if bucket is None:
        return ("ListBuckets" if method == "GET" else f"{method} /"), None, write
    if bucket == "v20180820":
        # S3 Control (account-level Block Public Access): an account's, not a bucket's.
        return f"S3 Control {method} {parts[1] if len(parts) == 2 else ''}", None, write
    if len(parts) == 2 and parts[1]:
        return f"{method} object", bucket, write
    if keys and keys[0] == "location":
        return "GetBucketLocation", bucket, write
    if keys and keys[0] in S3_SUBRESOURCES:
        return VERB.get(method, method) + S3_SUBRESOURCES[keys[0]], bucket, write
    if keys:
        return f"{method} ?{keys[0]}", bucket, write
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "GET": "ListObjects",
            "DELETE": "DeleteBucket"}.get(method, method), bucket, write


def classify(method, target):
    """A request line of the access log -> (service, operation, bucket, is_write). Without the
    request body the query/JSON protocols (STS, Organizations, KMS, SNS: all `POST /`) are
    one class here; the proxy tells them apart."""
    if target == "/" and method == "POST":
        return "api", "POST / (STS/Organizations/KMS/SNS)", None, False
    op, bucket, write = s3_operation(method, target)
    return "s3", op, bucket, write


class Window:
    """The requests the emulator logged between two marks."""

    def __init__(self, entries):
        self.entries = entries  # [(monotonic, method, target, status)]

    def __len__(self):
        return len(self.entries)

    def classified(self):
        return [classify(m, t) + (status,) for _, m, t, status in self.entries]

    def operations(self):
        return Counter(op for _, op, _, _, _ in self.classified())

    def writes(self):
        return sum(1 for svc, _, _, w, _ in self.classified() if svc == "s3" and w)

    def per_bucket(self):
        """bucket -> (requests, writes)"""
        out = {}
        for svc, _, bucket, write, _ in self.classified():
            if svc == "s3" and bucket:
                r, w = out.get(bucket, (0, 0))
                out[bucket] = (r + 1, w + int(write))
        return out

    def process_level(self):
        """Requests that name no bucket (ListBuckets, STS, Organizations, KMS, SNS)."""
        return sum(1 for svc, _, bucket, _, _ in self.classified() if not bucket)

    def first_time(self):
        return self.entries[0][0] if self.entries else None


class Moto:
    def __init__(self, python=sys.executable):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.entries = []  # every access-log line: (monotonic, method, target, status)
        self.cond = threading.Condition()
        self.marks = itertools.count(1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("bench: moto_server did not start (pip install 'moto[server]')")
            time.sleep(0.05)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def _read(self):
        for line in self.proc.stderr:
            now = time.monotonic()
            m = LOG_LINE.search(line)
            if not m:
                continue
            with self.cond:
                self.entries.append((now, m["method"], m["target"], int(m["status"])))
                self.cond.notify_all()

    def _request(self, method, path, body=None):
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise

    def mark(self):
        """Returns the log position after every request logged so far (a barrier)."""
        n = next(self.marks)
        self._request("GET", f"/moto-api/config?bench-mark={n}")
        needle = f"bench-mark={n}"
        with self.cond:
            ok = self.cond.wait_for(
                lambda: any(needle in e[2] for e in self.entries[-50:]), timeout=30)
            if not ok:
                raise SystemExit("bench: the emulator's access log stopped (moto_server died?)")
            idx = next(i for i in range(len(self.entries) - 1, -1, -1) if needle in self.entries[i][2])
            return idx + 1

    def window(self, start, end):
        """Requests between two marks, without the benchmark's own admin requests."""
        with self.cond:
            part = self.entries[start:end]
        return Window([e for e in part if not e[2].startswith("/moto-api")])

    def reset(self):
        status, body = self._request("POST", "/moto-api/reset")
        if status != 200:
            raise SystemExit(f"bench: moto reset failed: {status} {body[:200]!r}")

    def stop(self):
        with contextlib.suppress(Exception):
            self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# --- the emulator's own floor and ceiling ---------------------------------------------

S3_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
           "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def _raw_get(conn, path):
    conn.request("GET", path, headers={"Authorization": S3_AUTH, "x-amz-date": "20260101T000000Z",
                                       "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def floor_latency(port, bucket, n=300, warmup=30):
    """Median and p90 seconds of one GetBucketEncryption from one keep-alive client (raw
    http.client: no SDK cost on the client side)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = f"/{bucket}?encryption"
    for _ in range(warmup):
        _raw_get(conn, path)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        status = _raw_get(conn, path)
        samples.append(time.perf_counter() - t)
        if status != 200:
            raise SystemExit(f"bench: floor request answered {status}")
    conn.close()
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.9)]


def ceiling_throughput(port, bucket, clients=(1, 4, 16), seconds=2.0):
    """Requests per second the emulator serves with C concurrent keep-alive clients; the
    ceiling is the best of them. Returns {clients: rps}."""
    path = f"/{bucket}?encryption"
    out = {}
    for c in clients:
        count = [0] * c
        stop = time.perf_counter() + seconds

        def worker(i):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.perf_counter() < stop:
                _raw_get(conn, path)
                count[i] += 1
            conn.close()

        start = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(c)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out[c] = sum(count) / (time.perf_counter() - start)
    return out


# --- the observing proxy (untimed runs only) -------------------------------------------

SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


class ObservingProxy:
    """A transparent TCP proxy to the emulator that records, for every HTTP request, the
    moment its first byte arrived and its service and operation. Bytes are forwarded as
    they arrive; the parse only observes."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.requests = []  # (monotonic of first byte, service, operation, bucket)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def clear(self):
        with self.lock:
            self.requests = []

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        parser = _RequestParser(self._record)
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                parser.feed(data, time.monotonic())
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def _record(self, t, method, target, headers, body):
        scope = SCOPE.search(headers.get("authorization", ""))
        service = scope.group(2) if scope else "?"
        bucket = None
        if headers.get("x-amz-target"):
            op = headers["x-amz-target"].rsplit(".", 1)[-1]
        elif service == "s3":
            op, bucket, _ = s3_operation(method, target)
        else:
            form = dict(parse_qsl(body.decode("utf-8", "replace"))) if body else {}
            op = form.get("Action") or dict(parse_qsl(target.partition("?")[2])).get("Action") or f"{method} {target}"
        with self.lock:
            self.requests.append((t, service, op, bucket))


class _RequestParser:
    """Incremental HTTP/1.1 request parser (Content-Length and chunked bodies)."""

    def __init__(self, on_request):
        self.on_request = on_request
        self.buf = b""
        self.t0 = None

    def feed(self, data, now):
        if not self.buf:
            self.t0 = now
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            lines = self.buf[:head_end].decode("latin-1").split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                self.buf = b""
                return
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            rest = self.buf[head_end + 4:]
            if "chunked" in headers.get("transfer-encoding", "").lower():
                body, consumed = _dechunk(rest)
                if consumed is None:
                    return
            else:
                n = int(headers.get("content-length") or 0)
                if len(rest) < n:
                    return
                body, consumed = rest[:n], n
            self.on_request(self.t0, method, target, headers, body)
            self.buf = rest[consumed:]
            self.t0 = now if self.buf else None


def _dechunk(data):
    """(body, bytes consumed) of a complete chunked body, or (None, None) if incomplete."""
    pos, body = 0, b""
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None, None
        size = int(data[pos:eol].split(b";")[0] or b"0", 16)
        pos = eol + 2
        if size == 0:
            end = data.find(b"\r\n\r\n", pos - 2)
            if end < 0:
                return None, None
            return body, end + 4
        if len(data) < pos + size + 2:
            return None, None
        body += data[pos:pos + size]
        pos += size + 2
