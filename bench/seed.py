"""The seeded world every tool starts from, and the read-back that says what a tool left.

After `POST /moto-api/reset` the same function seeds the same state for each tool: one
symmetric KMS key (the remediation key, passed to every tool as its ARN), an organization
whose AI opt-out policy opts out (rekognition-guard checks it; the peers do not), an SNS
topic for rekognition-guard's alert, and the buckets.

Guarded buckets (prefix `custom-labels-console-`) cycle through five states:

  bare            created only: no default encryption, no Block Public Access, no policy
  sse-s3          as the Custom Labels console leaves it: AES256, all four BPA flags, no policy
  compliant       SSE-KMS with the key and a Bucket Key, all four flags, the TLS-only statement
  partial-bpa     SSE-KMS with the key, two of four BPA flags, no policy
  foreign-policy  no encryption, all four flags, a policy with two unrelated statements

plus one unguarded bucket (`analytics-data-`) for every ten guarded ones, which every tool
must leave untouched.
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from local import read_bucket  # noqa: E402  (one reader for the demo and the benchmark)

REGION = "us-east-1"
ACCOUNT = "123456789012"
GUARDED_PREFIX = "custom-labels-console-"
UNGUARDED_PREFIX = "analytics-data-"
STATES = ("bare", "sse-s3", "compliant", "partial-bpa", "foreign-policy")
TLS_SID = "DenyInsecureTransport"
FOREIGN_SIDS = ("AllowAnalyticsRoleRead", "DenyBucketDeletion")
ALL_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def client(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                      max_pool_connections=16))


def tls_statement(bucket):
    """The statement rekognition-guard merges (src/policy.rs), given to the peers verbatim."""
    return {"Sid": TLS_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def foreign_statements(bucket, account=ACCOUNT):
    """Two statements of the bucket's own team: a role of the bucket's own account reads it (a
    role of another account would be a dependent that the AWS managed key cannot serve, and
    the guard would rightly hold the encryption fix)."""
    return [
        {"Sid": FOREIGN_SIDS[0], "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:role/analytics"},
         "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
        {"Sid": FOREIGN_SIDS[1], "Effect": "Deny", "Principal": "*",
         "Action": "s3:DeleteBucket", "Resource": f"arn:aws:s3:::{bucket}"},
    ]


def bucket_names(n, suffix=""):
    """(name, state) for n guarded buckets and n // 10 unguarded ones."""
    guarded = [(f"{GUARDED_PREFIX}{REGION}-bench{suffix}-{i:05d}", STATES[i % len(STATES)]) for i in range(n)]
    unguarded = [(f"{UNGUARDED_PREFIX}bench{suffix}-{i:05d}", "unguarded") for i in range(n // 10)]
    return guarded + unguarded


def seed_bucket(s3, name, state, key_arn, create=True, account=ACCOUNT):
    if create:
        s3.create_bucket(Bucket=name)
    kms_rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                "BucketKeyEnabled": True}
    if state == "sse-s3":
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    elif state in ("compliant", "partial-bpa"):
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [kms_rule]})
    if state in ("sse-s3", "compliant", "foreign-policy"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={f: True for f in ALL_FLAGS})
    elif state == "partial-bpa":
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    if state == "compliant":
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [tls_statement(name)]}))
    elif state == "foreign-policy":
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(
            {"Version": "2012-10-17", "Id": "analytics", "Statement": foreign_statements(name, account)}))


def seed_world(endpoint, buckets, threads=8):
    """Seeds key, organization, topic and buckets; returns {key_arn, topic_arn}."""
    kms = client(endpoint, "kms")
    key_arn = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
                             Description="rekognition-guard bench key")["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=key_arn)
    kms.create_alias(AliasName="alias/rekognition-guard-bench", TargetKeyId=key_arn)
    org = client(endpoint, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="AISERVICES_OPT_OUT_POLICY")
    content = {"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}},
                            "@@operators_allowed_for_child_policies": ["@@none"]}}
    policy = org.create_policy(Name="ai-opt-out", Description="opt out of AI service data use",
                               Type="AISERVICES_OPT_OUT_POLICY", Content=json.dumps(content))
    org.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=root)
    topic_arn = client(endpoint, "sns").create_topic(Name="rekognition-guard-alerts")["TopicArn"]
    s3 = client(endpoint, "s3")
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda b: seed_bucket(s3, b[0], b[1], key_arn), buckets))
    return {"key_arn": key_arn, "topic_arn": topic_arn}


# --- read-back --------------------------------------------------------------------------

def _covers(resources, arn):
    return any(r == arn or r == "*" or (r.endswith("*") and arn.startswith(r[:-1])) for r in resources)


def denies_insecure_transport(statement, bucket):
    """The same meaning rekognition-guard checks: a blanket Deny for everyone, on the bucket
    and its objects, when aws:SecureTransport is false (any Sid)."""
    as_list = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
    if statement.get("Effect") != "Deny" or {"NotPrincipal", "NotAction", "NotResource"} & statement.keys():
        return False
    principal = statement.get("Principal")
    if not (principal == "*" or (isinstance(principal, dict) and as_list(principal.get("AWS")) == ["*"])):
        return False
    if not {"s3:*", "*"} & set(as_list(statement.get("Action", []))):
        return False
    resources = as_list(statement.get("Resource", []))
    if not (_covers(resources, f"arn:aws:s3:::{bucket}") and _covers(resources, f"arn:aws:s3:::{bucket}/x")):
        return False
    cond = statement.get("Condition") or {}
    value = (cond.get("Bool") or {}).get("aws:SecureTransport")
    return len(cond) == 1 and len(cond["Bool"]) == 1 and str(as_list(value)[0]).lower() == "false"


def verdict(name, seeded, state, key_arn):
    """None when the bucket is as it must be after remediation, else what is wrong."""
    if seeded == "unguarded":
        changed = [k for k in ("encryption", "public_access_block", "policy") if state[k] is not None]
        return f"unguarded bucket changed: {changed}" if changed else None
    problems = []
    enc = state["encryption"] or {}
    key_id = key_arn.rsplit("/", 1)[-1]
    if enc.get("SSEAlgorithm") not in ("aws:kms", "aws:kms:dsse") or \
            enc.get("KMSMasterKeyID") not in (key_arn, key_id) or not enc.get("BucketKeyEnabled"):
        problems.append(f"encryption {enc or None}")
    bpa = state["public_access_block"] or {}
    if not all(bpa.get(f) for f in ALL_FLAGS):
        problems.append(f"block public access {bpa or None}")
    statements = (state["policy"] or {}).get("Statement", [])
    if not any(denies_insecure_transport(s, name) for s in statements):
        problems.append("no TLS-only statement")
    if seeded == "foreign-policy":
        kept = {s.get("Sid") for s in statements}
        lost = [sid for sid in FOREIGN_SIDS if sid not in kept]
        if lost:
            problems.append(f"lost statements {lost}")
        if (state["policy"] or {}).get("Id") != "analytics":
            problems.append("lost the policy Id")
    sids = [s.get("Sid") for s in statements]
    if len(sids) != len(set(sids)):
        problems.append(f"duplicate Sids {sids}")
    return "; ".join(problems) or None


def check_all(endpoint, buckets, key_arn, threads=8):
    """{'compliant': n of guarded buckets as required, 'guarded': n, 'untouched': n of
    unguarded left alone, 'unguarded': n, 'problems': [(bucket, state, what)]}"""
    s3 = client(endpoint, "s3")
    with ThreadPoolExecutor(threads) as pool:
        states = list(pool.map(lambda b: read_bucket(s3, b[0]), buckets))
    out = {"compliant": 0, "guarded": 0, "untouched": 0, "unguarded": 0, "problems": []}
    for (name, seeded), state in zip(buckets, states):
        problem = verdict(name, seeded, state, key_arn)
        kind = "unguarded" if seeded == "unguarded" else "guarded"
        out[kind] += 1
        if problem:
            out["problems"].append((name, seeded, problem))
        else:
            out["untouched" if kind == "unguarded" else "compliant"] += 1
    return out
