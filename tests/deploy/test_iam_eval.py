"""The evaluator `make iam` (tests/iam/check.py) judges every recorded request with: table tests of
IAM's evaluation logic (explicit deny wins, Action/NotAction, Resource/NotResource wildcards,
conditions decided or listed as assumptions), the mutation helper, and the one operation table.
Also: every checkov suppression in the templates carries its reason."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import cfn

sys.path.insert(0, str(cfn.ROOT / "tests" / "iam"))

import check  # noqa: E402
from policy_eval import Request, evaluate, wildcard  # noqa: E402

BUCKET = "arn:aws:s3:::custom-labels-console-x"


def doc(*statements):
    return [("P", {"Version": "2012-10-17", "Statement": list(statements)})]


def allow(action, resource, **more):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


@pytest.mark.parametrize("pattern,value,case,expected", [
    ("s3:Get*", "s3:GetBucketPolicy", True, True),
    ("s3:get*", "s3:GetBucketPolicy", False, True),
    ("s3:get*", "s3:GetBucketPolicy", True, False),
    ("arn:aws:s3:::custom-labels-console-*", BUCKET, True, True),
    ("arn:aws:s3:::ml-??-out", "arn:aws:s3:::ml-ab-out", True, True),
    ("arn:aws:s3:::ml-??-out", "arn:aws:s3:::ml-abc-out", True, False),
    ("arn:aws:s3:::a.b", "arn:aws:s3:::aXb", True, False),
])
def test_wildcards(pattern, value, case, expected):
    assert wildcard(pattern, value, case) is expected


def test_allow_needs_action_and_resource():
    policies = doc(allow(["s3:PutBucketPolicy"], "arn:aws:s3:::custom-labels-console-*"))
    assert evaluate(policies, Request("r", "s3:PutBucketPolicy", BUCKET)).allowed
    assert not evaluate(policies, Request("r", "s3:PutBucketPolicy", "arn:aws:s3:::other")).allowed
    assert not evaluate(policies, Request("r", "s3:GetBucketPolicy", BUCKET)).allowed


def test_explicit_deny_wins_and_not_action_not_resource():
    policies = doc(allow("s3:*", "*"),
                   {"Effect": "Deny", "NotAction": "s3:Get*", "NotResource": "arn:aws:s3:::custom-labels-console-*"})
    assert evaluate(policies, Request("r", "s3:GetBucketPolicy", "arn:aws:s3:::other")).allowed
    d = evaluate(policies, Request("r", "s3:PutBucketPolicy", "arn:aws:s3:::other"))
    assert not d.allowed and d.by.startswith("explicit deny")
    assert evaluate(policies, Request("r", "s3:PutBucketPolicy", BUCKET)).allowed


def test_conditions_are_decided_from_the_request_or_listed():
    stmt = allow("sts:AssumeRole", "arn:aws:iam::*:role/M", Condition={"StringEquals": {"aws:ResourceOrgID": "o-1"}})
    assert evaluate(doc(stmt), Request("r", "sts:AssumeRole", "arn:aws:iam::1:role/M", {"aws:ResourceOrgID": "o-1"})).allowed
    assert not evaluate(doc(stmt), Request("r", "sts:AssumeRole", "arn:aws:iam::1:role/M", {"aws:ResourceOrgID": "o-2"})).allowed
    undecided = evaluate(doc(stmt), Request("r", "sts:AssumeRole", "arn:aws:iam::1:role/M"))
    assert undecided.allowed and "aws:ResourceOrgID" in undecided.assumptions[0]
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert evaluate(doc(allow("sns:Publish", "*"), deny), Request("r", "sns:Publish", "t", {"aws:SecureTransport": "true"})).allowed
    assert not evaluate(doc(allow("sns:Publish", "*"), deny), Request("r", "sns:Publish", "t", {"aws:SecureTransport": "false"})).allowed


def test_removing_an_action_keeps_yaml_anchors_shared(template):
    mutated = check.without_action(template, check.FUNCTION_POLICY_PATHS[:1], "s3:PutBucketPolicy")
    resolved = cfn.Resolver(mutated, {"BucketPrefixes": "acme-"}).resources()
    granted = [a for s in resolved["RemediationPolicy"]["Properties"]["PolicyDocument"]["Statement"]
               for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert "s3:PutBucketPolicy" not in granted and "s3:GetBucketPolicy" in granted
    dropped = check.without_action(template, check.FUNCTION_POLICY_PATHS[:1], "sns:Publish")
    sids = [s.get("Sid") for s in cfn.Resolver(dropped).resources()["RemediationPolicy"]["Properties"]
            ["PolicyDocument"]["Statement"]]
    assert "PublishAlerts" not in sids
    assert template["Resources"]["RemediationPolicy"] != mutated["Resources"]["RemediationPolicy"]


def test_operation_table_covers_the_declared_actions_and_cites_its_source():
    table = json.loads(check.OPERATIONS.read_text())
    assert any("service-authorization" in s for s in table["sources"])
    actions = {spec["action"] for ops in table["operations"].values() for spec in ops.values()}
    for const in ("IAM_ACTIONS", "ORG_ACTIONS", "MEMBER_ACTIONS", "REENCRYPT_ACTIONS"):
        missing = set(cfn.code_actions(const=const)) - actions
        assert not missing, f"{const}: {sorted(missing)} map to no operation in src/aws/operations.json"


@pytest.mark.parametrize("path", [cfn.TEMPLATE, *sorted((cfn.ROOT / "deploy").glob("*.yaml"))], ids=lambda p: p.name)
def test_every_checkov_suppression_has_a_reason(path: Path):
    template = cfn.load_template(path)
    for name, resource in template.get("Resources", {}).items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
            assert skip.get("id", "").startswith("CKV_"), (name, skip)
            assert len(skip.get("comment", "").split()) >= 5, f"{path.name} {name} {skip['id']}: give a reason"
