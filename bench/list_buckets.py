"""`python3 bench/list_buckets.py`: the requests one sweep (`rekognition-guard scan`) sends to
find its buckets' Regions, both ways: S3's ListBuckets with `Prefix` and `BucketRegion` (as AWS
answers it: bench/latency_proxy.py --bucket-region adds the Regions moto leaves out) and the
fallback, one GetBucketLocation per bucket (moto's answer as it is). Counted at the proxy.
Build first (`cargo build`; BIN= another binary). Part of `make bench`.
"""
import json, os, subprocess, sys, urllib.request
from collections import Counter
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import local  # noqa: E402

BIN = os.environ.get("BIN", str(ROOT / "target/debug/rekognition-guard"))
BUCKETS = int(os.environ.get("BENCH_LIST_BUCKETS", "40"))


def sweep(endpoint, bucket_region):
    proxy = subprocess.Popen(
        [sys.executable, str(ROOT / "bench/latency_proxy.py"), "--upstream", endpoint, "--latency-ms", "0"]
        + (["--bucket-region"] if bucket_region else []),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = proxy.stdout.readline().split()[1]
        url = f"http://127.0.0.1:{port}"
        env = local.env_for(url, GUARD_BUCKET_PREFIXES="bench-lb-", GUARD_MODE="audit")
        out = subprocess.run([BIN, "scan", "--format", "json"], env=env, capture_output=True, text=True)
        report = json.loads(out.stdout)
        swept = sum(1 for r in report["resources"] if r["type"] == "s3-bucket")
        log = json.load(urllib.request.urlopen(f"{url}/__proxy/log"))
        ops = Counter(e["operation"] for e in log)
        return swept, len(log), ops
    finally:
        proxy.stdin.close()
        proxy.wait(10)


with local.emulator() as ep:
    for i in range(BUCKETS):
        local.plain_bucket(ep, f"bench-lb-{i:03d}", region="us-east-1" if i % 2 else "eu-west-1")
    print(f"| sweep of {BUCKETS} buckets (2 Regions) | buckets swept | requests | ListBuckets | GetBucketLocation |")
    print("|---|---:|---:|---:|---:|")
    for label, flag in (("ListBuckets with BucketRegion (AWS)", True), ("fallback: GetBucketLocation (moto)", False)):
        swept, total, ops = sweep(ep, flag)
        print(f"| {label} | {swept} | {total} | {ops['ListBuckets']} | {ops['GetBucketLocation']} |")
