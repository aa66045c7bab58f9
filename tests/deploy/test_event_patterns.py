"""The EventBridge rules of template.yaml route each sample in events/ to the rule meant for it, and
to no other, as judged by a real EventBridge implementation (moto's `events` service, in a
moto_server subprocess): each rule is put with the pattern CloudFormation would deploy (the SAM
output, intrinsics resolved for the parameters), targets its own SQS queue, and each sample is sent
with PutEvents; the queues show which rules matched.

Scheduled rules are not triggered by PutEvents, so the sweep rule is not exercised here:
test_template.py::test_sweep_schedule_rule checks its schedule from the template, and
scheduled-scan.json must reach none of the pattern rules.

(Real EventBridge refuses PutEvents with an `aws.*` source; moto accepts it, which is what makes
this test possible.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import cfn

CREATE_BUCKET = "RemediationFunctionCreateBucket"
CREATE_PROJECT_VERSION = "RemediationFunctionCreateProjectVersion"
CREATE_STREAM_PROCESSOR = "RemediationFunctionCreateStreamProcessor"
COPY_PROJECT_VERSION = "RemediationFunctionCopyProjectVersion"
CREATE_DATASET = "RemediationFunctionCreateDataset"
START_MEDIA_ANALYSIS_JOB = "RemediationFunctionStartMediaAnalysisJob"
CREATE_FACE_LIVENESS_SESSION = "RemediationFunctionCreateFaceLivenessSession"
BUCKET_DRIFT = "RemediationFunctionBucketDrift"
KEY_DRIFT = "RemediationFunctionKeyDrift"
OPT_OUT_DRIFT = "RemediationFunctionOptOutPolicyDrift"
STREAM_PROCESSOR_DRIFT = "RemediationFunctionStreamProcessorDrift"
DELETE_BUCKET = "RemediationFunctionDeleteBucket"
ALL_RULES = {CREATE_BUCKET, CREATE_PROJECT_VERSION, CREATE_STREAM_PROCESSOR, COPY_PROJECT_VERSION,
             CREATE_DATASET, START_MEDIA_ANALYSIS_JOB, CREATE_FACE_LIVENESS_SESSION, BUCKET_DRIFT, KEY_DRIFT,
             OPT_OUT_DRIFT, STREAM_PROCESSOR_DRIFT, DELETE_BUCKET}

# The function's role as deployed: the session issuer of events/drift-own-role.json.
OWN_ROLE_ARN = json.loads((cfn.EVENTS / "drift-own-role.json").read_text())[
    "detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]

# sample -> the rule that must receive it (None: no rule), with default parameters.
EXPECTED = {
    "create-bucket-console.json": CREATE_BUCKET,
    "create-bucket-eu-west-1.json": CREATE_BUCKET,
    "create-bucket-unguarded.json": None,          # marketing-website-assets: not a guarded prefix
    "create-bucket-failed.json": None,             # errorCode set: the call created nothing
    "create-project-version.json": CREATE_PROJECT_VERSION,
    "create-project-version-no-kms.json": CREATE_PROJECT_VERSION,
    "create-project-version-alias.json": CREATE_PROJECT_VERSION,
    "create-project-version-prefix.json": CREATE_PROJECT_VERSION,
    "create-stream-processor.json": CREATE_STREAM_PROCESSOR,
    "create-stream-processor-data-sharing.json": CREATE_STREAM_PROCESSOR,
    "create-stream-processor-face-search.json": CREATE_STREAM_PROCESSOR,
    "copy-project-version.json": COPY_PROJECT_VERSION,
    "create-dataset.json": CREATE_DATASET,
    "start-media-analysis-job.json": START_MEDIA_ANALYSIS_JOB,
    "create-face-liveness-session.json": CREATE_FACE_LIVENESS_SESSION,
    "scheduled-scan.json": None,                   # the Sweep schedule rule, not a pattern
    "drift-put-bucket-policy.json": BUCKET_DRIFT,
    # An SCP denied it: reported as prevented (no write), so the drift rule lets AccessDenied in.
    "drift-put-bucket-policy-denied-by-scp.json": BUCKET_DRIFT,
    "drift-delete-bucket-policy.json": BUCKET_DRIFT,
    "drift-put-bucket-encryption.json": BUCKET_DRIFT,
    "drift-delete-bucket-encryption.json": BUCKET_DRIFT,
    "drift-put-public-access-block.json": BUCKET_DRIFT,
    "drift-delete-public-access-block.json": BUCKET_DRIFT,
    "drift-put-bucket-tagging.json": BUCKET_DRIFT,
    "drift-delete-bucket-tagging.json": BUCKET_DRIFT,
    "drift-own-role.json": None,                   # the function's own write coming back
    "drift-schedule-key-deletion.json": KEY_DRIFT,
    "drift-detach-opt-out-policy.json": OPT_OUT_DRIFT,
    "drift-update-stream-processor-data-sharing.json": STREAM_PROCESSOR_DRIFT,
    "delete-bucket.json": DELETE_BUCKET,           # archives the bucket's Security Hub findings
}

# What the function's own Security Hub imports cause: the CloudTrail record of the call and
# Security Hub's "Findings - Imported" event. Neither may invoke the function (no loop).
OWN_EVENTS = {
    "own BatchImportFindings call": {
        "source": "aws.securityhub",
        "detail-type": "AWS API Call via CloudTrail",
        "resources": [],
        "detail": {"eventSource": "securityhub.amazonaws.com", "eventName": "BatchImportFindings",
                   "awsRegion": "us-east-1", "requestParameters": {"findings": []}},
    },
    "Security Hub Findings - Imported": {
        "source": "aws.securityhub",
        "detail-type": "Security Hub Findings - Imported",
        "resources": ["arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"],
        "detail": {"findings": [{"GeneratorId": "rekognition-guard/sse-kms",
                                 "Resources": [{"Type": "AwsS3Bucket",
                                                "Id": "arn:aws:s3:::custom-labels-console-us-east-1-3f9a1c2b7d"}]}]},
    },
}

# Other parameter values, and how the expectation changes with them.
CASES = {
    "defaults": ({}, {}),
    "more-prefixes": (
        {"BucketPrefixes": "acme-rekognition-,marketing-"},
        {"create-bucket-unguarded.json": CREATE_BUCKET},
    ),
    "other-console-prefix": (
        {"ConsoleBucketPrefix": "custom-labels-console-us-east-1-"},
        {"create-bucket-eu-west-1.json": None},
    ),
    # The drift samples' bucket is outside these prefixes: no drift rule for them then.
    "drift-elsewhere": (
        {"ConsoleBucketPrefix": "custom-labels-console-eu-"},
        {"create-bucket-console.json": None, "delete-bucket.json": None,
         **{f"drift-{n}.json": None for n in (
             "put-bucket-policy", "delete-bucket-policy", "put-bucket-encryption", "delete-bucket-encryption",
             "put-public-access-block", "delete-public-access-block", "put-bucket-tagging",
             "delete-bucket-tagging", "put-bucket-policy-denied-by-scp")}},
    ),
}


def _samples() -> dict[str, dict[str, Any]]:
    """The EventBridge samples; SQS batches (organization scope) are test_org.py's."""
    samples = {p.name: json.loads(p.read_text()) for p in sorted(cfn.EVENTS.glob("*.json"))}
    return {name: s for name, s in samples.items() if "Records" not in s}


def test_every_sample_has_an_expectation() -> None:
    names = set(_samples())
    assert names, "no samples in events/"
    assert names == set(EXPECTED), (
        f"events/ and EXPECTED differ: not expected {sorted(names - set(EXPECTED))}, "
        f"missing {sorted(set(EXPECTED) - names)}"
    )


def _pattern_rules(parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Rule logical id -> resolved event pattern, as deployed for `parameters`."""
    translated = cfn.translate(parameters=parameters)
    resolver = cfn.Resolver(translated, parameters)
    rules = {}
    for name, resource in resolver.resources().items():
        if resource["Type"] != "AWS::Events::Rule" or "EventPattern" not in resource["Properties"]:
            continue
        pattern = resource["Properties"]["EventPattern"]
        # CloudFormation accepts the pattern as an object or as a JSON string; it must be valid JSON.
        pattern = json.loads(pattern) if isinstance(pattern, str) else pattern
        # The role's ARN, as CloudFormation would put it in place of the GetAtt.
        rules[name] = json.loads(json.dumps(pattern).replace("<RemediationRole.Arn>", OWN_ROLE_ARN))
    return rules


_ROUND = iter(range(1_000_000))


def _route(aws: dict[str, Any], parameters: dict[str, str], samples: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """sample name -> the rules (deployed for `parameters`) that forwarded it."""
    events, sqs = aws["events"], aws["sqs"]
    rules = _pattern_rules(parameters)
    round_ = next(_ROUND)
    assert set(rules) == ALL_RULES

    queues = {}
    for name, pattern in rules.items():
        url = sqs.create_queue(QueueName=f"{name}-{round_}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])  # replaces an earlier round's
        queues[name] = url

    routed: dict[str, list[str]] = {}
    for sample_name, sample in {**samples, **OWN_EVENTS}.items():
        result = events.put_events(Entries=[{
            "Source": sample["source"],
            "DetailType": sample["detail-type"],
            "Detail": json.dumps(sample["detail"]),
            "Resources": sample["resources"],
        }])
        assert result["FailedEntryCount"] == 0, result["Entries"]
        routed[sample_name] = []
        for rule, url in queues.items():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            for message in messages:
                body = json.loads(message["Body"])
                # The rule forwarded this sample, not some other event.
                assert (body["source"], body["detail-type"], body["detail"]) == (
                    sample["source"], sample["detail-type"], sample["detail"])
                routed[sample_name].append(rule)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return routed


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_rules_route_each_sample(aws: dict[str, Any], case: str) -> None:
    parameters, changes = CASES[case]
    expected = {**EXPECTED, **changes}
    assert set(_pattern_rules(parameters)) == ALL_RULES
    routed = _route(aws, parameters, _samples())
    wanted = {name: [rule] if rule else [] for name, rule in {**expected, **{n: None for n in OWN_EVENTS}}.items()}
    assert routed == wanted


def test_failed_calls_are_dropped_by_every_cloudtrail_rule() -> None:
    """Except AccessDenied on bucket drift: a weakening call an SCP or RCP prevented."""
    for name, pattern in _pattern_rules({}).items():
        allowed = [{"exists": False}, "AccessDenied"] if name == BUCKET_DRIFT else [{"exists": False}]
        assert pattern["detail"]["errorCode"] == allowed, name
        assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]


def test_liveness_sessions_without_an_output_bucket_invoke_nothing(aws: dict[str, Any]) -> None:
    """One CreateFaceLivenessSession per end-user session: only those naming an output bucket reach
    the function (the pattern is judged by moto's EventBridge, as for the samples)."""
    sample = json.loads((cfn.EVENTS / "create-face-liveness-session.json").read_text())
    del sample["detail"]["requestParameters"]["settings"]["outputConfig"]
    assert _route(aws, {}, {"no-output.json": sample})["no-output.json"] == []


def test_create_bucket_pattern_lists_one_prefix_filter_per_guarded_prefix() -> None:
    rules = _pattern_rules({"BucketPrefixes": "acme-,ml.data-"})
    names = rules[CREATE_BUCKET]["detail"]["requestParameters"]["bucketName"]
    assert names == [{"prefix": "custom-labels-console-"}, {"prefix": "acme-"}, {"prefix": "ml.data-"}]
    assert _pattern_rules({})[CREATE_BUCKET]["detail"]["requestParameters"]["bucketName"] == [
        {"prefix": "custom-labels-console-"}]


def _route_one(aws: dict[str, Any], rule: str, pattern: dict[str, Any], samples: list[dict[str, Any]]) -> list[bool]:
    """Whether each sample reaches a rule with `pattern`, as moto's EventBridge judges it."""
    events, sqs = aws["events"], aws["sqs"]
    url = sqs.create_queue(QueueName=rule)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    out = []
    for sample in samples:
        events.put_events(Entries=[{"Source": sample["source"], "DetailType": sample["detail-type"],
                                    "Detail": json.dumps(sample["detail"]), "Resources": sample["resources"]}])
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        out.append(len(messages) == 1)
    events.remove_targets(Rule=rule, Ids=["queue"])
    events.delete_rule(Name=rule)
    return out


def test_drift_rules_exclude_only_the_functions_own_role(aws: dict[str, Any]) -> None:
    """The own-role sample is dropped; the same change by another role, an IAM user, the root user
    (no session issuer) or through the console ("sessionIssuer": {}) is not."""
    own = json.loads((cfn.EVENTS / "drift-own-role.json").read_text())
    others = []
    for identity in (
        {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/ci-deploy/run",
         "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/ci-deploy"}}},
        {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice"},
        {"type": "Root", "arn": "arn:aws:iam::123456789012:root"},
        {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/Admin/bob",
         "sessionContext": {"sessionIssuer": {}}},
    ):
        other = json.loads(json.dumps(own))
        other["detail"]["userIdentity"] = identity
        others.append(other)
    key = json.loads((cfn.EVENTS / "drift-schedule-key-deletion.json").read_text())
    own_key = json.loads(json.dumps(key))
    own_key["detail"]["userIdentity"] = own["detail"]["userIdentity"]
    rules = _pattern_rules({})
    assert _route_one(aws, "bucket-drift", rules[BUCKET_DRIFT], [own, *others]) == [False, True, True, True, True]
    assert _route_one(aws, "key-drift", rules[KEY_DRIFT], [own_key, key]) == [False, True]


def test_drift_rule_watches_output_bucket_patterns(aws: dict[str, Any]) -> None:
    sample = json.loads((cfn.EVENTS / "drift-delete-bucket-policy.json").read_text())

    def named(bucket: str) -> dict[str, Any]:
        e = json.loads(json.dumps(sample))
        e["detail"]["requestParameters"]["bucketName"] = bucket
        return e

    rules = _pattern_rules({"RekognitionOutputBucketPatterns": "acme-*-output,ml-??-out"})
    names = rules[BUCKET_DRIFT]["detail"]["requestParameters"]["bucketName"]
    assert names == [{"prefix": "custom-labels-console-"}, {"wildcard": "acme-*-output"}, {"wildcard": "ml-**-out"}]
    routed = _route_one(aws, "bucket-drift-patterns", rules[BUCKET_DRIFT],
                    [named(b) for b in ("acme-eu-output", "acme-output", "ml-ab-out", "marketing-site")])
    # "ml-??-out" is widened to "ml-**-out" for EventBridge; the function checks the exact pattern.
    assert routed == [True, False, True, False]
