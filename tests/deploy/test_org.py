"""Organization scope in the templates: the guard stack's organization resources (template.yaml with
OrganizationId set) and the plain CloudFormation member templates in deploy/ (member role,
forwarder) that service-managed StackSets deploy.

- The member templates have no Transform (StackSets reject it) and are cfn-lint clean.
- The central rule and the forwarders use one pattern; on moto's EventBridge, the central rule
  routes every forwarded sample to the work queue and never a custom-source copy of it.
- The IAM of each role equals the code's action lists in src/aws/permissions.rs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import cfn

DEPLOY = cfn.TEMPLATE.parent / "deploy"
MEMBER_TEMPLATES = ["member-role.yaml", "forwarder.yaml"]
ORG = {"OrganizationId": "o-abcdef1234"}
# What the event source mapping does with the function's role; the code never calls these.
ESM_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}
# Central rule -> the member forwarder rule with the same pattern.
RULES = {"CentralRule": "ForwardRule", "CentralLivenessRule": "ForwardLivenessRule",
         "CentralDriftRule": "ForwardDriftRule", "CentralStreamProcessorDriftRule": "ForwardStreamProcessorDriftRule"}
ORG_RESOURCES = {"CentralBus", "CentralBusPolicy", *RULES, "WorkQueue", "WorkDeadLetterQueue",
                 "WorkQueuePolicy", "WorkEventSourceMapping", "OrganizationPolicy"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _granted(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for s in statements:
        assert s["Effect"] == "Allow" and "NotAction" not in s, s
        for action in _as_list(s["Action"]):
            out.setdefault(action, []).extend(_as_list(s["Resource"]))
    return out


def _member(name: str) -> dict[str, Any]:
    return cfn.load_template(DEPLOY / name)


@pytest.mark.parametrize("name", MEMBER_TEMPLATES)
def test_member_templates_are_plain_cloudformation_and_lint_clean(name: str) -> None:
    template = _member(name)
    assert "Transform" not in template, f"{name}: service-managed StackSets reject a Transform"
    assert all(not r["Type"].startswith("AWS::Serverless::") for r in template["Resources"].values())
    lint = subprocess.run(
        [sys.executable, "-c", "import sys; from cfnlint.runner.cli import main; sys.argv[0] = 'cfn-lint'; main()",
         "--", str(DEPLOY / name)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_organization_resources_exist_only_with_an_organization(template: dict[str, Any]) -> None:
    account = cfn.Resolver(template).resources()
    org = cfn.Resolver(template, ORG).resources()
    assert not ORG_RESOURCES & set(account), sorted(ORG_RESOURCES & set(account))
    assert ORG_RESOURCES <= set(org), sorted(ORG_RESOURCES - set(org))
    env = org["RemediationFunction"]["Properties"]["Environment"]["Variables"]
    assert env["GUARD_SCOPE"] == "organization" and env["GUARD_MEMBER_ROLE_NAME"] == "RekognitionGuardMember"
    assert "GUARD_WORK_QUEUE_URL" in env
    esm = org["WorkEventSourceMapping"]["Properties"]
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "MaximumConcurrency" in esm["ScalingConfig"]
    assert org["WorkQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert "deadLetterTargetArn" in org["WorkQueue"]["Properties"]["RedrivePolicy"]
    policy = org["CentralBusPolicy"]["Properties"]["Statement"]
    assert policy["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}}
    assert cfn.Resolver(template).resources()["RemediationFunction"]["Properties"]["Environment"][
        "Variables"]["GUARD_SCOPE"] == "account"


def test_guard_role_grants_exactly_the_org_actions(template: dict[str, Any]) -> None:
    org = cfn.Resolver(template, ORG).resources()
    granted = _granted(org["OrganizationPolicy"]["Properties"]["PolicyDocument"]["Statement"])
    assert set(granted) - ESM_ACTIONS == set(cfn.code_actions(const="ORG_ACTIONS"))
    # AssumeRole only on the member role, only inside the organization.
    statement = next(s for s in org["OrganizationPolicy"]["Properties"]["PolicyDocument"]["Statement"]
                     if s["Action"] == "sts:AssumeRole")
    assert statement["Resource"] == "arn:aws:iam::*:role/RekognitionGuardMember"
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceOrgID": "o-abcdef1234"}}


@pytest.mark.parametrize("parameters", [{}, {"BucketPrefixes": "acme-,ml-", "RekognitionOutputBucketPatterns": "x-*-out",
                                             "ExternalId": "guard-external"}])
def test_member_role_grants_exactly_the_member_actions(parameters: dict[str, str]) -> None:
    base = {"GuardAccountId": "210987654321", "GuardFunctionRoleArn": "arn:aws:iam::210987654321:role/guard-fn"}
    resources = cfn.Resolver(_member("member-role.yaml"), {**base, **parameters}).resources()
    role = resources["MemberRole"]["Properties"]
    granted = _granted(role["Policies"][0]["PolicyDocument"]["Statement"])
    assert set(granted) == set(cfn.code_actions(const="MEMBER_ACTIONS"))
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert trust[0]["Condition"]["ArnEquals"] == {"aws:PrincipalArn": "arn:aws:iam::210987654321:role/guard-fn"}
    assert ("StringEquals" in trust[0]["Condition"]) == ("ExternalId" in parameters)
    if "BucketPrefixes" in parameters:
        assert "arn:aws:s3:::ml-*" in granted["s3:PutBucketPolicy"]


def test_forwarders_and_central_rules_share_their_patterns(template: dict[str, Any]) -> None:
    central = cfn.Resolver(template, ORG).resources()
    forwarder = cfn.Resolver(_member("forwarder.yaml"), {
        "CentralBusArn": "arn:aws:events:us-east-1:210987654321:event-bus/rekognition-guard"}).resources()
    forward_rules = {k for k, r in forwarder.items() if r["Type"] == "AWS::Events::Rule"}
    assert forward_rules == set(RULES.values())
    for central_rule, forward_rule in RULES.items():
        rule = forwarder[forward_rule]["Properties"]
        pattern = json.loads(json.dumps(rule["EventPattern"]))
        # Only a forwarder knows its account's member role, whose own writes it drops.
        own = pattern["detail"].pop("$or", None)
        if own is not None:
            issuer = own[0]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"][0]["anything-but"]
            assert issuer == [f"arn:aws:iam::{cfn.ACCOUNT_ID}:role/RekognitionGuardMember"], issuer
        assert pattern == central[central_rule]["Properties"]["EventPattern"], forward_rule
        assert rule["EventBusName"] == "default"
        assert rule["Targets"][0]["RoleArn"]
    # Every CloudTrail call the account-scope rules send to the function is forwarded too.
    def names(pattern: dict[str, Any]) -> set[str]:
        return set(pattern.get("detail", {}).get("eventName", []))

    forwarded = set().union(*(names(central[r]["Properties"]["EventPattern"]) for r in RULES))
    fn = cfn.translate(template)["Resources"]
    account_scope = set().union(*(
        names(json.loads(p) if isinstance(p := r["Properties"].get("EventPattern", {}), str) else p)
        for k, r in fn.items() if r["Type"] == "AWS::Events::Rule" and k not in RULES))
    assert account_scope, "no account-scope CloudTrail rules found"
    assert account_scope <= forwarded, sorted(account_scope - forwarded)


def _forwarded_samples() -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted(cfn.EVENTS.glob("*.json")):
        sample = json.loads(p.read_text())
        if "Records" in sample:
            for i, record in enumerate(sample["Records"]):
                out[f"{p.name}#{i}"] = json.loads(record["body"])
        elif sample.get("detail-type") == "AWS API Call via CloudTrail":
            out[p.name] = sample
    return out


def test_central_rule_on_moto_routes_forwarded_events_and_never_a_custom_source(
        aws: dict[str, Any], template: dict[str, Any]) -> None:
    events, sqs = aws["events"], aws["sqs"]
    resources = cfn.Resolver(template, ORG).resources()
    events.create_event_bus(Name="rekognition-guard")
    url = sqs.create_queue(QueueName="central-work")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for rule in RULES:
        pattern = resources[rule]["Properties"]["EventPattern"]
        events.put_rule(Name=rule, EventBusName="rekognition-guard", EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, EventBusName="rekognition-guard", Targets=[{"Id": "q", "Arn": arn}])

    def routed(sample: dict[str, Any]) -> bool:
        events.put_events(Entries=[{"Source": sample["source"], "DetailType": sample["detail-type"],
                                    "Detail": json.dumps(sample["detail"]), "EventBusName": "rekognition-guard"}])
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) == 1 if got else False

    samples = _forwarded_samples()
    assert samples
    for name, sample in samples.items():
        # Failed calls are dropped, except AccessDenied on drift: a call an SCP or RCP prevented.
        code = sample["detail"].get("errorCode")
        failed = code is not None and not (code == "AccessDenied" and name.startswith("drift-"))
        assert routed(sample) is not failed, name
        forged = dict(sample, source="acme.custom")
        assert routed(forged) is False, f"{name}: a custom-source copy must not reach the queue"
