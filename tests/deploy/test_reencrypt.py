"""Re-encryption of existing objects in the template (issue 26): off by default; with
ReencryptExistingObjects the function gets exactly REENCRYPT_ACTIONS of src/aws/permissions.rs
(s3:CreateJob, and iam:PassRole on the job role alone, to S3 Batch Operations alone), and the job
role may list the guarded buckets, change their objects' encryption and write the completion
report, nothing else: no copy, no delete.
"""

from __future__ import annotations

from typing import Any

import cfn

ON = {"ReencryptExistingObjects": "true"}
RESOURCES = {"ReencryptPolicy", "ReencryptJobRole"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _granted(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for s in statements:
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s, s
        for action in _as_list(s["Action"]):
            out.setdefault(action, []).extend(_as_list(s["Resource"]))
    return out


def test_off_by_default(template: dict[str, Any]) -> None:
    resources = cfn.Resolver(template).resources()
    assert not RESOURCES & set(resources)
    env = resources["RemediationFunction"]["Properties"]["Environment"]["Variables"]
    assert env["GUARD_REENCRYPT"] == "off"
    assert "GUARD_REENCRYPT_ROLE_ARN" not in env


def test_on_the_function_may_start_jobs_with_the_job_role_only(template: dict[str, Any]) -> None:
    resources = cfn.Resolver(template, ON).resources()
    assert RESOURCES <= set(resources)
    env = resources["RemediationFunction"]["Properties"]["Environment"]["Variables"]
    assert env["GUARD_REENCRYPT"] == "batch"
    assert "ReencryptJobRole" in str(env["GUARD_REENCRYPT_ROLE_ARN"])
    statements = resources["ReencryptPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert set(_granted(statements)) == set(cfn.code_actions(const="REENCRYPT_ACTIONS"))
    pass_role = next(s for s in statements if s["Action"] == "iam:PassRole")
    assert "ReencryptJobRole" in str(pass_role["Resource"]) and "*" not in str(pass_role["Resource"])
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "batchoperations.s3.amazonaws.com"}}
    assert resources["ReencryptPolicy"]["Properties"]["Roles"] == ["<ref:RemediationRole>"]


def test_the_job_role_changes_encryption_and_writes_its_report_nothing_else(template: dict[str, Any]) -> None:
    resources = cfn.Resolver(template, {**ON, "BucketPrefixes": "acme-rek-,ml-",
                                        "RekognitionOutputBucketPatterns": "acme-*-output"}).resources()
    role = resources["ReencryptJobRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [t["Principal"] for t in trust] == [{"Service": "batchoperations.s3.amazonaws.com"}]
    assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": cfn.ACCOUNT_ID}}
    granted = _granted([s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]])
    assert set(granted) == {"s3:ListBucket", "s3:UpdateObjectEncryption", "s3:GetObject", "s3:GetObjectVersion",
                            "s3:PutObject", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
                            "kms:ReEncryptFrom", "kms:ReEncryptTo"}
    assert not any(a.startswith(("s3:Delete", "s3:PutObjectAcl", "s3:PutBucket")) for a in granted)
    assert sorted(granted["s3:UpdateObjectEncryption"]) == sorted(
        ["arn:aws:s3:::custom-labels-console-*/*", "arn:aws:s3:::acme-rek-*/*", "arn:aws:s3:::ml-*/*",
         "arn:aws:s3:::acme-*-output/*"])
    assert all(r.endswith("/rekognition-guard-reencrypt-reports/*") for r in granted["s3:PutObject"])
    assert len(granted["s3:PutObject"]) == 4
    assert "arn:aws:s3:::acme-*-output" in granted["s3:ListBucket"]
    # Without output patterns, their statements are gone.
    plain = cfn.Resolver(template, ON).resources()["ReencryptJobRole"]["Properties"]["Policies"][0]
    assert not any("Output" in s.get("Sid", "") for s in plain["PolicyDocument"]["Statement"])
    kms = next(s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"] if s["Sid"] == "KeysThroughS3")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{cfn.REGION}.amazonaws.com"}}


def test_the_job_role_follows_the_partition(template: dict[str, Any]) -> None:
    resources = cfn.Resolver(template, {**ON, "BucketPrefixes": "acme-"}, partition="aws-cn",
                             region="cn-north-1").resources()
    granted = _granted([s for p in resources["ReencryptJobRole"]["Properties"]["Policies"]
                        for s in p["PolicyDocument"]["Statement"]])
    assert all(r.startswith("arn:aws-cn:") for r in granted["s3:ListBucket"]), granted["s3:ListBucket"]
