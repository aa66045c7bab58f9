#!/usr/bin/env python3
"""`make demo-org`: organization scope against a local emulator (moto_server on 127.0.0.1).

An organization of member accounts; buckets created in two members with their own credentials;
one SQS batch as the event source mapping delivers it (a CreateBucket forwarded from member A, a
CreateProjectVersion from member B in another Region, and a forged record naming an account outside
the organization); the function in GUARD_SCOPE=organization fixes the members' buckets through their
member roles and refuses the forgery. Each member bucket is read back, with that member's own
credentials, before and after. Then `scan --org` sweeps every member x Region in one process and
prints its per-account table.

  org_demo.py --binary PATH
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import boto3

import local

OUTSIDE = "999999999999"
OTHER_REGION = "eu-west-1"


def member_session(endpoint, account):
    """Credentials that act in `account` (moto scopes state by the caller's account)."""
    creds = local.client(endpoint, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/demo-admin", RoleSessionName="demo-seeding")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"])


def member_s3(endpoint, account, region=local.REGION):
    if account == local.ACCOUNT:
        return local.client(endpoint, "s3", region)
    return member_session(endpoint, account).client("s3", endpoint_url=endpoint, region_name=region)


def make_bucket(endpoint, account, name, region=local.REGION, console=False):
    s3 = member_s3(endpoint, account, region)
    kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **kw)
    if console:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})


def organization(endpoint):
    """An organization (opted out of AI service data use at the root) with three members."""
    local.opted_out_organization(endpoint)
    org = local.client(endpoint, "organizations")
    ids = []
    for name in ("ml-team-a", "ml-team-b", "sandbox-c"):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        ids.append(status["AccountId"])
    return ids


def forwarded(sample, account, region, **params):
    """A sample as a member account's forwarder delivers it: account, Region and detail intact."""
    event = json.load(open(sample))
    text = json.dumps(event).replace(local.ACCOUNT, account).replace("us-east-1", region)
    event = json.loads(text)
    event["detail"]["requestParameters"].update(params)
    for key in ("trainingData", "testingData"):
        event["detail"]["requestParameters"].pop(key, None)
    return event


def record(i, body):
    return {"messageId": f"demo-{i}", "receiptHandle": f"rh-{i}", "body": json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rekognition-guard-work",
            "awsRegion": "us-east-1"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    with local.emulator() as endpoint:
        a, b, c = organization(endpoint)
        topic, queue = local.alert_queue(endpoint)
        bucket_a = "custom-labels-console-us-east-1-teama1"
        bucket_b = "acme-rekognition-output-teamb"
        make_bucket(endpoint, a, bucket_a, console=True)
        make_bucket(endpoint, b, bucket_b, OTHER_REGION)
        make_bucket(endpoint, OUTSIDE, "custom-labels-console-us-east-1-outside", console=True)
        print(f"moto_server at {endpoint}: organization with members A={a}, B={b}, C={c}\n")
        watched = [(a, local.REGION, bucket_a), (b, OTHER_REGION, bucket_b),
                   (OUTSIDE, local.REGION, "custom-labels-console-us-east-1-outside")]
        before = {name: local.read_bucket(member_s3(endpoint, acct, region), name) for acct, region, name in watched}
        batch = {"Records": [
            record(1, forwarded("events/create-bucket-console.json", a, local.REGION, bucketName=bucket_a)),
            record(2, forwarded("events/create-project-version-no-kms.json", b, OTHER_REGION,
                                outputConfig={"s3Bucket": bucket_b})),
            record(3, forwarded("events/create-bucket-console.json", OUTSIDE, local.REGION,
                                bucketName="custom-labels-console-us-east-1-outside")),
        ]}
        env = local.env_for(endpoint, GUARD_SCOPE="organization", GUARD_ALERT_TOPIC_ARN=topic,
                            GUARD_REGIONS=f"us-east-1,{OTHER_REGION}", GUARD_BUCKET_PREFIXES="acme-rekognition-")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(batch, f)
        try:
            cmd = [args.binary, "-v", "invoke", "--event", f.name]
            print("$ rekognition-guard invoke --event <an SQS batch of 3 forwarded records>")
            proc = subprocess.run(cmd, env=env, text=True, capture_output=True)
        finally:
            os.unlink(f.name)
        out = json.loads(proc.stdout)
        summary = [line for line in proc.stderr.splitlines() if "invocation summary" in line]
        print(f"batchItemFailures: {json.dumps(out['batchItemFailures'])}  (exit code {proc.returncode})")
        for report in out["reports"]:
            t = report["trigger"]
            print(f"\n{report['message_id']}: {t['kind']} {t.get('event_name')} in {t.get('account')}/{t.get('region')}")
            if t.get("ignored_reason"):
                print(f"  refused: {t['ignored_reason']}")
            for resource in report["resources"]:
                for control in resource["controls"]:
                    print(f"  {resource['type']} {resource['id']}: {control['control']} {control['status']}")
        print(f"\nrequests, from the function's own log: {summary[-1].split('aws_requests=')[-1].split()[0] if summary else '?'}")
        for acct, region, name in watched:
            local.show(f"{name} in {acct}/{region} before", before[name])
            local.show(f"{name} in {acct}/{region} after (read with {acct}'s credentials)",
                       local.read_bucket(member_s3(endpoint, acct, region), name))
        alerts = local.client(endpoint, "sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                                                WaitTimeSeconds=1).get("Messages", [])
        print("--- alerts, as the security team receives them ---")
        for m in alerts:
            print(json.loads(m["Body"]).get("Subject"))

        # The sweep: every member x Region, in one process.
        for acct in (a, b, c):
            for region in (local.REGION, OTHER_REGION):
                make_bucket(endpoint, acct, f"acme-rekognition-{acct[-4:]}-{region}", region)
        print("\n$ rekognition-guard scan --org --format table")
        sweep = subprocess.run([args.binary, "scan", "--org", "--format", "table"], env=env, text=True,
                               capture_output=True)
        print(sweep.stdout, end="")
        print(f"(exit code {sweep.returncode})")
        after_a = local.read_bucket(member_s3(endpoint, a), bucket_a)
        outside = local.read_bucket(member_s3(endpoint, OUTSIDE), "custom-labels-console-us-east-1-outside")
        if (proc.returncode != 3 or sweep.returncode != 0 or outside != before["custom-labels-console-us-east-1-outside"]
                or (after_a["encryption"] or {}).get("SSEAlgorithm") != "aws:kms"):
            sys.exit(f"org_demo.py: expected member buckets fixed, the outside bucket untouched and exit codes 3 (a forgery, a project without a customer key) and 0; "
                     f"got {proc.returncode} and {sweep.returncode}")


if __name__ == "__main__":
    main()
