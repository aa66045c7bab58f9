"""The function's role grants exactly the actions the code calls (src/aws/permissions.rs), each on
the narrowest resource it can have.

- `RemediationPolicy` must grant every action of `IAM_ACTIONS` and nothing else.
- `RuntimePolicy` grants what the Lambda service does with the role for the function (write its
  logs, send failed asynchronous invocations to the dead-letter queue); the code never calls these.
- Nothing else may be attached to the role.
"""

from __future__ import annotations

from typing import Any

import pytest

import cfn

# Actions whose resource cannot be narrowed from this stack, so `Resource: "*"` is allowed:
# - s3:ListAllMyBuckets has no resource type at all.
# - organizations:DescribeOrganization has no resource type; the account/OU/root/policy ARNs that
#   the other reads accept embed the management account id and the organization id, which a
#   member-account stack does not know. All five are read-only.
UNSCOPABLE = {
    "s3:ListAllMyBuckets",
    # Account-level: no resource type.
    "s3:GetAccountPublicAccessBlock",
    "organizations:ListEffectivePolicyValidationErrors",
    "organizations:DescribeOrganization",
    "organizations:DescribeEffectivePolicy",
    "organizations:ListParents",
    "organizations:ListPoliciesForTarget",
    "organizations:DescribePolicy",
    "organizations:ListPolicies",
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "rekognition:DescribeProjects",
    # Media analysis jobs have no resource type: GetMediaAnalysisJob takes a job id.
    "rekognition:GetMediaAnalysisJob",
}

# What RuntimePolicy may grant, and on what.
RUNTIME = {
    "logs:CreateLogStream": "<FunctionLogGroup.Arn>",
    "logs:PutLogEvents": "<FunctionLogGroup.Arn>",
    "sqs:SendMessage": "<DeadLetterQueue.Arn>",
}

PARAMETER_SETS = {
    "defaults": {},
    "prefixes": {"BucketPrefixes": "acme-rekognition-,ml-data-"},
    "patterns": {"BucketPrefixes": "acme-rekognition-", "RekognitionOutputBucketPatterns": "acme-*-output,ml-??-out"},
    "given-key": {"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    "no-security-hub": {"SecurityHubFindings": "false"},
}


def _expected_actions(code_actions: list[str], parameters: dict[str, str]) -> set[str]:
    """With SecurityHubFindings=false the function never calls Security Hub: not granted."""
    if parameters.get("SecurityHubFindings") == "false":
        return {a for a in code_actions if not a.startswith("securityhub:")}
    return set(code_actions)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(resources: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    return resources[policy]["Properties"]["PolicyDocument"]["Statement"]


def _granted(statements: list[dict[str, Any]]) -> dict[str, list[str]]:
    """action -> resources it is allowed on."""
    out: dict[str, list[str]] = {}
    for s in statements:
        assert s["Effect"] == "Allow", s
        assert "NotAction" not in s and "NotResource" not in s, s
        for action in _as_list(s["Action"]):
            out.setdefault(action, []).extend(_as_list(s["Resource"]))
    return out


@pytest.fixture(scope="module")
def code_actions() -> list[str]:
    actions = cfn.code_actions()
    assert actions, "IAM_ACTIONS is empty"
    assert len(actions) == len(set(actions)), "IAM_ACTIONS lists an action twice"
    return actions


def test_permissions_parser_reads_every_entry(tmp_path) -> None:
    """The regex must not silently drop entries (which would make the comparison pass)."""
    rs = tmp_path / "permissions.rs"
    rs.write_text(
        'pub const IAM_ACTIONS: &[(&str, &str)] = &[\n'
        '    ("s3:GetBucketTagging", "see https://docs.aws.amazon.com/x"),\n'
        '    // ("s3:DeleteBucket", "commented out"),\n'
        '    ("rekognition:DescribeProjects", "a \\"quoted\\" reason"), // trailing comment\n'
        '    (\n        "kms:DescribeKey",\n        "multi-line",\n    ),\n'
        '];\n'
    )
    assert cfn.code_actions(rs) == ["s3:GetBucketTagging", "rekognition:DescribeProjects", "kms:DescribeKey"]
    rs.write_text('pub const IAM_ACTIONS: &[(&str, &str)] = &[\n    ("s3:A", "x"),\n    ("s3:B"),\n];\n')
    with pytest.raises(AssertionError, match="unparsed"):
        cfn.code_actions(rs)


@pytest.mark.parametrize("parameters", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_role_grants_exactly_the_actions_the_code_calls(template: dict[str, Any], code_actions: list[str],
                                                        parameters: dict[str, str]) -> None:
    resources = cfn.Resolver(template, parameters).resources()
    granted = set(_granted(_statements(resources, "RemediationPolicy")))
    expected = _expected_actions(code_actions, parameters)
    missing = sorted(expected - granted)
    extra = sorted(granted - expected)
    assert not missing, f"src/aws/permissions.rs calls {missing}, which template.yaml (RemediationPolicy) does not grant"
    assert not extra, f"template.yaml (RemediationPolicy) grants {extra}, which src/aws/permissions.rs does not list"


def test_runtime_policy_is_only_logs_and_dead_letters(template: dict[str, Any]) -> None:
    resources = cfn.Resolver(template).resources()
    granted = _granted(_statements(resources, "RuntimePolicy"))
    assert {a: r for a, r in granted.items()} == {a: [r] for a, r in RUNTIME.items()}


def test_nothing_else_is_attached_to_the_role(template: dict[str, Any], translated: dict[str, Any]) -> None:
    role = translated["Resources"]["RemediationRole"]["Properties"]
    assert set(role) <= {"AssumeRolePolicyDocument", "Description", "Tags", "Path"}, set(role)
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attached = {name for name, r in translated["Resources"].items()
                if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
                and {"Ref": "RemediationRole"} in r["Properties"].get("Roles", [])}
    # OrganizationPolicy exists only in organization scope (tests/deploy/test_org.py checks it),
    # ReencryptPolicy only with ReencryptExistingObjects (tests/deploy/test_reencrypt.py).
    assert attached == {"RemediationPolicy", "RuntimePolicy", "OrganizationPolicy", "ReencryptPolicy"}
    fn = translated["Resources"]["RemediationFunction"]["Properties"]
    assert fn["Role"] == {"Fn::GetAtt": ["RemediationRole", "Arn"]}


def _all_policy_documents(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for name, r in resources.items():
        props = r.get("Properties", {})
        for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            if key in props:
                docs.append((name, props[key]))
        for p in props.get("Policies", []) or []:
            if isinstance(p, dict) and "PolicyDocument" in p:
                docs.append((name, p["PolicyDocument"]))
    return docs


@pytest.mark.parametrize("parameters", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_no_wildcard_action_is_allowed_anywhere(template: dict[str, Any], parameters: dict[str, str]) -> None:
    resources = cfn.Resolver(template, parameters).resources()
    docs = _all_policy_documents(resources)
    assert len(docs) >= 6
    for name, doc in docs:
        for s in doc["Statement"]:
            if s["Effect"] != "Allow":
                continue
            actions = _as_list(s.get("Action", []))
            assert "*" not in actions, f"{name} allows Action '*'"
            assert not any(a.lower() == "s3:*" for a in actions), f"{name} allows s3:*"


@pytest.mark.parametrize("parameters", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_role_actions_are_named_not_wildcarded(template: dict[str, Any], parameters: dict[str, str]) -> None:
    resources = cfn.Resolver(template, parameters).resources()
    for policy in ("RemediationPolicy", "RuntimePolicy"):
        for action in _granted(_statements(resources, policy)):
            assert "*" not in action and "?" not in action, f"{policy} grants the pattern {action}"


@pytest.mark.parametrize("parameters", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_star_resource_only_for_unscopable_actions(template: dict[str, Any], parameters: dict[str, str]) -> None:
    resources = cfn.Resolver(template, parameters).resources()
    for policy in ("RemediationPolicy", "RuntimePolicy"):
        for action, on in _granted(_statements(resources, policy)).items():
            if "*" in on:
                assert action in UNSCOPABLE, f"{policy} grants {action} on '*'; scope it"


def _bucket_arns(prefixes: str, patterns: str = "", partition: str = "aws") -> list[str]:
    arns = [f"arn:{partition}:s3:::custom-labels-console-*"]
    arns += [f"arn:{partition}:s3:::{p}*" for p in prefixes.split(",") if p]
    arns += [f"arn:{partition}:s3:::{p}" for p in patterns.split(",") if p]
    return arns


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
@pytest.mark.parametrize("parameters", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
def test_bucket_actions_only_on_guarded_buckets(template: dict[str, Any], code_actions: list[str],
                                                parameters: dict[str, str], partition: str) -> None:
    resources = cfn.Resolver(template, parameters, partition=partition).resources()
    granted = _granted(_statements(resources, "RemediationPolicy"))
    expected = _bucket_arns(parameters.get("BucketPrefixes", ""),
                            parameters.get("RekognitionOutputBucketPatterns", ""), partition)
    bucket_actions = [a for a in code_actions if a.startswith("s3:") and a not in UNSCOPABLE]
    assert bucket_actions
    for action in bucket_actions:
        assert sorted(granted[action]) == sorted(expected), action


def test_other_resources_are_scoped(template: dict[str, Any]) -> None:
    granted = _granted(_statements(cfn.Resolver(template).resources(), "RemediationPolicy"))
    for action, on in granted.items():
        if action.startswith("kms:"):
            assert on == [f"arn:aws:kms:*:{cfn.ACCOUNT_ID}:key/*"], action
        if action.startswith("sns:"):
            assert on == ["<ref:AlertTopic>"], action
        if action == "rekognition:DescribeStreamProcessor":
            assert on == [f"arn:aws:rekognition:*:{cfn.ACCOUNT_ID}:streamprocessor/*"], action
        if action.startswith("dynamodb:"):
            assert on == ["<StateTable.Arn>"], action
        if action == "securityhub:BatchImportFindings":
            assert on == [f"arn:aws:securityhub:*:{cfn.ACCOUNT_ID}:product/{cfn.ACCOUNT_ID}/default"], action
        elif action.startswith("securityhub:"):
            assert on == [f"arn:aws:securityhub:*:{cfn.ACCOUNT_ID}:hub/default"], action
    assert "securityhub:BatchUpdateFindings" not in granted
