#!/usr/bin/env python3
"""Reads findings back from Security Hub (the emulator) and validates each against the
Security Hub API model, because moto accepts almost any finding (tests only).

    python3 tests/securityhub_findings.py --endpoint http://127.0.0.1:PORT --region us-east-1 \
        [--access-key K --secret-key S [--session-token T]] [--prefix rekognition-guard/]

prints one JSON object: {"findings": [...], "problems": {"<Id>": ["...", ...]}}.

The validator walks the `AwsSecurityFinding` shape of botocore's securityhub service model
(the same model the AWS SDKs are generated from): every required member present, every
enum value one of the model's, every string matching the model's pattern and length
bounds, every type right, no member the model does not know. On top of the model, the
limits and rules Security Hub documents but the model does not carry: Title <= 256,
Description <= 1024, Remediation.Recommendation.Text <= 512, ProductFields values <= 2048
and at most 50 pairs, exactly one resource for our findings, Types in the ASFF taxonomy
(namespace/category/classifier), timestamps in RFC 3339, and, for our findings, no
Compliance.SecurityControlId and no `security-control/` generator.
"""

import argparse
import datetime
import json
import re
import sys

import boto3
import botocore.session

NAMESPACES = {
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
}
LIMITS = {"Title": 256, "Description": 1024}
TIMESTAMPS = {"CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt", "ProcessedAt"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def check_shape(value, shape, path, problems):
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}.{name}: required by the model, missing")
        for name, v in value.items():
            member = shape.members.get(name)
            if member is None:
                problems.append(f"{path}.{name}: not a member of {shape.name}")
                continue
            check_shape(v, member, f"{path}.{name}", problems)
    elif t == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list")
            return
        for i, item in enumerate(value):
            check_shape(item, shape.member, f"{path}[{i}]", problems)
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if lo is not None and len(value) < lo or hi is not None and len(value) > hi:
            problems.append(f"{path}: {len(value)} items, model allows {lo}..{hi}")
    elif t == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map")
            return
        for k, v in value.items():
            check_shape(k, shape.key, f"{path} key {k!r}", problems)
            check_shape(v, shape.value, f"{path}[{k!r}]", problems)
    elif t == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {type(value).__name__}")
            return
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.search(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern!r}")
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if lo is not None and len(value) < lo or hi is not None and len(value) > hi:
            problems.append(f"{path}: length {len(value)}, model allows {lo}..{hi}")
    elif t == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean")
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected an integer")
    elif t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected a number")


def check_documented(f, ours, problems):
    for name, limit in LIMITS.items():
        if len(f.get(name, "")) > limit:
            problems.append(f"{name}: {len(f[name])} characters, Security Hub allows {limit}")
    text = f.get("Remediation", {}).get("Recommendation", {}).get("Text", "")
    if len(text) > 512:
        problems.append(f"Remediation.Recommendation.Text: {len(text)} characters, limit 512")
    fields = f.get("ProductFields", {})
    if len(fields) > 50:
        problems.append(f"ProductFields: {len(fields)} pairs, limit 50")
    for k, v in fields.items():
        if len(k) > 128 or len(v) > 2048:
            problems.append(f"ProductFields[{k!r}]: key or value too long")
    for name in TIMESTAMPS:
        if name in f and not RFC3339.match(f[name]):
            problems.append(f"{name}: {f[name]!r} is not an RFC 3339 timestamp")
    for t in f.get("Types", []):
        parts = t.split("/")
        if not 1 <= len(parts) <= 3 or parts[0] not in NAMESPACES:
            problems.append(f"Types: {t!r} is not namespace/category/classifier of the ASFF taxonomy")
    if f.get("SchemaVersion") != "2018-10-08":
        problems.append(f"SchemaVersion: {f.get('SchemaVersion')!r}")
    if ours:
        if len(f.get("Resources", [])) != 1:
            problems.append(f"Resources: {len(f.get('Resources', []))} resources, ours have exactly one")
        if "SecurityControlId" in f.get("Compliance", {}):
            problems.append("Compliance.SecurityControlId is set: Security Hub would take it for its own control")
        if f.get("GeneratorId", "").startswith("security-control/"):
            problems.append("GeneratorId starts with security-control/")
        if f.get("CreatedAt", "") > f.get("UpdatedAt", ""):
            problems.append("CreatedAt is after UpdatedAt")
        acct = f.get("AwsAccountId", "")
        if not f.get("ProductArn", "").endswith(f":{acct}:product/{acct}/default"):
            problems.append(f"ProductArn {f.get('ProductArn')!r} is not the account's default product")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", required=True)
    ap.add_argument("--access-key", default="testing")
    ap.add_argument("--secret-key", default="testing")
    ap.add_argument("--session-token")
    ap.add_argument("--prefix", default="rekognition-guard/", help="ids of findings that are ours")
    args = ap.parse_args()
    client = boto3.client(
        "securityhub",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key,
        aws_session_token=args.session_token,
    )
    shape = botocore.session.get_session().get_service_model("securityhub").shape_for("AwsSecurityFinding")
    findings, token = [], None
    while True:
        page = client.get_findings(MaxResults=100, **({"NextToken": token} if token else {}))
        findings.extend(page.get("Findings", []))
        token = page.get("NextToken")
        if not token:
            break
    problems = {}
    for f in findings:
        p = []
        check_shape(f, shape, "Finding", p)
        check_documented(f, f.get("Id", "").startswith(args.prefix), p)
        if p:
            problems[f.get("Id", "?")] = p
    json.dump({"findings": findings, "problems": problems}, sys.stdout, default=str)


if __name__ == "__main__":
    main()
