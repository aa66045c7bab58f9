"""The S3 fidelity layer (tests/s3_fidelity.py behind tests/fault_proxy.py --fidelity).

Every Rust test talks to moto through this layer (tests/common/mod.rs), so each behaviour is
asserted here the way a client sees it: the error code and HTTP status botocore parses, and the
state read back afterwards. moto is the session's (conftest.py); buckets are unique per test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
import s3_fidelity  # noqa: E402
from s3_fidelity import is_public_policy  # noqa: E402

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def fidelity_endpoint(moto_endpoint: str) -> Iterator[str]:
    """fault_proxy.py --fidelity in front of the session's moto; its URL."""
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "fault_proxy.py"), "--upstream", moto_endpoint, "--fidelity",
         "--max-seconds", "600"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING "), f"fault_proxy.py did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.stdin.close()  # the proxy exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))


@pytest.fixture()
def s3(fidelity_endpoint: str):
    return client(fidelity_endpoint)


@pytest.fixture()
def raw(moto_endpoint: str):
    """moto itself, past the layer."""
    return client(moto_endpoint)


@pytest.fixture()
def bucket(s3) -> str:
    name = f"fidelity-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def proxy_log(endpoint: str) -> list[dict]:
    with urllib.request.urlopen(f"{endpoint}/__proxy/log", timeout=10) as r:
        return json.loads(r.read())


def proxy_post(endpoint: str, path: str, body) -> None:
    req = urllib.request.Request(f"{endpoint}{path}", data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req, timeout=10).close()


def refused(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def blocked_types(s3, name: str) -> list[str]:
    """BlockedEncryptionTypes from GetBucketEncryption's XML (this botocore predates the member)."""
    seen: list[bytes] = []

    def keep(http_response, **_):
        seen.append(http_response.content)

    s3.meta.events.register("after-call.s3.GetBucketEncryption", keep)
    try:
        s3.get_bucket_encryption(Bucket=name)
    finally:
        s3.meta.events.unregister("after-call.s3.GetBucketEncryption", keep)
    import xml.etree.ElementTree as ET

    root = ET.fromstring(seen[-1])
    return [el.text for el in root.iter() if el.tag.endswith("}EncryptionType") or el.tag == "EncryptionType"]


def put_encryption(s3, name: str, blocked: list[str] | None) -> None:
    """PutBucketEncryption with SSE-S3, and BlockedEncryptionTypes when `blocked` is not None."""
    def add_blocked(request, **_):
        if blocked is None:
            return
        element = "<BlockedEncryptionTypes>" + "".join(
            f"<EncryptionType>{t}</EncryptionType>" for t in blocked) + "</BlockedEncryptionTypes>"
        body = request.body.replace(b"</Rule>", element.encode() + b"</Rule>")
        request.body = body
        request.headers["Content-Length"] = str(len(body))
        request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()

    s3.meta.events.register("before-send.s3.PutBucketEncryption", add_blocked)
    try:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    finally:
        s3.meta.events.unregister("before-send.s3.PutBucketEncryption", add_blocked)


def policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def public_read(bucket: str, **extra) -> dict:
    return dict({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{bucket}/*"}, **extra)


def block_public_policy(s3, name: str, on: bool = True) -> None:
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": on, "IgnorePublicAcls": on, "BlockPublicPolicy": on, "RestrictPublicBuckets": on})


# ---- default encryption and blocked encryption types ---------------------------------------


def test_a_new_bucket_has_sse_s3_and_blocks_sse_c(s3, raw, bucket: str) -> None:
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert blocked_types(s3, bucket) == ["SSE-C"]
    # The default is written to moto itself, not only painted on the answer.
    assert raw.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_a_bucket_the_layer_did_not_see_created_keeps_what_moto_has(s3, raw) -> None:
    name = f"fidelity-raw-{uuid.uuid4().hex[:8]}"
    raw.create_bucket(Bucket=name)
    code, status, _ = refused(lambda: s3.get_bucket_encryption(Bucket=name))
    assert (code, status) == ("ServerSideEncryptionConfigurationNotFoundError", 404)


def test_creating_an_existing_bucket_again_changes_nothing(s3, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]})
    s3.create_bucket(Bucket=bucket)  # us-east-1 answers its owner 200
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_put_bucket_encryption_records_blocked_types_and_an_omission_keeps_them(
        s3, fidelity_endpoint: str, bucket: str) -> None:
    put_encryption(s3, bucket, ["NONE"])
    assert blocked_types(s3, bucket) == ["NONE"]
    put_encryption(s3, bucket, None)
    assert blocked_types(s3, bucket) == ["NONE"]
    put_encryption(s3, bucket, ["SSE-C"])
    assert blocked_types(s3, bucket) == ["SSE-C"]
    put_encryption(s3, bucket, None)
    assert blocked_types(s3, bucket) == ["SSE-C"]

    puts = [e for e in proxy_log(fidelity_endpoint)
            if e["operation"] == "PutBucketEncryption" and e["path"] == f"/{bucket}"]
    assert [e["blocked_encryption_types_sent"] for e in puts] == [True, False, True, False]
    assert [e["fidelity"] for e in puts] == ["blocked-encryption-types-recorded", None,
                                             "blocked-encryption-types-recorded", None]


def test_delete_bucket_encryption_resets_to_sse_s3(s3, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]})
    s3.delete_bucket_encryption(Bucket=bucket)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert blocked_types(s3, bucket) == ["SSE-C"]


def test_a_deleted_and_recreated_bucket_starts_from_the_defaults(s3, bucket: str) -> None:
    put_encryption(s3, bucket, ["NONE"])
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    assert blocked_types(s3, bucket) == ["SSE-C"]


# ---- PutBucketPolicy refusals ---------------------------------------------------------------


def test_a_policy_over_20_kb_is_refused_and_nothing_is_stored(s3, bucket: str) -> None:
    vpces = [f"vpce-{i:017x}" for i in range(900)]
    big = policy(bucket, {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                          "Resource": f"arn:aws:s3:::{bucket}/*",
                          "Condition": {"StringNotEquals": {"aws:SourceVpce": vpces}}})
    assert len(big) > 20 * 1024
    code, status, message = refused(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=big))
    assert (code, status) == ("PolicyTooLarge", 400)
    assert "maximum allowed document size" in message
    assert refused(lambda: s3.get_bucket_policy(Bucket=bucket))[:2] == ("NoSuchBucketPolicy", 404)


def test_the_20_kb_limit_counts_the_minified_document(s3, bucket: str) -> None:
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*",
                 "Condition": {"StringNotEquals": {"aws:SourceVpce": [f"vpce-{i:017x}" for i in range(600)]}}}
    doc = json.loads(policy(bucket, statement))
    padded = json.dumps(doc, indent=8)
    assert len(padded) > 20 * 1024 > s3_fidelity.minified_size(doc)
    s3.put_bucket_policy(Bucket=bucket, Policy=padded)


@pytest.mark.parametrize("principal", [
    "AROA1234567890EXAMPLE", "AIDA1234567890EXAMPLE", ["arn:aws:iam::123456789012:root", "AROAEXAMPLE0123456789"]])
def test_a_unique_id_principal_is_refused_as_s3_refuses_a_deleted_roles_id(s3, bucket: str, principal) -> None:
    doc = policy(bucket, {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
                          "Resource": f"arn:aws:s3:::{bucket}/*"})
    code, status, message = refused(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=doc))
    assert (code, status, message) == ("MalformedPolicy", 400, "Invalid principal in policy")
    assert refused(lambda: s3.get_bucket_policy(Bucket=bucket))[:2] == ("NoSuchBucketPolicy", 404)


def test_a_unique_id_seeded_past_the_layer_reads_back_through_it(s3, raw, bucket: str) -> None:
    """What S3 shows for a deleted role: seeded on moto itself, read through the layer."""
    doc = policy(bucket, {"Effect": "Allow", "Principal": {"AWS": "AROA1234567890EXAMPLE"},
                          "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    raw.put_bucket_policy(Bucket=bucket, Policy=doc)
    got = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert got["Statement"][0]["Principal"] == {"AWS": "AROA1234567890EXAMPLE"}
    # Putting it back as read is what S3 refuses.
    assert refused(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(got)))[:2] == (
        "MalformedPolicy", 400)


def test_a_public_policy_under_block_public_policy_is_refused(s3, fidelity_endpoint: str, bucket: str) -> None:
    block_public_policy(s3, bucket)
    code, status, message = refused(
        lambda: s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, public_read(bucket))))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f'User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: s3:PutBucketPolicy on resource: '
        f'"arn:aws:s3:::{bucket}" because public policies are blocked by the BlockPublicPolicy block public '
        "access setting.")
    assert refused(lambda: s3.get_bucket_policy(Bucket=bucket))[:2] == ("NoSuchBucketPolicy", 404)
    entry = [e for e in proxy_log(fidelity_endpoint) if e["operation"] == "PutBucketPolicy"][-1]
    assert (entry["status"], entry["fidelity"], entry["fault"]) == (403, "public-policy-blocked", None)


def test_a_non_public_policy_under_block_public_policy_is_accepted(s3, bucket: str) -> None:
    block_public_policy(s3, bucket)
    tls_only = {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    vpc_read = public_read(bucket, Condition={"StringEquals": {"aws:SourceVpc": "vpc-91237329"}})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, tls_only, vpc_read))
    assert len(json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]) == 2


def test_a_public_policy_is_accepted_once_block_public_policy_is_off(s3, bucket: str) -> None:
    block_public_policy(s3, bucket, on=False)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, public_read(bucket)))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True


# ---- GetBucketPolicyStatus ------------------------------------------------------------------


def test_policy_status_without_a_policy_is_no_such_bucket_policy(s3, bucket: str) -> None:
    assert refused(lambda: s3.get_bucket_policy_status(Bucket=bucket))[:2] == ("NoSuchBucketPolicy", 404)
    assert refused(lambda: s3.get_bucket_policy_status(Bucket=f"missing-{uuid.uuid4().hex[:8]}"))[:2] == (
        "NoSuchBucket", 404)


def test_policy_status_follows_the_meaning_of_public(s3, raw, bucket: str) -> None:
    fixed = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, fixed))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    # A public policy S3 holds (put before BlockPublicPolicy, say): seeded on moto itself.
    raw.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, fixed, public_read(bucket)))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True


# ---- the proxy around it --------------------------------------------------------------------


def test_fault_rules_apply_first_and_unchanged(s3, fidelity_endpoint: str, bucket: str) -> None:
    proxy_post(fidelity_endpoint, "/__proxy/rules",
               [{"operation": "PutBucketPolicy", "fault": "slowdown-503", "times": 1}])
    try:
        code, status, _ = refused(
            lambda: s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, public_read(bucket))))
        assert (code, status) == ("SlowDown", 503)
    finally:
        proxy_post(fidelity_endpoint, "/__proxy/rules", [])
    entry = [e for e in proxy_log(fidelity_endpoint) if e["operation"] == "PutBucketPolicy"][-1]
    assert (entry["fault"], entry["fidelity"]) == ("slowdown-503", None)


def test_other_requests_pass_through_and_are_logged_without_a_fidelity_field(
        s3, fidelity_endpoint: str, bucket: str) -> None:
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "k", "Value": "v"}]
    entries = [e for e in proxy_log(fidelity_endpoint) if e["path"] == f"/{bucket}"]
    assert [e["operation"] for e in entries][-2:] == ["PutBucketTagging", "GetBucketTagging"]
    assert all(e["fidelity"] is None for e in entries[-2:])
    create = next(e for e in entries if e["operation"] == "CreateBucket")
    assert create["fidelity"] == "new-bucket-defaults"


# ---- the evaluator, case by case (The meaning of "public") ----------------------------------

B = "arn:aws:s3:::b/*"


def allow(principal="*", condition=None, action="s3:GetObject", **extra) -> dict:
    s = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": B, **extra}
    if condition is not None:
        s["Condition"] = condition
    return s


@pytest.mark.parametrize("statement, public", [
    # The page's own examples.
    (allow(action="s3:PutObject"), True),
    (allow(action="s3:PutObject", condition={"StringLike": {"aws:SourceVpc": "vpc-*"}}), True),
    (allow(action="s3:PutObject", condition={"StringEquals": {"aws:SourceVpc": "vpc-91237329"}}), False),
    # Principals.
    (allow({"AWS": "*"}), True),
    (allow({"AWS": ["arn:aws:iam::111122223333:root", "*"]}), True),
    (allow({"AWS": "arn:aws:iam::111122223333:root"}), False),
    (allow({"AWS": "111122223333"}), False),
    (allow({"AWS": "arn:aws:iam::111122223333:role/*"}), True),
    (allow({"AWS": "arn:aws:iam::111122223333:user/${aws:username}"}), True),
    (allow({"Service": "cloudtrail.amazonaws.com"}), False),
    (allow({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}), False),
    ({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*", "Resource": B},
     True),
    # Deny never makes a policy public.
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": B}, False),
    # aws:SourceIp: a CIDR no broader than /8 (IPv4), /32 (IPv6), or RFC1918.
    (allow(condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}), False),
    (allow(condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.7/32"]}}), False),
    (allow(condition={"IpAddress": {"aws:SourceIp": "12.0.0.0/8"}}), False),
    (allow(condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}), True),
    (allow(condition={"IpAddress": {"aws:SourceIp": "12.0.0.0/7"}}), True),
    (allow(condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "0.0.0.0/0"]}}), True),
    (allow(condition={"IpAddress": {"aws:SourceIp": "172.16.0.0/12"}}), False),
    (allow(condition={"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}), False),
    (allow(condition={"IpAddress": {"aws:SourceIp": "2001:db8::/31"}}), True),
    (allow(condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}), True),
    # The fixed-value keys, each.
    (allow(condition={"ArnEquals": {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}}), False),
    (allow(condition={"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:111122223333:trail/*"}}), True),
    (allow(condition={"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), False),
    (allow(condition={"StringEquals": {"aws:SourceOwner": "111122223333"}}), False),
    (allow(condition={"StringEquals": {"aws:SourceAccount": "111122223333"}}), False),
    (allow(condition={"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}), False),
    (allow(condition={"StringEquals": {"aws:PrincipalAccount": "111122223333"}}), False),
    (allow(condition={"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/r"}}), False),
    (allow(condition={"StringLike": {"aws:PrincipalOrgID": "o-*"}}), True),
    (allow(condition={"StringEquals": {"aws:userid": "AIDAEXAMPLE123456789"}}), False),
    (allow(condition={"StringLike": {"aws:userid": "AROAEXAMPLE123456789:*"}}), False),
    (allow(condition={"StringLike": {"aws:userid": "*"}}), True),
    (allow(condition={"StringEquals": {"s3:DataAccessPointAccount": "111122223333"}}), False),
    (allow(condition={"StringLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:111122223333:accesspoint/*"}}),
     False),
    (allow(condition={"StringLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:*:accesspoint/*"}}), True),
    # Operators that do not narrow, and keys that are not on the page.
    (allow(condition={"StringNotEquals": {"aws:SourceVpc": "vpc-91237329"}}), True),
    (allow(condition={"StringEqualsIfExists": {"aws:SourceVpc": "vpc-91237329"}}), True),
    (allow(condition={"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}), True),
    (allow(condition={"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}), False),
    (allow(condition={"Bool": {"aws:SecureTransport": "true"}}), True),
    (allow(condition={"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}), True),
    (allow(condition={"StringEquals": {"aws:SourceVpc": "${aws:username}"}}), True),
    # Condition keys are case-insensitive.
    (allow(condition={"StringEquals": {"AWS:SourceVPC": "vpc-91237329"}}), False),
])
def test_is_public_statement(statement: dict, public: bool) -> None:
    assert is_public_policy({"Version": "2012-10-17", "Statement": [statement]}) is public


def test_one_public_statement_makes_the_whole_policy_public() -> None:
    trail = allow({"Service": "cloudtrail.amazonaws.com"})
    account = allow({"AWS": "arn:aws:iam::222233334444:root"})
    assert is_public_policy({"Statement": [trail, account]}) is False
    assert is_public_policy({"Statement": [trail, account, allow()]}) is True
    # A lone statement need not be in a list; a JSON text is read as well.
    assert is_public_policy(json.dumps({"Statement": allow()})) is True
