"""Objects already in a bucket (issue 26): one bucket seeded with N objects (most under SSE-S3,
a tenth under a customer KMS key), counted by

  rekognition-guard   `objects --bucket B --format json` (ListObjectsV2 + one HeadObject per
                      object, GUARD_SCAN_CONCURRENCY at once)
  cloud-custodian     `custodian run` with one policy: resource aws.s3, the bucket by name, the
                      `encrypt-keys` action with `report-only: true` (its scan: it lists the
                      bucket and reads every object's encryption, changes nothing)

Both only read, so the bucket is seeded once and every run sees the same objects. Requests are
counted from moto's access log between two marks; wall time is spawn to exit.
"""

import json
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import seed

BUCKET = "custom-labels-console-objects-bench"
KEYED_EVERY = 10  # every tenth object is under the customer key


def seed_objects(endpoint, n, threads=16):
    """The bucket, its objects (1 byte each), and the key's ARN."""
    s3 = seed.client(endpoint, "s3")
    key_arn = seed.client(endpoint, "kms").create_key(Description="objects bench")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=BUCKET)

    def put(i):
        extra = ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn} if i % KEYED_EVERY == 0
                 else {"ServerSideEncryption": "AES256"})
        s3.put_object(Bucket=BUCKET, Key=f"training/images/{i:06d}.jpg", Body=b"x", **extra)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(n)))
    keyed = len(range(0, n, KEYED_EVERY))
    return key_arn, {"sse-s3": n - keyed, "sse-kms": keyed}


def custodian_policy(workdir, key_arn):
    policy = {"policies": [{
        "name": "rekognition-objects",
        "resource": "aws.s3",
        "filters": [{"type": "value", "key": "Name", "op": "eq", "value": BUCKET}],
        "actions": [{"type": "encrypt-keys", "report-only": True, "crypto": "aws:kms", "key-id": key_arn}],
    }]}
    path = Path(workdir) / "objects-policy.yml"
    path.write_text(json.dumps(policy, indent=2))  # JSON is YAML
    return path


def command(tool, binary, workdir, key_arn):
    if tool == "rekognition-guard":
        return [binary, "objects", "--bucket", BUCKET, "--format", "json"], {"GUARD_SCAN_CONCURRENCY": "16"}
    if tool == "cloud-custodian":
        out = Path(workdir) / "c7n-objects-out"
        return [sys.executable, "-m", "c7n.cli", "run", "-s", str(out), "--cache-period", "0",
                "--region", seed.REGION, str(custodian_policy(workdir, key_arn))], {}
    raise ValueError(tool)


def counted_right(tool, stdout, expected):
    """Whether the tool's answer matches the seed (rekognition-guard's census; Custodian's
    report-only scan prints no counts, so its run is judged by its exit code only)."""
    if tool != "rekognition-guard":
        return None
    try:
        census = json.loads(stdout)
    except ValueError:
        return False
    got = {r["encryption"]: r["objects"] for r in census.get("by_encryption", [])}
    return got == expected and census.get("sampled") is False


def measure(moto, n, binary, workdir, repeat, run_process, tool_env, log):
    moto.reset()
    log(f"objects: seeding {n} objects")
    key_arn, expected = seed_objects(moto.endpoint, n)
    out = {"objects": n, "expected": expected, "tools": {}}
    for tool, reps in repeat.items():
        runs = []
        for i in range(reps):
            log(f"objects, {n} objects: {tool} (run {i + 1}/{reps})")
            argv, extra = command(tool, binary, workdir, key_arn)
            start = moto.mark()
            res = run_process(argv, tool_env(moto.endpoint, **extra))
            end = moto.mark()
            window = moto.window(start, end)
            runs.append({"wall": res["wall"], "rss_mb": res["rss_mb"], "rc": res["rc"],
                         "timed_out": res["timed_out"], "requests": len(window),
                         "operations": dict(window.operations()), "writes": window.writes(),
                         "right": counted_right(tool, res["stdout"], expected),
                         "stderr_tail": res["stderr"][-400:] if res["rc"] else ""})
        ok = [r for r in runs if not r["timed_out"]]
        if not ok:
            out["tools"][tool] = {"timed_out": True, "runs": len(runs)}
            continue
        mid = sorted(ok, key=lambda r: r["wall"])[len(ok) // 2]
        out["tools"][tool] = {
            "timed_out": False, "runs": len(ok), "wall": statistics.median(r["wall"] for r in ok),
            "wall_min": min(r["wall"] for r in ok), "rss_mb": statistics.median(r["rss_mb"] for r in ok),
            "requests": mid["requests"], "operations": mid["operations"], "writes": mid["writes"],
            "rc": sorted(r["rc"] for r in ok), "right": mid["right"], "stderr_tail": mid["stderr_tail"],
        }
    return out


def render(o, ceiling):
    n = o["objects"]
    lines = [
        f"**Objects in one bucket** ({n:,} objects: {o['expected']['sse-s3']:,} under SSE-S3, "
        f"{o['expected']['sse-kms']:,} under a customer KMS key; read-only, seeded once): "
        "`rekognition-guard objects` (ListObjectsV2 + HeadObject, 16 at once) and Cloud Custodian's "
        "`encrypt-keys` with `report-only: true` (its scan), on the same bucket in the same run.",
        "",
        "| tool | wall s, median (min) | peak RSS MB | requests | per object | S3 writes | counts right | ÷ emulator ceiling |",
        "|---|--:|--:|--:|--:|--:|---|--:|",
    ]
    for tool, t in o["tools"].items():
        if t.get("timed_out"):
            lines.append(f"| {tool} | timed out | | | | | | |")
            continue
        right = {True: "yes", False: "**no**", None: "— (prints no counts)"}[t["right"]]
        ideal = t["requests"] / ceiling if ceiling else float("nan")
        lines.append(f"| {tool} | {t['wall']:.2f} ({t['wall_min']:.2f}) | {t['rss_mb']:.1f} | {t['requests']:,} | "
                     f"{t['requests'] / n:.2f} | {t['writes']} | {right} | {t['wall'] / ideal:.2f} |")
    lines.append("")
    for tool, t in o["tools"].items():
        if not t.get("timed_out"):
            ops = ", ".join(f"{k} {v:,}" for k, v in sorted(t["operations"].items(), key=lambda kv: -kv[1]))
            lines.append(f"{tool}, requests by operation: {ops}.")
            lines.append("")
    return lines
