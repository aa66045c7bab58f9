"""Every sample in events/ through `sam local invoke`: the built function in a Lambda base image,
run by AWS's own Runtime Interface Emulator (shipped inside SAM CLI), against moto.

For each sample the emulator is emptied and seeded twice the same way (scripts/local.py, as for
`make invoke`): once for `rekognition-guard invoke`, once for SAM. The two must agree on every
control's status, on failure (an invocation error under SAM is exit code 1 on the CLI), on the
alert, and on the state of every bucket read back from moto; and that state must show what the
report claims (a remediated control's fix is in place, a bucket with nothing remediated is as it
was seeded).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local  # noqa: E402  (seeds what an event names, as for `make invoke`)
import sam_local  # noqa: E402

import cfn  # noqa: E402  (tests/deploy, on the path sam_local sets)

EVENTS = sorted((ROOT / "events").glob("*.json"))

ALL_FLAGS = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}


def template_variables() -> dict[str, Any]:
    """The function's variables as template.yaml sets them with its default parameters (as SAM
    resolves them), less the unset ones (AWS::NoValue). A value naming one of the stack's own
    resources is a placeholder in angle brackets."""
    template = cfn.load_template()
    function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function")
    resolved = cfn.Resolver(template).resolve(function["Properties"]["Environment"]["Variables"])
    return {k: v for k, v in resolved.items() if v is not cfn.NO_VALUE}


def names_a_resource(value: Any) -> bool:
    return str(value).startswith("<")


def template_settings() -> dict[str, str]:
    """What the CLI run gets from the template: every variable but those naming the stack's own
    resources, which the emulator stands in for (local.stack_stand_ins)."""
    return {k: v for k, v in template_variables().items() if not names_a_resource(v)}


class Run:
    """One run of a sample: the report, whether it failed, the buckets and the alert read back."""

    def __init__(self, endpoint: str, event: dict, region: str, report: Any, failed: bool) -> None:
        self.report = report
        self.failed = failed
        # Keys get new ids in each run; name them by creation order instead.
        self.keys = []
        self.buckets = buckets(endpoint, event)
        for account in accounts(event):
            for r in sorted({region, local.REGION, *(s.region for s in local.buckets_for_event(event))}):
                kms = local.client(endpoint, "kms", r, account)
                self.keys += [k["KeyArn"] for k in kms.list_keys()["Keys"]]
        self.alerts = []  # (subject, the report the alert carries)
        sqs = local.client(endpoint, "sqs", region)
        for url in sqs.list_queues().get("QueueUrls", []):
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
                envelope = json.loads(m["Body"])
                _, _, carried = envelope.get("Message", "").partition("\n--- report (JSON) ---\n")
                self.alerts.append((envelope.get("Subject"), json.loads(carried) if carried else None))
        if self.report is None and len(self.alerts) == 1:
            # A failed invocation's response is only an error; its report is in the log and the
            # alert. SAM with podman can lose the log of a short invocation, so take the alert's.
            self.report = self.alerts[0][1]

    def normal(self, value: Any) -> Any:
        text = json.dumps(value, sort_keys=True)
        for i, arn in enumerate(self.keys):
            text = text.replace(arn, f"<key {i}>").replace(arn.rsplit("/", 1)[-1], f"<key id {i}>")
        return json.loads(text)

    def reports(self) -> list[dict]:
        """The reports this run gave: one, or one per record of an SQS batch (the CLI prints
        them; through SAM a batch's response is only its `batchItemFailures`, so each record's
        report is the one its alert carries)."""
        if "batchItemFailures" not in self.report:
            return [self.report]
        if "reports" in self.report:
            return [r for r in self.report["reports"] if r["alert"].get("published")]
        return [carried for _, carried in self.alerts if carried]

    def statuses(self) -> dict[str, str]:
        return self.normal({f"{r['type']} {r['id']} {c['control']}": c["status"]
                            for report in self.reports()
                            for r in report["resources"] for c in r["controls"]})

    def kind(self) -> list[str]:
        return sorted(r["trigger"]["kind"] for r in self.reports())


def accounts(event: dict) -> list[str]:
    """The stack's account and every account the event names a bucket in."""
    return sorted({local.ACCOUNT, *(s.account for s in local.buckets_for_event(event))})


def buckets(endpoint: str, event: dict) -> dict[str, dict]:
    """Every bucket in the accounts `event` concerns, by name, as the emulator has it."""
    found = {}
    for account in accounts(event):
        s3 = local.client(endpoint, "s3", account=account)
        found |= {b["Name"]: local.read_bucket(s3, b["Name"]) for b in s3.list_buckets()["Buckets"]}
    return found


def reset(endpoint: str) -> None:
    """Empties the emulator, so that each run starts from the state its seeding makes."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).read()


def prepare(endpoint: str, sample: Path) -> tuple[dict, str, dict[str, str], dict[str, dict]]:
    """Empties and seeds the emulator for `sample`: the event (keys replaced by the emulator's),
    the region of the stack that gets it, the settings the run gets beyond the template's, and
    every bucket's state before the run."""
    reset(endpoint)
    event = local.seed_for_event(endpoint, json.loads(sample.read_text()))
    region = local.stack_region(event)
    stand_ins, _queue = local.stack_stand_ins(endpoint, region)
    return event, region, {**stand_ins, **local.settings_for_event(event)}, buckets(endpoint, event)


def run_cli(binary: Path, endpoint: str, sample: Path, tmp_path: Path) -> Run:
    event, region, settings, _ = prepare(endpoint, sample)
    path = tmp_path / sample.name
    path.write_text(json.dumps(event))
    env = local.env_for(endpoint, region, **{**template_settings(), **settings})
    proc = subprocess.run([str(binary), "invoke", "--event", str(path), "--format", "json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1, 3), f"rekognition-guard invoke exited {proc.returncode}: {proc.stderr}"
    return Run(endpoint, event, region, json.loads(proc.stdout), proc.returncode == 1)


def run_sam(sam: sam_local.Sam, sample: Path) -> tuple[Run, dict[str, dict]]:
    event, region, settings, before = prepare(sam.endpoint, sample)
    invocation = sam.invoke(event, settings, region, label=sample.name)
    run = Run(sam.endpoint, event, region, invocation.report(), invocation.error is not None)
    assert run.report is not None, f"SAM returned no report:\n{invocation.logs[-4000:]}\nresponse: {invocation.response}"
    return run, before


def denies_insecure_transport(policy: Any) -> bool:
    for statement in (policy or {}).get("Statement", []):
        condition = json.dumps(statement.get("Condition", {}))
        if statement.get("Effect") == "Deny" and "aws:SecureTransport" in condition and "false" in condition:
            return True
    return False


def test_every_resource_variable_has_a_stand_in(moto: str) -> None:
    """A variable the template sets from one of the stack's own resources reaches SAM as the
    resource's logical id (the function then refuses to start): the local run must stand in for it."""
    reset(moto)
    stand_ins, _queue = local.stack_stand_ins(moto)
    resources = {k for k, v in template_variables().items() if names_a_resource(v)}
    assert resources <= set(stand_ins), "add a stand-in to local.stack_stand_ins"


@pytest.mark.parametrize("sample", EVENTS, ids=lambda p: p.name)
def test_sam_local_invoke_matches_the_cli(sam: sam_local.Sam, rekognition_guard: Path, sample: Path,
                                         tmp_path: Path) -> None:
    cli = run_cli(rekognition_guard, sam.endpoint, sample, tmp_path)
    via_sam, before = run_sam(sam, sample)

    assert via_sam.kind() == cli.kind()
    assert via_sam.statuses() == cli.statuses()
    if "batchItemFailures" in cli.report:
        # An SQS batch: the same records are handed back for SQS to retry.
        assert via_sam.report["batchItemFailures"] == cli.report["batchItemFailures"]
    else:
        assert via_sam.failed == cli.failed, f"invocation error under SAM: {via_sam.failed}; CLI exit 1: {cli.failed}"
    # Sorted: a batch's records run concurrently, so their alerts arrive in any order.
    assert sorted(s for s, _ in via_sam.normal(via_sam.alerts)) == sorted(s for s, _ in cli.normal(cli.alerts))
    assert via_sam.normal(via_sam.buckets) == cli.normal(cli.buckets)

    # The state read back shows what the report says happened.
    for resource in (r for report in via_sam.reports() for r in report["resources"]):
        if resource["type"] != "s3-bucket" or resource["id"] not in via_sam.buckets:
            continue
        state = via_sam.buckets[resource["id"]]
        remediated = {c["control"] for c in resource["controls"] if c["status"] == "remediated"}
        if "sse-kms" in remediated:
            assert state["encryption"]["SSEAlgorithm"] == "aws:kms", state
        if "public-access-block" in remediated:
            assert state["public_access_block"] == ALL_FLAGS, state
        if "tls-only" in remediated:
            assert denies_insecure_transport(state["policy"]), state
        if not remediated:
            assert state == before.get(resource["id"]), f"{resource['id']} changed with nothing remediated"

