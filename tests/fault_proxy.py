#!/usr/bin/env python3
"""Fault-injecting HTTP proxy between rekognition-guard and moto_server (tests only).

Forwards every request (method, path, query, headers, body) to the upstream emulator and
returns its answer verbatim, unless a rule says to answer with a fault instead. The
faults are the errors AWS itself sends, in each protocol's own format, so the SDK
classifies (and retries) them as it would in production.

    python3 tests/fault_proxy.py --upstream http://127.0.0.1:PORT

Every log entry carries `t_in` and `t_out` (monotonic seconds: request received, answer
sent), and `iam`: what tests/iam/check.py needs to authorize it (the SigV4 access key id that
signed it, the parameters that name its resource, and the access key id an AssumeRole answer
issued). The benchmark's AWS-like round trips are bench/latency_proxy.py's.

prints `LISTENING <port>` as its first line on stdout, then nothing else on stdout.

Control endpoints (never forwarded):
    POST /__proxy/rules   JSON list of rules (replaces the current rules)
    POST /__proxy/reset   clear the rules and the log
    GET  /__proxy/log     JSON list of every request received, in order

A rule: {"operation": "PutBucketPolicy" | "*", "service": "s3" (optional),
         "fault": "slowdown-503" | "internal-500" | "operation-aborted-409"
                  | "throttle-429" | "access-denied-403" | "reset" | "delay" | "failed-findings",
         "times": N (the first N matching requests, then pass; omitted: always),
         "body_contains": "text" (optional: only requests whose body contains it),
         "delay_seconds": x (for "delay"), "status": code (optional override),
         "after_upstream": true (optional: forward first, so the write lands,
                                 then answer with the fault: a lost response),
         "count": N (for "failed-findings": Security Hub's BatchImportFindings answers 200
                     with the first N findings of the request in FailedFindings)}
The first rule that matches and has times left applies.

With --fidelity, S3 requests also pass through tests/s3_fidelity.py, which answers as S3 does
where moto does not (default encryption of new buckets, blocked encryption types, the refusals
of PutBucketPolicy, GetBucketPolicyStatus). Fault rules apply first, as the network between the
client and S3 would; a request whose answer the fidelity layer made or changed is logged with
`fidelity` naming the behaviour (null otherwise).

Bounded: binds 127.0.0.1 only, answers only loopback clients, forwards only to a
loopback upstream, and exits when its stdin closes (the test process died or dropped
its handle) or after --max-seconds.
"""

import argparse
import http.client
import http.server
import json
import os
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_fidelity  # noqa: E402

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# Headers that describe one hop's connection, not the message.
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "host",
}
MAX_BODY = 64 * 1024 * 1024
MAX_DELAY = 120.0
MAX_LOG = 100_000

# S3 bucket sub-resources: query key -> operation name stem.
S3_SUBRESOURCES = {
    "policy": "BucketPolicy",
    "encryption": "BucketEncryption",
    "publicAccessBlock": "PublicAccessBlock",
    "tagging": "BucketTagging",
    "location": "BucketLocation",
    "acl": "BucketAcl",
    "versioning": "BucketVersioning",
    "ownershipControls": "BucketOwnershipControls",
    "policyStatus": "BucketPolicyStatus",
    "lifecycle": "BucketLifecycleConfiguration",
    "logging": "BucketLogging",
    "notification": "BucketNotificationConfiguration",
    "cors": "BucketCors",
    "website": "BucketWebsite",
    "replication": "BucketReplication",
    "object-lock": "ObjectLockConfiguration",
    "accelerate": "BucketAccelerateConfiguration",
    "requestPayment": "BucketRequestPayment",
    "uploads": "MultipartUploads",
    "delete": "Objects",
}
VERB = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "POST": "Post", "HEAD": "Head"}

S3_FAULTS = {
    "slowdown-503": (503, "SlowDown", "Please reduce your request rate."),
    "internal-500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "operation-aborted-409": (
        409,
        "OperationAborted",
        "A conflicting conditional operation is currently in progress against this resource. "
        "Please try again.",
    ),
    # S3 throttles with 503 SlowDown; it has no 429.
    "throttle-429": (503, "SlowDown", "Please reduce your request rate."),
    "access-denied-403": (403, "AccessDenied", "Access Denied"),
}
JSON_FAULTS = {
    "slowdown-503": (503, "ServiceUnavailableException", "Service is unavailable."),
    "internal-500": (500, "InternalFailure", "The request processing has failed because of an unknown error."),
    "operation-aborted-409": (409, "ConcurrentModificationException", "A conflicting operation is in progress."),
    "throttle-429": None,  # per service, below
    "access-denied-403": (400, "AccessDeniedException", "User is not authorized to perform this action"),
}
JSON_THROTTLE = {
    "securityhub": (429, "TooManyRequestsException", "Rate exceeded"),
    "kms": (400, "ThrottlingException", "Rate exceeded"),
    "organizations": (400, "TooManyRequestsException", "You have sent too many requests in too short a period of time."),
}
QUERY_FAULTS = {
    "slowdown-503": (503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
    "internal-500": (500, "InternalFailure", "The request processing has failed because of an unknown error."),
    "operation-aborted-409": (409, "ConcurrentAccess", "A conflicting operation is in progress."),
    "throttle-429": (400, "Throttling", "Rate exceeded"),
    "access-denied-403": (403, "AccessDenied", "User is not authorized to perform: sts:AssumeRole"),
}
QUERY_XMLNS = {
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
}
FAULTS = {
    "slowdown-503",
    "internal-500",
    "operation-aborted-409",
    "throttle-429",
    "access-denied-403",
    "reset",
    "delay",
    "failed-findings",
}
# Security Hub is REST-JSON: the operation is the method and path.
SECURITYHUB_PATHS = {
    ("POST", "/findings/import"): "BatchImportFindings",
    ("POST", "/findings"): "GetFindings",
    ("PATCH", "/findings/batchupdate"): "BatchUpdateFindings",
    ("GET", "/accounts"): "DescribeHub",
    ("POST", "/accounts"): "EnableSecurityHub",
    ("DELETE", "/accounts"): "DisableSecurityHub",
}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []  # dicts, each with a "left" count (None: always)
        self.log = []

    def set_rules(self, rules):
        checked = []
        for r in rules:
            if not isinstance(r, dict) or r.get("fault") not in FAULTS:
                raise ValueError(f"bad rule {r!r}: fault must be one of {sorted(FAULTS)}")
            if not isinstance(r.get("operation", "*"), str):
                raise ValueError(f"bad rule {r!r}: operation must be a string")
            times = r.get("times")
            if times is not None and (not isinstance(times, int) or times < 0):
                raise ValueError(f"bad rule {r!r}: times must be a non-negative integer")
            delay = float(r.get("delay_seconds", 0))
            if not 0 <= delay <= MAX_DELAY:
                raise ValueError(f"bad rule {r!r}: delay_seconds must be within 0..{MAX_DELAY}")
            checked.append(dict(r, left=times, delay_seconds=delay))
        with self.lock:
            self.rules = checked

    def reset(self):
        with self.lock:
            self.rules = []
            self.log = []

    def take(self, service, operation, body=b""):
        """The rule that applies to this request, consuming one of its `times`."""
        with self.lock:
            for r in self.rules:
                if r.get("operation", "*") not in ("*", operation):
                    continue
                if r.get("service") not in (None, service):
                    continue
                needle = r.get("body_contains")
                if needle is not None and needle.encode() not in urllib.parse.unquote_to_bytes(body or b""):
                    continue
                if r["left"] is not None:
                    if r["left"] <= 0:
                        continue
                    r["left"] -= 1
                return dict(r)
        return None

    def record(self, entry):
        """Logs a request as soon as it is received (a delayed one shows while it waits)."""
        with self.lock:
            if len(self.log) < MAX_LOG:
                self.log.append(entry)

    def update(self, entry, **fields):
        with self.lock:
            entry.update(fields)

    def snapshot_json(self):
        with self.lock:
            return json.dumps(self.log)


def service_of(headers):
    """The signing service from SigV4's credential scope (moto routes on it too)."""
    auth = headers.get("Authorization", "")
    marker = "Credential="
    i = auth.find(marker)
    if i >= 0:
        scope = auth[i + len(marker):].split(",", 1)[0].split("/")
        if len(scope) >= 5:
            return scope[3]
    target = headers.get("X-Amz-Target", "")
    if target.startswith("TrentService."):
        return "kms"
    if target.startswith("AWSOrganizationsV"):
        return "organizations"
    return "s3"


def operation_of(method, path, query, headers, body):
    """(service, operation) of a request, as AWS names the operation."""
    service = service_of(headers)
    if service == "securityhub":
        return service, SECURITYHUB_PATHS.get((method, path.rstrip("/") or "/"), f"{method} {path}")
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    ctype = headers.get("Content-Type", "")
    if service != "s3" and (method == "POST" and "x-www-form-urlencoded" in ctype or "Action" in query):
        form = query
        if method == "POST" and body:
            try:
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            except ValueError:
                form = {}
        action = (form.get("Action") or query.get("Action") or ["Unknown"])[0]
        return service, action
    return service, s3_operation(method, path, query, headers)


# S3 Control signs as s3 too; its paths start with the API version. Named apart from S3's
# operations of the same name (src/aws/operations.json).
S3_CONTROL = {
    ("GET", "configuration/publicAccessBlock"): "GetPublicAccessBlock (S3 Control)",
    ("PUT", "configuration/publicAccessBlock"): "PutPublicAccessBlock (S3 Control)",
}


def s3_operation(method, path, query, headers):
    if "x-id" in query:
        return query["x-id"][0]
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "v20180820":
        rest = "/".join(parts[1:])
        return S3_CONTROL.get((method, rest), f"{VERB.get(method, method.title())} S3 Control {rest}")
    verb = VERB.get(method, method.title())
    if not parts:
        return "ListBuckets" if method == "GET" else f"{verb}Service"
    if len(parts) == 1:
        for key, stem in S3_SUBRESOURCES.items():
            if key in query:
                if key == "delete" and method == "POST":
                    return "DeleteObjects"
                if key == "uploads":
                    return "ListMultipartUploads"
                return verb + stem
        return {
            "PUT": "CreateBucket",
            "DELETE": "DeleteBucket",
            "HEAD": "HeadBucket",
            "GET": "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects",
        }.get(method, verb + "Bucket")
    if "tagging" in query:
        return verb + "ObjectTagging"
    if "acl" in query:
        return verb + "ObjectAcl"
    if "uploads" in query and method == "POST":
        return "CreateMultipartUpload"
    if "uploadId" in query:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload",
                "GET": "ListParts"}.get(method, verb + "Part")
    if method == "PUT" and headers.get("x-amz-copy-source"):
        return "CopyObject"
    return verb + "Object"


# Request parameters that name the resource an IAM action is authorized on (tests/iam/check.py).
IAM_PARAMS = ("TopicArn", "RoleArn", "ExternalId", "KeyId", "QueueUrl", "TableName", "ProjectArn", "Name",
              "TargetId", "PolicyId", "ParentId")


def iam_fields(headers, query, body):
    """The signing access key id and the resource-naming parameters of a request."""
    auth = headers.get("Authorization", "")
    i = auth.find("Credential=")
    scope = auth[i + len("Credential="):].split(",", 1)[0].split("/") if i >= 0 else [None]
    params = {}
    text = (body or b"").decode("utf-8", "replace")
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = {}
        if isinstance(doc, dict):
            params = {k: v for k, v in doc.items() if k in IAM_PARAMS and isinstance(v, str)}
    elif text:
        form = urllib.parse.parse_qs(text, keep_blank_values=True)
        params = {k: v[0] for k, v in form.items() if k in IAM_PARAMS}
    for k in IAM_PARAMS:
        if k in query and k not in params:
            params[k] = query[k][0]
    return {"access_key": scope[0], "region": scope[2] if len(scope) > 2 else None, "params": params}


def is_write(service, operation, method):
    return (
        (service == "s3" and method in ("PUT", "POST", "DELETE"))
        or (service == "sns" and operation == "Publish")
        or (service == "securityhub" and operation in ("BatchImportFindings", "BatchUpdateFindings"))
    )


def failed_findings(request_body, response_body, count):
    """Security Hub's partial failure: HTTP 200, the first `count` findings rejected."""
    sent = json.loads(request_body or b"{}").get("Findings", [])
    answer = json.loads(response_body or b"{}")
    rejected = [
        {"Id": f.get("Id", ""), "ErrorCode": "InvalidInput", "ErrorMessage": "Finding rejected (injected by fault proxy)"}
        for f in sent[:count]
    ]
    answer["FailedFindings"] = rejected + [
        f for f in answer.get("FailedFindings", []) if f.get("Id") not in {r["Id"] for r in rejected}
    ]
    answer["FailedCount"] = len(answer["FailedFindings"])
    answer["SuccessCount"] = max(0, len(sent) - answer["FailedCount"])
    return json.dumps(answer).encode()


def fault_response(service, operation, fault, status_override):
    """(status, headers, body) for a fault, in the protocol of `service`."""
    request_id = str(uuid.uuid4())
    if service == "s3":
        status, code, message = S3_FAULTS[fault]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>fault-proxy</HostId></Error>"
        )
        headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
    elif service in ("kms", "organizations", "securityhub"):
        if fault == "throttle-429":
            status, code, message = JSON_THROTTLE[service]
        else:
            status, code, message = JSON_FAULTS[fault]
        body = json.dumps({"__type": code, "message": message})
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": code,
        }
    else:
        status, code, message = QUERY_FAULTS[fault]
        kind = "Sender" if status < 500 else "Receiver"
        xmlns = QUERY_XMLNS.get(service, "https://amazonaws.com/doc/")
        body = (
            f'<ErrorResponse xmlns="{xmlns}"><Error><Type>{kind}</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    return (status_override or status), headers, body.encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-proxy"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - quiet: stdout/stderr stay clean
        pass

    def setup(self):
        super().setup()
        # Idle keep-alive connections must not pin a thread forever.
        self.connection.settimeout(300)
        # The answer's head and body go out as two writes: without this, Nagle holds the body
        # until the client's delayed ACK of the head (40 ms a response).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self.dispatch()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # -- plumbing -------------------------------------------------------------------

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            for _ in range(1_000_000):
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers end with an empty line.
                    for _ in range(1000):
                        if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def send(self, status, headers, body, head=False):
        self.send_response_only(status)
        for k, v in headers:
            if k.lower() not in HOP_HEADERS and k.lower() not in ("date", "server"):
                self.send_header(k, v)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(body)) if not head else headers_length(headers, body))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)
        self.wfile.flush()

    def reset_connection(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def upstream(self, method, path, body, headers):
        """One request to the upstream emulator over this thread's keep-alive connection
        (opened on first use, reopened once if the emulator closed it while idle)."""
        up = self.server.upstream
        pool = self.server.pool
        for attempt in (0, 1):
            conn = getattr(pool, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
                pool.conn = conn
            try:
                out = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
                out["Host"] = up.netloc
                if body or method in ("PUT", "POST", "PATCH"):
                    out["Content-Length"] = str(len(body))
                conn.request(method, path, body=body if body else None, headers=out)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    conn.close()
                    pool.conn = None
                return resp.status, resp.getheaders(), data
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest, BrokenPipeError,
                    ConnectionResetError):
                conn.close()
                pool.conn = None
                if not reused or attempt:
                    raise
            except BaseException:
                conn.close()
                pool.conn = None
                raise
        raise OSError("unreachable")

    def forward(self, method, body):
        """The request as received, to the emulator: (status, headers, body)."""
        return self.upstream(method, self.path, body, dict(self.headers.items()))

    def s3(self, service, operation, method, body, entry):
        """What S3 answers: the fidelity layer's answer when it has one, else the emulator's."""
        fidelity = self.server.fidelity
        if fidelity is not None and service == "s3":
            split = urllib.parse.urlsplit(self.path)
            answer = fidelity.handle(
                operation, method, split.path, split.query, dict(self.headers.items()), body,
                lambda m, p, b, h: self.upstream(m, p, b, h),
            )
            if answer is not None:
                status, rheaders, data, behaviour = answer
                self.server.state.update(entry, fidelity=behaviour)
                return status, rheaders, data
        return self.forward(method, body)

    # -- the proxy ------------------------------------------------------------------

    def dispatch(self):
        t_in = time.monotonic()
        if self.client_address[0] not in LOOPBACK:
            self.reset_connection()
            return
        try:
            body = self.read_body()
        except (ValueError, OSError):
            # The rest of the body is unread: this connection cannot carry another request.
            self.close_connection = True
            self.send(400, [("Content-Type", "text/plain")], b"bad request body")
            return
        split = urllib.parse.urlsplit(self.path)
        if split.path.startswith("/__proxy/"):
            self.control(split.path, body)
            return
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        service, operation = operation_of(self.command, split.path, query, self.headers, body)
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": split.path,
            "query": split.query,
            "service": service,
            "operation": operation,
            "write": is_write(service, operation, self.command),
            "status": None,
            "fault": None,
            "fidelity": None,
            "t_in": t_in,
        }
        if operation == "PutBucketEncryption":
            # Whether a writer carried the bucket's blocked encryption types (DESIGN: SSE-C stays blocked).
            entry["blocked_encryption_types_sent"] = b"BlockedEncryptionTypes" in body
        if service != "s3" and body:
            # Which role an AssumeRole named, which queue a SendMessage used: tests count them.
            entry["body_excerpt"] = urllib.parse.unquote_plus(body[:600].decode("utf-8", "replace"))
        entry["iam"] = iam_fields(self.headers, query, body)
        state = self.server.state
        rule = state.take(service, operation, body)
        entry["fault"] = rule["fault"] if rule else None
        state.record(entry)
        head = self.command == "HEAD"
        try:
            if rule is None:
                status, rheaders, data = self.s3(service, operation, self.command, body, entry)
                if operation == "AssumeRole" and status == 200:
                    issued = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", data)
                    entry["iam"]["issued_access_key"] = issued.group(1).decode() if issued else None
                state.update(entry, status=status, t_out=time.monotonic())
                self.send(status, rheaders, data, head)
                return
            fault = rule["fault"]
            if fault == "reset":
                if rule.get("after_upstream"):
                    state.update(entry, upstream_status=self.s3(service, operation, self.command, body, entry)[0])
                self.reset_connection()
                return
            if fault == "failed-findings":
                status, rheaders, data = self.s3(service, operation, self.command, body, entry)
                if status == 200:
                    data = failed_findings(body, data, int(rule.get("count", 1)))
                state.update(entry, status=status)
                self.send(status, rheaders, data, head)
                return
            if fault == "delay":
                time.sleep(rule["delay_seconds"])
                status, rheaders, data = self.s3(service, operation, self.command, body, entry)
                state.update(entry, status=status)
                self.send(status, rheaders, data, head)
                return
            if rule.get("after_upstream"):
                state.update(entry, upstream_status=self.s3(service, operation, self.command, body, entry)[0])
            status, fheaders, data = fault_response(service, operation, fault, rule.get("status"))
            state.update(entry, status=status)
            self.send(status, list(fheaders.items()), data, head)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            # The client gave up (its timeout): nothing left to answer.
            self.close_connection = True
        except (OSError, http.client.HTTPException) as e:
            state.update(entry, status=502, error=str(e))
            try:
                self.send(502, [("Content-Type", "text/plain")], f"upstream error: {e}".encode())
            except OSError:
                self.close_connection = True

    def control(self, path, body):
        state = self.server.state
        try:
            if path == "/__proxy/rules" and self.command == "POST":
                rules = json.loads(body or b"[]")
                if isinstance(rules, dict):
                    rules = [rules]
                state.set_rules(rules)
                out = {"rules": len(rules)}
            elif path == "/__proxy/reset" and self.command == "POST":
                state.reset()
                if self.server.fidelity is not None:
                    self.server.fidelity.reset()
                out = {"reset": True}
            elif path == "/__proxy/log" and self.command == "GET":
                self.send(200, [("Content-Type", "application/json")], state.snapshot_json().encode())
                return
            else:
                self.send(404, [("Content-Type", "text/plain")], b"no such control endpoint")
                return
        except (ValueError, TypeError) as e:
            self.send(400, [("Content-Type", "text/plain")], str(e).encode())
            return
        self.send(200, [("Content-Type", "application/json")], json.dumps(out).encode())


def headers_length(headers, body):
    for k, v in headers:
        if k.lower() == "content-length":
            return v
    return str(len(body))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # A client that drops its keep-alive connection is not an error worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def loopback_upstream(text, prog):
    """The --upstream URL, which must be plain HTTP on loopback (else exit with why)."""
    upstream = urllib.parse.urlsplit(text)
    if upstream.scheme != "http" or upstream.hostname not in LOOPBACK or not upstream.port:
        sys.exit(f"{prog}: --upstream must be http://127.0.0.1:PORT (loopback only)")
    return upstream


def exit_when_stdin_closes():
    """Blocks until EOF (the parent closed its end or died), then ends the process."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the emulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    ap.add_argument("--fidelity", action="store_true",
                    help="answer S3 requests as S3 does where moto does not (tests/s3_fidelity.py)")
    args = ap.parse_args()
    upstream = loopback_upstream(args.upstream, "fault_proxy")

    server = Server(("127.0.0.1", args.port), Handler)
    server.upstream = upstream
    server.state = State()
    server.pool = threading.local()
    server.fidelity = s3_fidelity.Fidelity() if args.fidelity else None

    def lifetime():
        time.sleep(args.max_seconds)
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    threading.Thread(target=lifetime, daemon=True).start()
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
