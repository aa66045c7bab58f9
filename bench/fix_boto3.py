#!/usr/bin/env python3
"""The script users write themselves: the three controls, one bucket after another, with
boto3. Read, fix what is wrong, no verification, no exemption tag, no region lookup.

  fix_boto3.py --key-arn ARN (--prefix P | --bucket NAME...)

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
    args = parser.parse_args()
    s3 = boto3.client("s3")
    buckets = list(args.bucket)
    if args.prefix:
        for page in s3.get_paginator("list_buckets").paginate(Prefix=args.prefix):
            buckets += [b["Name"] for b in page.get("Buckets", [])]
    for bucket in buckets:
        fix(s3, bucket, args.key_arn)
    print(f"fixed {len(buckets)} buckets")


if __name__ == "__main__":
    main()
