"""`python3 bench/requests.py`: AWS requests and S3 writes per CreateBucket invocation,
read from the function's own `invocation summary` log line (a fresh process each time:
STS, KMS and Organizations included). Build first: `cargo build`.
"""
import json, os, re, subprocess, sys, tempfile
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import local
BIN = os.environ.get("BIN", str(ROOT / "target/debug/rekognition-guard"))
def summary(env, event):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(event, f)
    try:
        err = subprocess.run([BIN, "-v", "invoke", "--event", f.name], env=env, capture_output=True, text=True).stderr
    finally:
        os.unlink(f.name)
    line = [l for l in err.splitlines() if "invocation summary" in l][0]
    return {k: re.search(k + r"=(\d+)", line).group(1) for k in ("aws_requests", "s3_writes")}
with local.emulator() as ep:
    key = local.symmetric_key(ep, alias="alias/guard")
    env = local.env_for(ep, GUARD_KMS_KEY_ID="alias/guard")
    ev = json.load(open(ROOT / "events/create-bucket-console.json"))
    for kind, make in (("console-defaults", local.console_bucket), ("bare", local.plain_bucket)):
        name = f"custom-labels-console-us-east-1-count-{kind}"
        make(ep, name)
        ev["detail"]["requestParameters"]["bucketName"] = name
        print(kind, "first run:", summary(env, ev), "| rerun (compliant):", summary(env, ev))
