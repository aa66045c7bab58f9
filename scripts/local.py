#!/usr/bin/env python3
"""Run rekognition-guard against a local AWS emulator (moto_server) on 127.0.0.1.

  local.py demo   --binary PATH            the console-bucket story, before and after
  local.py demo-project --binary PATH     a CreateProjectVersion: output bucket, key, training data
  local.py demo-safety --binary PATH      a bucket another account reads: held, then fixed with a key that serves it
  local.py invoke --binary PATH --event F  one event, after seeding what it names
  local.py seed --event F [--opted-out-organization]
                                           only the seeding, in the emulator at MOTO_ENDPOINT (left
                                           running), for driving the binary by hand (docs/src/getting-started.md)

The emulator is started on a free port and stopped on exit, unless MOTO_ENDPOINT points
at one already running. Only loopback is contacted.
"""
import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import typing

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def emulator():
    if os.environ.get("MOTO_ENDPOINT"):
        yield os.environ["MOTO_ENDPOINT"]
        return
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.time() > deadline or proc.poll() is not None:
                sys.exit("local.py: moto_server did not start (pip install 'moto[server]')")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def client(endpoint, service, region=REGION, account=ACCOUNT):
    """A client of the emulator acting in `account` (another account: through STS AssumeRole,
    which moto answers with credentials that act in the role's account; not cached, since a
    reset of the emulator forgets them)."""
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if account != ACCOUNT:
        c = client(endpoint, "sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/local-seed",
                                                RoleSessionName="local-seed")["Credentials"]
        creds = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                 "aws_session_token": c["SessionToken"]}
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **creds)


def env_for(endpoint, region=REGION, **guard):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GUARD_"))}
    env.update(CREDS, AWS_ENDPOINT_URL=endpoint, AWS_REGION=region, AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
    env.update({k: v for k, v in guard.items() if v is not None})
    return env


def console_bucket(endpoint, name, region=REGION, account=ACCOUNT):
    """A bucket as the Custom Labels console leaves it: SSE-S3 and public access blocked."""
    s3 = client(endpoint, "s3", region, account)
    kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name, **kw)
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})


def plain_bucket(endpoint, name, region=REGION, account=ACCOUNT):
    s3 = client(endpoint, "s3", region, account)
    kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name, **kw)


def symmetric_key(endpoint, alias=None, region=REGION, account=ACCOUNT):
    kms = client(endpoint, "kms", region, account)
    arn = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
                         Description="rekognition-guard local key")["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=arn)
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


def opted_out_organization(endpoint):
    """An organization whose root policy opts every account out of AI service data use."""
    org = client(endpoint, "organizations")
    with contextlib.suppress(Exception):
        org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    with contextlib.suppress(Exception):
        org.enable_policy_type(RootId=root, PolicyType="AISERVICES_OPT_OUT_POLICY")
    content = {"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}},
                            "@@operators_allowed_for_child_policies": ["@@none"]}}
    policy = org.create_policy(Name="ai-opt-out", Description="opt out of AI service data use",
                               Type="AISERVICES_OPT_OUT_POLICY", Content=json.dumps(content))
    org.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=root)


def alert_queue(endpoint, region=REGION):
    """An SNS topic with an SQS queue subscribed (raw delivery off, as e-mail gets it)."""
    sns, sqs = client(endpoint, "sns", region), client(endpoint, "sqs", region)
    topic = sns.create_topic(Name="rekognition-guard-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="security-team")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url


# What a sample event needs, derived from its shape: the one data-driven place that `make invoke`,
# `make sam-local` and the SAM local test (tests/sam_local) all read. A new sample in events/ is
# covered when its shape matches a row here; add a row for a new shape rather than a special case
# in a caller.

def _is_sqs_batch(event):
    return any(r.get("eventSource") == "aws:sqs" for r in event.get("Records") or [])


# (predicate, GUARD_* settings the function needs for such an event beyond the template's defaults)
EVENT_SETTINGS = [
    # SQS batches are organization scope's work queue: the function reads them only in that scope.
    (_is_sqs_batch, {"GUARD_SCOPE": "organization"}),
]


def settings_for_event(event):
    """The GUARD_* settings `event` needs (see EVENT_SETTINGS)."""
    settings = {}
    for applies, values in EVENT_SETTINGS:
        if applies(event):
            settings.update(values)
    return settings


def _record_event(record):
    """The EventBridge event an SQS record's body carries, or None."""
    with contextlib.suppress(TypeError, ValueError):
        body = json.loads(record.get("body") or "")
        return body if isinstance(body, dict) else None
    return None


def inner_events(event):
    """The EventBridge events an event carries: itself, or each record body of an SQS batch."""
    if not _is_sqs_batch(event):
        return [event]
    return [e for e in map(_record_event, event["Records"]) if e is not None]


class Seed(typing.NamedTuple):
    seed: typing.Callable  # console_bucket or plain_bucket
    bucket: str
    region: str
    account: str


def buckets_for_event(event):
    """A Seed for every bucket an event names, with the state it gets before the run: guarded
    buckets as the Custom Labels console leaves them, output buckets plain; each in the account
    and region the event names."""
    found = []
    for e in inner_events(event):
        detail = e.get("detail") or {}
        params = detail.get("requestParameters") or {}
        name = detail.get("eventName")
        region = detail.get("awsRegion", REGION)
        account = e.get("account") or ACCOUNT
        if detail.get("eventSource") == "s3.amazonaws.com" and params.get("bucketName"):
            lc = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
            # CreateBucket without a location constraint makes the bucket in us-east-1
            where = lc or ("us-east-1" if name == "CreateBucket" else region)
            found.append(Seed(console_bucket, params["bucketName"], where, account))
        elif name == "CreateProjectVersion":
            out = (params.get("outputConfig") or params.get("OutputConfig") or {})
            if out.get("s3Bucket"):
                found.append(Seed(plain_bucket, out["s3Bucket"], region, account))
            for data in ("trainingData", "testingData"):
                for asset in (params.get(data) or {}).get("assets", []):
                    bucket = asset.get("groundTruthManifest", {}).get("s3Object", {}).get("bucket")
                    if bucket:
                        found.append(Seed(console_bucket, bucket, region, account))
        elif name == "CreateStreamProcessor":
            bucket = ((params.get("output") or {}).get("s3Destination") or {}).get("bucket")
            if bucket:
                found.append(Seed(plain_bucket, bucket, region, account))
        elif name in ("CopyProjectVersion", "StartMediaAnalysisJob", "CreateFaceLivenessSession", "CreateDataset"):
            def at(*path):
                here = params
                for key in path:
                    here = here.get(key) if isinstance(here, dict) else None
                return here if isinstance(here, str) else None
            # Where Rekognition writes: a new bucket as S3 makes it; what it reads: SSE-S3 source data.
            for out in (at("outputConfig", "s3Bucket"), at("settings", "outputConfig", "s3Bucket")):
                if out:
                    found.append(Seed(plain_bucket, out, region, account))
            for src in (at("input", "s3Object", "bucket"),
                        at("datasetSource", "groundTruthManifest", "s3Object", "bucket")):
                if src:
                    found.append(Seed(console_bucket, src, region, account))
        elif e.get("detail-type") == "Scheduled Event":
            for suffix in ("sweep-a1", "sweep-b2", "sweep-c3"):
                found.append(Seed(plain_bucket, f"custom-labels-console-us-east-1-{suffix}", REGION, account))
    return found


def seed_for_event(endpoint, event):
    """Creates what an event names, so that the run shows real work. Returns the event
    (with a sample key id replaced by the emulator's key: moto cannot choose key ids)."""
    if _is_sqs_batch(event):
        # Organization scope reads the organization first (the gate): the emulator's one.
        opted_out_organization(endpoint)
        for record in event["Records"]:
            body = _record_event(record)
            if body is not None:
                record["body"] = json.dumps(seed_for_event(endpoint, body))
        return event
    for s in buckets_for_event(event):
        s.seed(endpoint, s.bucket, s.region, s.account)
    detail = event.get("detail") or {}
    params = detail.get("requestParameters") or {}
    where = {"region": detail.get("awsRegion", REGION), "account": event.get("account") or ACCOUNT}
    key = params.get("kmsKeyId")
    if isinstance(key, str):
        if key.startswith("alias/"):
            aliases = client(endpoint, "kms", **where).list_aliases()["Aliases"]
            if all(a["AliasName"] != key for a in aliases):  # a batch may name it twice
                symmetric_key(endpoint, alias=key, **where)
        else:
            arn = symmetric_key(endpoint, **where)
            print(f"local.py: the emulator cannot create key {key}; using {arn} in its place", file=sys.stderr)
            params["kmsKeyId"] = arn
    return event


def stack_region(event):
    """The region of the stack that receives `event`: there is one stack per region, and a
    CloudTrail event reaches the stack of the region where the call was made."""
    if _is_sqs_batch(event):
        return event["Records"][0].get("awsRegion") or REGION
    return event.get("region") or REGION


def stack_stand_ins(endpoint, region=REGION):
    """What template.yaml's own resources give the function in AWS, made in the emulator in the
    stack's region: the alert topic (with a queue subscribed, to read the alert back) and the
    remediation key, the drift state table. Returns the GUARD_* settings that point at them, and
    the queue URL."""
    topic, queue = alert_queue(endpoint, region)
    key = symmetric_key(endpoint, region=region)
    table = state_table(endpoint, region=region)
    group, role = schedule_group(endpoint, region=region)
    return {"GUARD_ALERT_TOPIC_ARN": topic, "GUARD_KMS_KEY_ID": key, "GUARD_STATE_TABLE": table,
            "GUARD_SCHEDULE_GROUP": group, "GUARD_SCHEDULER_ROLE_ARN": role}, queue


def schedule_group(endpoint, name="rekognition-guard-grace", region=REGION, account=ACCOUNT):
    """notify-then-remediate's schedule group and the role Scheduler would assume, as the
    template creates them (ScheduleGroup, SchedulerRole)."""
    scheduler = client(endpoint, "scheduler", region)
    with contextlib.suppress(scheduler.exceptions.ConflictException):
        scheduler.create_schedule_group(Name=name)
    return name, f"arn:aws:iam::{account}:role/rekognition-guard-SchedulerRole"


# What each exit code of the CLI means (DESIGN.md, "Interfaces").
EXIT_MEANING = {0: "all compliant, remediated or exempt", 1: "a control, the alert or the change record failed",
                2: "bad input or configuration", 3: "non-compliance remains"}


def outcome(code):
    """`non-compliance remains (exit 3)`: how the demo and `make invoke` show an exit code."""
    return f"{EXIT_MEANING.get(code, 'unexpected exit code')} (exit {code})"


def report_exit_code(report):
    """The CLI's exit code for a report the Lambda returned (src/report.rs, `exit_code`):
    1 failed or unfinished, 3 non-compliance remains, 0 otherwise. An SQS batch's response
    says only which records failed."""
    if "batchItemFailures" in report:
        return 1 if report["batchItemFailures"] else 0
    statuses = {c.get("status") for r in report.get("resources") or [] for c in r.get("controls") or []}
    if ("failed" in statuses or report.get("unfinished") or (report.get("alert") or {}).get("error")
            or (report.get("change_record") or {}).get("error")):
        return 1
    return 3 if statuses & {"would-remediate", "non-compliant"} else 0


def run(binary, env, event_path, *extra, event=None):
    """Runs `invoke` on `event_path`, or, when the run needs a changed copy (`event`), on that
    copy through stdin: the command printed is one a person can copy (no temporary file)."""
    shown = os.path.relpath(binary) if os.path.isabs(binary) else binary
    if event is None:
        cmd = [binary, "invoke", "--event", event_path, "--format", "table", *extra]
        print(f"$ {shown} invoke --event {event_path} --format table {' '.join(extra)}".rstrip())
    else:
        cmd = [binary, "invoke", "--event", "-", "--format", "table", *extra]
        print(f"$ {shown} invoke --event - --format table {' '.join(extra)}".rstrip()
              + f" < {event_path}   # as changed above for the emulator")
    stdin = json.dumps(event) if event is not None else None
    proc = subprocess.run(cmd, env=env, text=True, capture_output=True, input=stdin)
    print(proc.stdout, end="")
    if proc.stderr.strip():
        print(proc.stderr, end="", file=sys.stderr)
    print(f"({outcome(proc.returncode)})\n")
    return proc.returncode


def cli(binary, env, *args):
    """Runs a CLI command (not an event), printing it and its output; (exit code, stdout)."""
    cmd = [binary, *args]
    print(f"$ rekognition-guard {' '.join(args)}")
    proc = subprocess.run(cmd, env=env, text=True, capture_output=True)
    print(proc.stdout, end="")
    if proc.stderr.strip():
        print(proc.stderr, end="", file=sys.stderr)
    print(f"(exit {proc.returncode})\n")
    return proc.returncode, proc.stdout


def read_bucket(s3, name):
    """A bucket's encryption, Block Public Access and policy as the emulator has them
    (None where unset). Also used by bench/seed.py to check every tool's result."""
    state = {}
    try:
        rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        state["encryption"] = {**rule["ApplyServerSideEncryptionByDefault"],
                               "BucketKeyEnabled": rule.get("BucketKeyEnabled", False)}
    except s3.exceptions.ClientError:
        state["encryption"] = None
    try:
        state["public_access_block"] = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        state["public_access_block"] = None
    try:
        state["policy"] = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    except s3.exceptions.ClientError:
        state["policy"] = None
    return state


def bucket_state(endpoint, name, account=ACCOUNT):
    return read_bucket(client(endpoint, "s3", account=account), name)


def security_hub(endpoint):
    """Security Hub enabled in the emulator's account, as a security team would have it."""
    hub = client(endpoint, "securityhub")
    hub.enable_security_hub()
    return hub


def our_findings(hub):
    """Our findings as Security Hub stores them (GetFindings; the emulator ignores filters)."""
    out, token = [], None
    while True:
        page = hub.get_findings(MaxResults=100, **({"NextToken": token} if token else {}))
        out += [f for f in page["Findings"] if f["Id"].startswith("rekognition-guard/")]
        token = page.get("NextToken")
        if not token:
            return sorted(out, key=lambda f: f["Id"])


def show_findings(title, findings):
    print(f"--- {title} ---")
    for f in findings:
        print(f"{f['Compliance']['Status']:<8} {f['Severity']['Label']:<13} {f['GeneratorId']:<40} "
              f"created {f['CreatedAt']}  updated {f['UpdatedAt']}  {f['RecordState']}")
    print()


def show(title, value):
    print(f"--- {title} ---")
    print(json.dumps(value, indent=2))
    print()


def demo(args):
    with emulator() as endpoint:
        sample = "events/create-bucket-console.json"
        event = json.load(open(sample))
        bucket = event["detail"]["requestParameters"]["bucketName"]
        console_bucket(endpoint, bucket)
        key = symmetric_key(endpoint, alias="alias/rekognition-guard")
        opted_out_organization(endpoint)
        topic, queue = alert_queue(endpoint)
        hub = security_hub(endpoint)
        table = state_table(endpoint)
        env = env_for(endpoint, GUARD_KMS_KEY_ID="alias/rekognition-guard", GUARD_ALERT_TOPIC_ARN=topic,
                      GUARD_SECURITY_HUB="on", GUARD_STATE_TABLE=table)
        print(f"moto_server at {endpoint}; remediation key alias/rekognition-guard -> {key}\n")
        show(f"bucket {bucket} before (as the Custom Labels console leaves it)", bucket_state(endpoint, bucket))
        first = run(args.binary, env, sample)
        show(f"bucket {bucket} after (read back from the emulator)", bucket_state(endpoint, bucket))
        sqs = client(endpoint, "sqs")
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in messages:
            envelope = json.loads(m["Body"])
            print("--- the alert, as the security team receives it ---")
            print(f"Subject: {envelope.get('Subject')}")
            attrs = {k: v.get("Value") for k, v in envelope.get("MessageAttributes", {}).items()}
            print(f"Attributes: {json.dumps(attrs)}")
            body = envelope.get("Message", "")
            summary, _, report = body.partition("\n--- report (JSON) ---\n")
            print(summary.rstrip())
            print(f"--- report (JSON) --- ({len(report)} bytes, elided here)\n")
        findings = our_findings(hub)
        sse = [f for f in findings if f["GeneratorId"] == "rekognition-guard/sse-kms"]
        if sse:
            show("the sse-kms finding, as Security Hub stores it (GetFindings)", sse[0])
        show_findings("every finding of this invocation, one per resource and control", findings)
        print("Rerun on the same event: nothing left to do, nothing written, no alert.")
        second = run(args.binary, env, sample)
        show_findings("the same findings after the rerun: same ids, CreatedAt kept, UpdatedAt newer",
                      our_findings(hub))
        print("Every write is in the change record (the state table), with its full before and after:")
        code, _ = cli(args.binary, env, "history", "--bucket", bucket, "--format", "table")
        out = subprocess.run([args.binary, "history", "--bucket", bucket, "--format", "json"], env=env,
                             text=True, capture_output=True, check=True).stdout
        change = next(r for r in json.loads(out) if r["control"] == "tls-only")
        print(f"Undo one of them ({change['control']}), exactly as it was before {change['time']}:")
        undone, _ = cli(args.binary, env, "undo", "--change", change["id"])
        show(f"bucket {bucket} after the undo (read back)", bucket_state(endpoint, bucket))
        print("A second undo of the same change is refused:")
        again, _ = cli(args.binary, env, "undo", "--change", change["id"])
        cli(args.binary, env, "history", "--bucket", bucket, "--format", "table")
        if first != 0 or second != 0 or code != 0 or undone != 0 or again != 1:
            sys.exit(f"local.py: demo expected exit codes 0, 0, 0, 0 and 1, got {first}, {second}, {code}, "
                     f"{undone} and {again}")


def demo_project(args):
    """A Custom Labels training run: the output bucket is guarded with the project's own
    key, the key is checked, the training data is reported and left untouched."""
    with emulator() as endpoint:
        sample = "events/create-project-version.json"
        event = json.load(open(sample))
        opted_out_organization(endpoint)
        event = seed_for_event(endpoint, event)
        params = event["detail"]["requestParameters"]
        output = params["outputConfig"]["s3Bucket"]
        training = params["trainingData"]["assets"][0]["groundTruthManifest"]["s3Object"]["bucket"]
        show(f"output bucket {output} before", bucket_state(endpoint, output))
        training_before = bucket_state(endpoint, training)
        code = run(args.binary, env_for(endpoint), sample, event=event)
        show(f"output bucket {output} after (encrypted with the project's key {params['kmsKeyId']})",
             bucket_state(endpoint, output))
        same = bucket_state(endpoint, training) == training_before
        print(f"training data bucket {training}: {'unchanged' if same else 'CHANGED'} (reported only)")
        # 3: the training data is SSE-S3, reported as non-compliant and never changed
        if code != 3 or not same:
            sys.exit(f"local.py: expected exit code 3 and untouched training data, got {code}")


def state_table(endpoint, name="rekognition-guard-state", region=REGION):
    """GUARD_STATE_TABLE as the template creates it: key pk (string), on demand, encrypted,
    TTL expires_at. The function never creates it."""
    ddb = client(endpoint, "dynamodb", region)
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     SSESpecification={"Enabled": True})
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    return name


def print_alerts(endpoint, queue):
    """Each alert in the queue: subject, attributes and the human summary."""
    sqs = client(endpoint, "sqs")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    for m in messages:
        envelope = json.loads(m["Body"])
        print("--- the alert, as the security team receives it ---")
        print(f"Subject: {envelope.get('Subject')}")
        summary = envelope.get("Message", "").partition("\n--- report (JSON) ---\n")[0]
        print(summary.rstrip() + "\n")
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return messages


def demo_drift(args):
    """A remediated bucket is weakened by another principal (a CI role drops the TLS-only
    statement); the CloudTrail event brings the function back, which restores the statement,
    keeps the CI role's own statement, and names who removed it. A pipeline that keeps doing
    it gets three restorations in an hour, then an alert and no more writes."""
    with emulator() as endpoint:
        created = "events/create-bucket-console.json"
        drift = "events/drift-put-bucket-policy.json"
        event = json.load(open(drift))
        bucket = event["detail"]["requestParameters"]["bucketName"]
        weakened = event["detail"]["requestParameters"]["bucketPolicy"]
        who = event["detail"]["userIdentity"]["arn"]
        console_bucket(endpoint, bucket)
        symmetric_key(endpoint, alias="alias/rekognition-guard")
        opted_out_organization(endpoint)
        topic, queue = alert_queue(endpoint)
        table = state_table(endpoint)
        env = env_for(endpoint, GUARD_KMS_KEY_ID="alias/rekognition-guard", GUARD_ALERT_TOPIC_ARN=topic,
                      GUARD_STATE_TABLE=table)
        print(f"moto_server at {endpoint}; restoration counts in DynamoDB table {table}\n")
        print("1. The console creates the bucket; the function guards it.")
        run(args.binary, env, created)
        print_alerts(endpoint, queue)
        s3 = client(endpoint, "s3")
        print(f"2. {who} replaces the bucket policy with one that has no TLS-only statement:")
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(weakened))
        show(f"bucket {bucket} policy, weakened", bucket_state(endpoint, bucket)["policy"])
        print("3. CloudTrail delivers the PutBucketPolicy event; the function runs on it.")
        started = time.monotonic()
        code = run(args.binary, env, drift)
        elapsed = time.monotonic() - started
        show(f"bucket {bucket} policy, {elapsed:.2f} s later (read back from the emulator)",
             bucket_state(endpoint, bucket)["policy"])
        alerts = print_alerts(endpoint, queue)
        print("4. The pipeline keeps re-applying its policy: two more restorations, then the function stops.")
        codes = []
        for _ in range(3):
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(weakened))
            proc = subprocess.run([args.binary, "invoke", "--event", drift, "--format", "json"], env=env,
                                  text=True, capture_output=True)
            codes.append(proc.returncode)
        last = json.loads(proc.stdout)
        held = [c for r in last["resources"] for c in r["controls"] if c["control"] == "tls-only"][0]
        print(f"exit codes {codes}; the fourth: tls-only {held['status']} - {held['detail']}\n")
        held_alerts = print_alerts(endpoint, queue)
        policy = bucket_state(endpoint, bucket)["policy"]
        left = policy == weakened
        print(f"bucket policy after the fourth change: {'left as the pipeline wrote it' if left else 'CHANGED'}")
        if code != 0 or not alerts or codes != [0, 0, 3] or held["status"] != "non-compliant" or not left \
                or not held_alerts:
            sys.exit(f"local.py: demo-drift expected exit 0 then [0, 0, 3], got {code} then {codes}")


def demo_safety(args):
    """Do no harm: a shared results bucket that account 444455556666 reads. With no key
    configured the fix would be the AWS managed aws/s3 key, which serves only its own
    account: the function holds it, writes no encryption, and alerts naming the reader.
    Then a customer key whose policy grants that account kms:Decrypt is configured, and
    the same event remediates the bucket."""
    partner = "444455556666"
    with emulator() as endpoint:
        bucket = "acme-rekognition-shared-results"
        event = json.load(open("events/create-bucket-console.json"))
        event["detail"]["requestParameters"]["bucketName"] = bucket
        plain_bucket(endpoint, bucket)
        s3 = client(endpoint, "s3")
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "PartnerReadsResults", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner}:root"},
             "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
        opted_out_organization(endpoint)
        topic, queue = alert_queue(endpoint)
        print(f"moto_server at {endpoint}\n")
        show(f"bucket {bucket} before: SSE-S3, read by account {partner}", bucket_state(endpoint, bucket))
        sample = "events/create-bucket-console.json"
        print(f"The event: {sample} with bucketName {bucket}.")
        print("1. No key configured: the fix would be aws/s3, which account "
              f"{partner} cannot use. Held.")
        env = env_for(endpoint, GUARD_BUCKET_PREFIXES="acme-rekognition-", GUARD_ALERT_TOPIC_ARN=topic)
        held = run(args.binary, env, sample, event=event)
        encryption_held = bucket_state(endpoint, bucket)["encryption"]
        alerts = print_alerts(endpoint, queue)
        kms = client(endpoint, "kms")
        key_policy = {"Version": "2012-10-17", "Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "PartnerDecrypts", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner}:root"},
             "Action": "kms:Decrypt", "Resource": "*"}]}
        key = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
                             Policy=json.dumps(key_policy))["KeyMetadata"]["Arn"]
        print(f"2. GUARD_KMS_KEY_ID={key}: its key policy grants kms:Decrypt to {partner}.")
        fixed = run(args.binary, {**env, "GUARD_KMS_KEY_ID": key}, sample, event=event)
        after = bucket_state(endpoint, bucket)
        show(f"bucket {bucket} after (read back from the emulator)", after)
        named = any(partner in m["Body"] for m in alerts)
        switched = (after["encryption"] or {}).get("KMSMasterKeyID") == key
        if held != 3 or encryption_held.get("SSEAlgorithm") != "AES256" or not named or fixed != 0 or not switched:
            sys.exit(f"local.py: demo-safety expected exit 3 (held, alert naming {partner}) then 0 (the key), "
                     f"got {held} then {fixed}")


def read_event(path):
    """The sample event at `path`, or one line naming what is wrong and exit 2 (no traceback)."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        sys.stderr.write(f"local.py: no event file {path}; the samples are in events/ (ls events/)\n")
    except (OSError, ValueError) as e:
        sys.stderr.write(f"local.py: cannot read the event {path}: {e}\n")
    sys.exit(2)


def invoke(args):
    """`make invoke`: exits with the CLI's code (the Makefile shows 3 as non-compliance)."""
    sample = read_event(args.event)
    with emulator() as endpoint:
        original = json.dumps(sample, sort_keys=True)
        event = seed_for_event(endpoint, sample)
        changed = json.dumps(event, sort_keys=True) != original
        guard = {**settings_for_event(event), **{k: v for k, v in os.environ.items() if k.startswith("GUARD_")}}
        code = run(args.binary, env_for(endpoint, **guard), args.event, event=event if changed else None)
    print(f"rerun: make invoke EVENT={args.event}")
    sys.exit(code)


def seed(args):
    endpoint = os.environ.get("MOTO_ENDPOINT")
    if not endpoint:
        sys.exit("local.py seed: set MOTO_ENDPOINT to a running emulator (python3 -m moto.server -H 127.0.0.1 -p 5000)")
    event = json.load(open(args.event))
    original = json.dumps(event)
    seeded = seed_for_event(endpoint, event)
    for s in buckets_for_event(seeded):
        how = ("as the Custom Labels console leaves it (SSE-S3, Block Public Access on, no policy)"
               if s.seed is console_bucket else "as S3 makes it")
        print(f"local.py: bucket {s.bucket} in {s.account}/{s.region}, {how}")
    if json.dumps(seeded) != original:
        print(f"local.py: {args.event} names a key id the emulator cannot create: run `make invoke` for it",
              file=sys.stderr)
    if args.opted_out_organization:
        opted_out_organization(endpoint)
        print("local.py: an organization whose AI services opt-out policy opts every account out")
    for name, value in settings_for_event(seeded).items():
        print(f"local.py: this event needs {name}={value}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo")
    d.add_argument("--binary", required=True)
    p = sub.add_parser("demo-project")
    p.add_argument("--binary", required=True)
    i = sub.add_parser("invoke")
    i.add_argument("--binary", required=True)
    i.add_argument("--event", required=True)
    r = sub.add_parser("demo-drift")
    r.add_argument("--binary", required=True)
    sf = sub.add_parser("demo-safety")
    sf.add_argument("--binary", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--event", required=True)
    s.add_argument("--opted-out-organization", action="store_true")
    args = parser.parse_args()
    {"seed": seed, "demo": demo, "demo-project": demo_project, "demo-drift": demo_drift, "demo-safety": demo_safety,
     "invoke": invoke}[args.command](args)


if __name__ == "__main__":
    main()
