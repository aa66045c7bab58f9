#!/usr/bin/env python3
"""The script users write themselves: the three controls, one bucket after another, with
boto3. Read, fix what is wrong, no verification, no exemption tag, no region lookup.

  fix_boto3.py --key-arn ARN (--prefix P | --bucket NAME...) [--org-role ROLE]

With --org-role, the same loop in every other ACTIVE account of the organization, one account
after another, through that account's role (sts:AssumeRole), as such scripts are looped; there
each bucket's Region is looked up (GetBucketLocation) and --key-arn may be an alias, resolved
in the account and the bucket's Region (SSE-KMS keys are regional).

Endpoint, region and credentials come from boto3's standard chain (AWS_ENDPOINT_URL).
"""
import argparse
import json

import boto3
from botocore.exceptions import ClientError

FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def code(e):
    return e.response.get("Error", {}).get("Code")


def fix(s3, bucket, key_arn):
    try:
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = rule["ApplyServerSideEncryptionByDefault"]
        ok = (default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID") == key_arn
              and rule.get("BucketKeyEnabled"))
    except ClientError as e:
        if code(e) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        ok = False
    if not ok:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
            "BucketKeyEnabled": True}]})

    try:
        config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        ok = all(config.get(f) for f in FLAGS)
    except ClientError as e:
        if code(e) != "NoSuchPublicAccessBlockConfiguration":
            raise
        ok = False
    if not ok:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={f: True for f in FLAGS})

    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as e:
        if code(e) != "NoSuchBucketPolicy":
            raise
        policy = {"Version": "2012-10-17", "Statement": []}
    statements = policy.setdefault("Statement", [])
    if not any(s.get("Sid") == "DenyInsecureTransport" for s in statements):
        statements.append({
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--key-arn", required=True)
    parser.add_argument("--prefix")
    parser.add_argument("--bucket", action="append", default=[])
    parser.add_argument("--org-role", help="loop over the organization's other accounts through this role")
    args = parser.parse_args()
    if not args.org_role:
        print(f"fixed {sweep(boto3.client('s3'), args)} buckets")
        return
    me = boto3.client("sts").get_caller_identity()["Account"]
    accounts = [a["Id"] for page in boto3.client("organizations").get_paginator("list_accounts").paginate()
                for a in page["Accounts"] if a["Status"] == "ACTIVE" and a["Id"] != me]
    total = 0
    for account in accounts:
        creds = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{args.org_role}",
                                                RoleSessionName="fix-boto3")["Credentials"]
        session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"])
        total += sweep(session.client("s3"), args, session)
    print(f"fixed {total} buckets in {len(accounts)} accounts")


def sweep(s3, args, session=None):
    buckets = list(args.bucket)
    if args.prefix:
        for page in s3.get_paginator("list_buckets").paginate(Prefix=args.prefix):
            buckets += [b["Name"] for b in page.get("Buckets", [])]
    keys, clients = {}, {}
    for bucket in buckets:
        if session is None:
            fix(s3, bucket, args.key_arn)
            continue
        region = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if region not in clients:
            clients[region] = session.client("s3", region_name=region)
            keys[region] = session.client("kms", region_name=region).describe_key(
                KeyId=args.key_arn)["KeyMetadata"]["Arn"]
        fix(clients[region], bucket, keys[region])
    return len(buckets)


if __name__ == "__main__":
    main()
