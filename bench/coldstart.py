"""Cold start in Lambda mode (issue 16): the binary with AWS_LAMBDA_RUNTIME_API pointing at a
minimal Runtime API on loopback (the same exchange as tests/lambda.rs). Measured per run:

  init        process spawn -> the first `GET /2018-06-01/runtime/invocation/next` (what Lambda
              reports as Init Duration and bills on its own since 2025)
  invocation  the event handed over -> `POST .../response` (or `/error`): the first
              invocation's duration, the bucket's work included

The process is killed once it asks for the next event.
"""

import http.server
import json
import statistics
import subprocess
import threading
import time

NEXT = "/2018-06-01/runtime/invocation/next"


class RuntimeApi:
    """Serves `event` once, records when the first next, the answer and the second next came."""

    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.times = {}
        self.done = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                now = time.perf_counter()
                if self.path != NEXT:
                    self.send_error(404)
                    return
                if "next" in api.times:
                    api.times.setdefault("next2", now)
                    api.done.set()
                    time.sleep(30)  # parked, as Lambda freezes it; the process is killed
                    return
                api.times["next"] = now
                deadline = int((time.time() + 900) * 1000)
                self.send_response(200)
                for k, v in (("Content-Type", "application/json"), ("Lambda-Runtime-Aws-Request-Id", "bench-1"),
                             ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                             ("Lambda-Runtime-Invoked-Function-Arn",
                              "arn:aws:lambda:us-east-1:123456789012:function:rekognition-guard"),
                             ("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
                             ("Content-Length", str(len(api.event)))):
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(api.event)
                self.wfile.flush()
                api.times["sent"] = time.perf_counter()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.times.setdefault("posted", time.perf_counter())
                api.times["kind"] = self.path.rsplit("/", 1)[-1]
                api.times["body"] = body[:300].decode("utf-8", "replace")
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def lambda_env(base_env, address):
    env = dict(base_env)
    env.update(AWS_LAMBDA_RUNTIME_API=address, AWS_LAMBDA_FUNCTION_NAME="rekognition-guard",
               AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
               AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/rekognition-guard",
               AWS_LAMBDA_LOG_STREAM_NAME="2026/12/01/[$LATEST]bench", AWS_LAMBDA_LOG_FORMAT="JSON")
    return env


def one(binary, event, env, timeout=60):
    """{init, invocation, kind} of one cold start (seconds)."""
    api = RuntimeApi(event)
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen([binary], env=lambda_env(env, api.address), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finished = api.done.wait(timeout)
        proc.kill()
        proc.wait(10)
        t = api.times
        if not finished or "posted" not in t:
            return {"init": None, "invocation": None, "kind": "timeout"}
        return {"init": t["next"] - t0, "invocation": t["posted"] - t["sent"], "kind": t["kind"]}
    finally:
        api.close()


def measure(binary, event, env_for_run, reps=20):
    """env_for_run() reseeds the world and returns the environment of one run."""
    runs = [one(binary, event, env_for_run()) for _ in range(reps)]
    ok = [r for r in runs if r["init"] is not None]
    if not ok:
        return {"runs": 0, "kinds": [r["kind"] for r in runs]}
    return {"runs": len(ok), "init_median": statistics.median(r["init"] for r in ok),
            "init_min": min(r["init"] for r in ok), "init_max": max(r["init"] for r in ok),
            "invocation_median": statistics.median(r["invocation"] for r in ok),
            "invocation_min": min(r["invocation"] for r in ok), "invocation_max": max(r["invocation"] for r in ok),
            "kinds": sorted({r["kind"] for r in ok})}

