"""AWS-like latency for the benchmark (issue 16): bench/latency_proxy.py in front of moto (every
request a round trip of at least `latency_ms`, optionally plus jitter, many in flight; with
`hold`, held that long before moto serves it), and what its timestamps say.

- critical path: the depth of a run's request graph, i.e. the longest chain of requests each of
  which was sent only after the previous one was answered (the sequential round trips);
- in flight: the average number of requests outstanding while the run had any outstanding
  (the sum of the requests' durations over the union of their intervals).
"""

import contextlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROXY = ROOT / "bench" / "latency_proxy.py"


class LatencyProxy:
    def __init__(self, upstream, latency_ms=25.0, jitter_ms=0.0, hold=False):
        self.latency_ms, self.jitter_ms = latency_ms, jitter_ms
        self.proc = subprocess.Popen(
            [sys.executable, str(PROXY), "--upstream", upstream, "--latency-ms", str(latency_ms),
             "--jitter-ms", str(jitter_ms), "--max-seconds", "14400", *(["--hold"] if hold else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            raise SystemExit(f"bench: the latency proxy did not start: {line!r}")
        self.port = int(line.split()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _control(self, method, path):
        req = urllib.request.Request(f"{self.endpoint}/__proxy/{path}", method=method,
                                     data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def clear(self):
        self._control("POST", "reset")

    def log(self):
        return [e for e in self._control("GET", "log") if e.get("t_out") is not None]

    def close(self):
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def critical_path(entries):
    """(depth, chain): the longest chain of requests where each one was received after the
    previous one was answered; chain is its operations in order."""
    reqs = sorted(entries, key=lambda e: e["t_in"])
    best = []  # per request: (depth, index of predecessor)
    for i, e in enumerate(reqs):
        d, prev = 1, None
        for j in range(i):
            if reqs[j]["t_out"] <= e["t_in"] and best[j][0] + 1 > d:
                d, prev = best[j][0] + 1, j
        best.append((d, prev))
    if not reqs:
        return 0, []
    i = max(range(len(reqs)), key=lambda k: best[k][0])
    chain = []
    while i is not None:
        chain.append(f"{reqs[i]['service']}:{reqs[i]['operation']}")
        i = best[i][1]
    return len(chain), chain[::-1]


def in_flight(entries):
    """Average requests outstanding over the time any was outstanding."""
    spans = sorted((e["t_in"], e["t_out"]) for e in entries)
    if not spans:
        return 0.0
    busy, cur_start, cur_end = 0.0, *spans[0]
    for start, end in spans[1:]:
        if start > cur_end:
            busy += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    busy += cur_end - cur_start
    return sum(end - start for start, end in spans) / busy if busy else 0.0
