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
DELETE_BUCKET = "RemediationFunctionDeleteBucket"

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
    "scheduled-scan.json": None,                   # the Sweep schedule rule, not a pattern
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
}


def _samples() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(cfn.EVENTS.glob("*.json"))}


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
        rules[name] = json.loads(pattern) if isinstance(pattern, str) else pattern
    return rules


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_rules_route_each_sample(aws: dict[str, Any], case: str) -> None:
    parameters, changes = CASES[case]
    expected = {**EXPECTED, **changes}
    events, sqs = aws["events"], aws["sqs"]

    rules = _pattern_rules(parameters)
    assert set(rules) == {CREATE_BUCKET, CREATE_PROJECT_VERSION, CREATE_STREAM_PROCESSOR, DELETE_BUCKET}

    queues = {}
    for name, pattern in rules.items():
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
        queues[name] = url

    routed: dict[str, list[str]] = {}
    for sample_name, sample in {**_samples(), **OWN_EVENTS}.items():
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

    wanted = {name: [rule] if rule else [] for name, rule in {**expected, **{n: None for n in OWN_EVENTS}}.items()}
    assert routed == wanted


def test_failed_calls_are_dropped_by_every_cloudtrail_rule() -> None:
    for pattern in _pattern_rules({}).values():
        assert pattern["detail"]["errorCode"] == [{"exists": False}]
        assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]


def test_create_bucket_pattern_lists_one_prefix_filter_per_guarded_prefix() -> None:
    rules = _pattern_rules({"BucketPrefixes": "acme-,ml.data-"})
    names = rules[CREATE_BUCKET]["detail"]["requestParameters"]["bucketName"]
    assert names == [{"prefix": "custom-labels-console-"}, {"prefix": "acme-"}, {"prefix": "ml.data-"}]
    assert _pattern_rules({})[CREATE_BUCKET]["detail"]["requestParameters"]["bucketName"] == [
        {"prefix": "custom-labels-console-"}]
