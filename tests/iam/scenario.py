"""The end-to-end scenario `make iam` records: every request rekognition-guard sends, through
tests/fault_proxy.py in front of moto_server, with the step (the test) that sent it.

Steps (each one run of the built binary, as Lambda or the CLI runs it):
- account scope: every sample in events/ (each trigger, drift, the scheduled sweep), an opt-out
  drift on an OU, and the CLI's `scan`, `scan --bucket`, `scan --dry-run` and `opt-out`;
- organization scope: an SQS batch forwarded from member accounts (creates, drift, DeleteBucket),
  the scheduled sweep's planner, its work items as the queue delivers them, and `scan --org`.

Seeding goes to moto directly (never through the proxy), so the log holds only the function's own
requests. The function signs with the access key `testing` (its role); member credentials come
from AssumeRole answers, which the proxy logs with the access key they issued.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local  # noqa: E402
import org_demo  # noqa: E402

GUARD_ACCOUNT = local.ACCOUNT
OTHER_REGION = "eu-west-1"
MEMBER_ROLE = "RekognitionGuardMember"
EXTERNAL_ID = "rekognition-guard-iam-check"
FUNCTION_ACCESS_KEY = local.CREDS["AWS_ACCESS_KEY_ID"]
# The template parameters the scenario deploys with: the function's GUARD_* settings below follow
# them, and tests/iam/check.py resolves template.yaml and deploy/member-role.yaml with them.
PARAMETERS = {
    "BucketPrefixes": "acme-rekognition-",
    "RekognitionOutputBucketPatterns": "acme-liveness-*",
    "SecurityHubFindings": "true",
    "MemberRoleName": MEMBER_ROLE,
    "MemberExternalId": EXTERNAL_ID,
}


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fault_proxy.py"), "--upstream", upstream],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"fault_proxy.py did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"

    def _call(self, method: str, path: str) -> Any:
        req = urllib.request.Request(self.endpoint + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def take_log(self) -> list[dict[str, Any]]:
        log = self._call("GET", "/__proxy/log")
        self._call("POST", "/__proxy/reset")
        return log

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Recorder:
    def __init__(self, binary: str, moto: str, proxy: Proxy) -> None:
        self.binary, self.moto, self.proxy = binary, moto, proxy
        self.steps: list[dict[str, Any]] = []

    def run(self, name: str, scope: str, args: list[str], env: dict[str, str], event: Any = None) -> dict[str, Any]:
        path = None
        if event is not None:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(event, f)
            path = f.name
            args = [*args, "--event", path]
        try:
            proc = subprocess.run([self.binary, *args], env=env, text=True, capture_output=True, timeout=300)
        finally:
            if path:
                os.unlink(path)
        step = {"name": name, "scope": scope, "argv": ["rekognition-guard", *args[:1], *[a for a in args[1:] if a != path]],
                "exit": proc.returncode, "stdout": proc.stdout, "stderr_tail": proc.stderr[-2000:],
                "requests": self.proxy.take_log()}
        self.steps.append(step)
        return step


def guard_env(endpoint: str, stand_ins: dict[str, str], **more: str) -> dict[str, str]:
    return local.env_for(endpoint, GUARD_BUCKET_PREFIXES=PARAMETERS["BucketPrefixes"],
                         GUARD_OUTPUT_BUCKET_PATTERNS=PARAMETERS["RekognitionOutputBucketPatterns"],
                         GUARD_SECURITY_HUB="on", **stand_ins, **more)


def account_scope(rec: Recorder, moto: str, stand_ins: dict[str, str]) -> None:
    env = guard_env(rec.proxy.endpoint, stand_ins)
    for sample in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(sample.read_text())
        if local._is_sqs_batch(event):
            continue  # organization scope, below
        event = local.seed_for_event(moto, event)
        rec.run(f"events/{sample.name}", "account", ["invoke"], env, event)
    for name, event in hidden_variants(ROOT, GUARD_ACCOUNT, local.REGION):
        rec.run(name, "account", ["invoke"], env, event)  # the read-back is the point, not the buckets
    bucket = "custom-labels-console-us-east-1-iamcheck"
    local.console_bucket(moto, bucket)
    local.plain_bucket(moto, "acme-rekognition-iam-sweep", OTHER_REGION)
    rec.run("cli: scan", "account", ["scan"], env)
    rec.run("cli: scan --bucket", "account", ["scan", "--bucket", bucket], env)
    rec.run("cli: scan --dry-run", "account", ["scan", "--dry-run"], env)
    rec.run("cli: opt-out", "account", ["opt-out"], env)


HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def hidden_variants(root: Path, account: str, region: str) -> list[tuple[str, dict[str, Any]]]:
    """Records whose fields CloudTrail hid or left out: the function reads them back
    (DescribeStreamProcessor, DescribeProjectVersions, GetMediaAnalysisJob)."""
    def load(name: str) -> dict[str, Any]:
        text = (root / "events" / name).read_text().replace(GUARD_ACCOUNT, account).replace("us-east-1", region)
        return json.loads(text)
    sp = load("create-stream-processor.json")
    sp["detail"]["requestParameters"].pop("dataSharingPreference", None)
    pv = load("create-project-version.json")
    pv["detail"]["requestParameters"]["outputConfig"] = HIDDEN
    job = load("start-media-analysis-job.json")
    job["detail"]["requestParameters"]["outputConfig"] = HIDDEN
    return [("stream processor without DataSharingPreference (read back)", sp),
            ("project version with a hidden OutputConfig (read back)", pv),
            ("media analysis job with a hidden OutputConfig (read back)", job)]


def ou_opt_out_drift(rec: Recorder, moto: str, env: dict[str, str], scope: str) -> None:
    """An opt-out policy detached from an OU: every account below it is evaluated again."""
    org = local.client(moto, "organizations")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name=f"ml-{scope}")["OrganizationalUnit"]["Id"]
    org.create_organizational_unit(ParentId=ou, Name=f"ml-{scope}-nested")
    policies = org.list_policies(Filter="AISERVICES_OPT_OUT_POLICY")["Policies"]
    event = json.loads((ROOT / "events" / "drift-detach-opt-out-policy.json").read_text())
    event["detail"]["requestParameters"].update(targetId=ou, policyId=policies[0]["Id"])
    rec.run(f"opt-out drift on an OU ({scope} scope)", scope, ["invoke"], env, event)


def organization_scope(rec: Recorder, moto: str, stand_ins: dict[str, str]) -> dict[str, Any]:
    org_client = local.client(moto, "organizations")  # the organization exists (account scope made it)
    members = [org_client.create_account(Email=f"{n}@example.com", AccountName=n)["CreateAccountStatus"]["AccountId"]
               for n in ("ml-team-a", "ml-team-b", "sandbox-c")]
    a, b = members[0], members[1]
    org_id = local.client(moto, "organizations").describe_organization()["Organization"]["Id"]
    sqs = local.client(moto, "sqs")
    queue = sqs.create_queue(QueueName="rekognition-guard-work")["QueueUrl"]
    for account in members:
        hub = local.client(moto, "securityhub", account=account)
        with contextlib.suppress(Exception):
            hub.enable_security_hub()
    console_a = "custom-labels-console-us-east-1-membera"
    org_demo.make_bucket(moto, a, console_a, console=True)
    org_demo.make_bucket(moto, b, "acme-rekognition-output-memberb", OTHER_REGION)
    for account in members:
        for region in (local.REGION, OTHER_REGION):
            org_demo.make_bucket(moto, account, f"acme-rekognition-{account[-4:]}-{region}", region)
    env = guard_env(rec.proxy.endpoint, stand_ins, GUARD_SCOPE="organization", GUARD_MEMBER_ROLE_NAME=MEMBER_ROLE,
                    GUARD_MEMBER_EXTERNAL_ID=EXTERNAL_ID, GUARD_WORK_QUEUE_URL=queue,
                    GUARD_REGIONS=f"{local.REGION},{OTHER_REGION}")

    def fwd(sample: str, account: str, region: str, **params: Any) -> dict[str, Any]:
        return org_demo.forwarded(str(ROOT / "events" / sample), account, region, **params)

    member_key = local.symmetric_key(moto, region=OTHER_REGION, account=b)
    drift = fwd("drift-put-bucket-policy.json", a, local.REGION, bucketName=console_a)
    batch = {"Records": [org_demo.record(i, body) for i, body in enumerate([
        fwd("create-bucket-console.json", a, local.REGION, bucketName=console_a),
        fwd("create-project-version-no-kms.json", b, OTHER_REGION, outputConfig={"s3Bucket": "acme-rekognition-output-memberb"}),
        fwd("create-stream-processor.json", b, local.REGION),
        drift,
        fwd("drift-schedule-key-deletion.json", a, local.REGION),
        fwd("delete-bucket.json", a, local.REGION, bucketName="acme-rekognition-gone-membera"),
        fwd("create-project-version.json", b, OTHER_REGION, kmsKeyId=member_key,
            outputConfig={"s3Bucket": "acme-rekognition-output-memberb"}),
        *[event for _, event in hidden_variants(ROOT, b, OTHER_REGION)],
    ], start=1)]}
    rec.run("organization: SQS batch forwarded from members (creates, drift, DeleteBucket)", "organization",
            ["invoke"], env, batch)
    scheduled = json.loads((ROOT / "events" / "scheduled-scan.json").read_text())
    rec.run("organization: scheduled sweep (planner)", "organization", ["invoke"], env, scheduled)
    items = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            break
        items += got
        sqs.delete_message_batch(QueueUrl=queue, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    for start in range(0, len(items), 10):
        records = [org_demo.record(start + i, json.loads(m["Body"])) for i, m in enumerate(items[start:start + 10])]
        rec.run(f"organization: sweep work items {start + 1}-{start + len(records)}", "organization",
                ["invoke"], env, {"Records": records})
    rec.run("cli: scan --org", "organization", ["scan", "--org"], env)
    ou_opt_out_drift(rec, moto, env, "organization")
    return {"organization_id": org_id, "members": members, "work_queue": queue, "sweep_items": len(items)}


def key_aliases(moto: str, accounts: list[str]) -> dict[str, str]:
    """alias ARN and `alias/name` (per account and Region) -> key ARN, for DescribeKey on an alias."""
    out = {}
    for account in accounts:
        for region in (local.REGION, OTHER_REGION):
            kms = local.client(moto, "kms", region, account)
            for alias in kms.list_aliases()["Aliases"]:
                if "TargetKeyId" in alias:
                    key = f"arn:aws:kms:{region}:{account}:key/{alias['TargetKeyId']}"
                    out[alias["AliasArn"]] = key
                    out[f"{account}/{region}/{alias['AliasName']}"] = key
    return out


def record(binary: str) -> dict[str, Any]:
    """Runs the whole scenario; returns the recording (steps with their requests)."""
    started = time.monotonic()
    with local.emulator() as moto:
        proxy = Proxy(moto)
        try:
            rec = Recorder(binary, moto, proxy)
            local.opted_out_organization(moto)
            stand_ins, _queue = local.stack_stand_ins(moto)
            local.security_hub(moto)
            account_scope(rec, moto, stand_ins)
            org = organization_scope(rec, moto, stand_ins)
            aliases = key_aliases(moto, [GUARD_ACCOUNT, *org["members"]])
        finally:
            proxy.close()
    stand_in_arns = {  # what template.yaml's Ref/GetAtt of its own resources stand for here
        "<ref:AlertTopic>": stand_ins["GUARD_ALERT_TOPIC_ARN"],
        "<StateTable.Arn>": f"arn:aws:dynamodb:{local.REGION}:{GUARD_ACCOUNT}:table/{stand_ins['GUARD_STATE_TABLE']}",
        "<WorkQueue.Arn>": f"arn:aws:sqs:{local.REGION}:{GUARD_ACCOUNT}:{org['work_queue'].rsplit('/', 1)[-1]}",
        "<RemediationKey.Arn>": stand_ins["GUARD_KMS_KEY_ID"],
    }
    return {"guard_account": GUARD_ACCOUNT, "function_access_key": FUNCTION_ACCESS_KEY, "parameters": PARAMETERS,
            "stand_ins": stand_in_arns,
            "organization": org, "key_aliases": aliases, "steps": rec.steps,
            "seconds": round(time.monotonic() - started, 1)}
