"""The organization sweep benchmark (issue 12): one moto, an organization of member accounts,
each with guarded buckets in two Regions, swept by

  rekognition-guard   `scan --org` (GUARD_SCOPE=organization), one process
  c7n-org             `c7n-org run` with an accounts.yml (each member's role) and the same
                      Custodian policy as the single-account sweep
  boto3-script        bench/fix_boto3.py's fix() looped over the accounts (ListAccounts,
                      AssumeRole, then the buckets one after another)
  planner+workers     the scheduled event through the binary to an SQS queue (the planner),
                      then the queue drained by concurrent worker invocations of
                      `rekognition-guard invoke --event <SQS batch>`, as Lambda's event source
                      mapping would (batches of BATCH_SIZE, WORKERS at once)

Every member bucket is read back with that member's own credentials after each run.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

import seed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

REGIONS = ("us-east-1", "eu-west-1")
MEMBER_ROLE = "OrganizationAccountAccessRole"
# Each member has its own remediation key in each Region (SSE-KMS keys are regional, and a
# member's bucket is encrypted with its own account's key), under one alias that every tool is
# given: rekognition-guard and Cloud Custodian resolve it to the key's ARN (DescribeKey), the
# boto3 script too.
KEY_ALIAS = "alias/rekognition-guard-bench"
WORK_QUEUE = "rekognition-guard-work"
BATCH_SIZE = 10  # template.yaml's event source mapping
WORKERS = 8  # concurrent worker invocations (the mapping's MaximumConcurrency is higher)
ORG_TOOLS = ("rekognition-guard", "c7n-org", "boto3-script")


def shape(quick):
    """(accounts, guarded buckets per account x Region)"""
    return (4, 10) if quick else (20, 10)


def member_session(endpoint, account):
    """Credentials that act in `account` (moto scopes state by the caller's account)."""
    creds = seed.client(endpoint, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", RoleSessionName="bench-seeding")["Credentials"]
    return MemberSession(creds)


class MemberSession:
    """Clients with one member's credentials, from boto3's default session (whose loaded
    service models are shared: a Session each would load them again)."""

    def __init__(self, creds):
        self.creds = dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])

    def client(self, service, **kw):
        return boto3.client(service, **self.creds, **kw)


def member_s3(endpoint, account, region, session=None):
    from botocore.config import Config
    return (session or member_session(endpoint, account)).client(
        "s3", endpoint_url=endpoint, region_name=region,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=16))


def bucket_plan(accounts, per):
    """[(account, region, name, state)]: per guarded buckets in every account x Region (the
    five states in turn) and one unguarded bucket in each."""
    out = []
    for a, account in enumerate(accounts):
        for region in REGIONS:
            for i in range(per):
                out.append((account, region, f"{seed.GUARDED_PREFIX}{region}-{account}-{i:02d}",
                            seed.STATES[(a + i) % len(seed.STATES)]))
            out.append((account, region, f"{seed.UNGUARDED_PREFIX}{region}-{account}", "unguarded"))
    return out


def seed_org(endpoint, n_accounts, per):
    """After a reset: the single-account world (key, organization opted out at the root, alert
    topic), n_accounts member accounts, and their buckets created with their own credentials.
    Returns {key_arn, topic_arn, accounts, buckets}."""
    world = seed.seed_world(endpoint, [])
    org = seed.client(endpoint, "organizations")
    accounts = [org.create_account(Email=f"bench-member-{i:02d}@example.com", AccountName=f"bench-member-{i:02d}")
                ["CreateAccountStatus"]["AccountId"] for i in range(n_accounts)]
    buckets = bucket_plan(accounts, per)
    sessions = {a: member_session(endpoint, a) for a in accounts}
    clients = {(a, r): member_s3(endpoint, a, r, sessions[a]) for a in accounts for r in REGIONS}

    def key(pair):
        kms = sessions[pair[0]].client("kms", endpoint_url=endpoint, region_name=pair[1])
        arn = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
                             Description="rekognition-guard bench member key")["KeyMetadata"]["Arn"]
        kms.enable_key_rotation(KeyId=arn)
        kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=arn)
        return arn

    def one(b):
        account, region, name, state = b
        s3 = clients[(account, region)]
        kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **kw)
        seed.seed_bucket(s3, name, state, keys[(account, region)], create=False, account=account)

    with ThreadPoolExecutor(8) as pool:
        pairs = list(clients)
        keys = dict(zip(pairs, pool.map(key, pairs)))
        list(pool.map(one, buckets))
    return dict(world, accounts=accounts, buckets=buckets, keys=keys)


def check_org(endpoint, world):
    """seed.check_all's verdicts, every bucket read with its own account's credentials."""
    from local import read_bucket  # scripts/local.py, on the path through seed
    sessions = {a: member_session(endpoint, a) for a in world["accounts"]}
    clients = {(a, r): member_s3(endpoint, a, r, sessions[a]) for a in world["accounts"] for r in REGIONS}
    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(lambda b: read_bucket(clients[(b[0], b[1])], b[2]), world["buckets"]))
    out = {"compliant": 0, "guarded": 0, "untouched": 0, "unguarded": 0, "problems": []}
    for (account, region, name, seeded), state in zip(world["buckets"], states):
        problem = seed.verdict(name, seeded, state, world["keys"][(account, region)])
        kind = "unguarded" if seeded == "unguarded" else "guarded"
        out[kind] += 1
        if problem:
            out["problems"].append((f"{account}/{region}/{name}", seeded, problem))
        else:
            out["untouched" if kind == "unguarded" else "compliant"] += 1
    return out


def guard_env(world, **extra):
    return dict(GUARD_SCOPE="organization", GUARD_KMS_KEY_ID=KEY_ALIAS,
                GUARD_ALERT_TOPIC_ARN=world["topic_arn"], GUARD_MEMBER_ROLE_NAME=MEMBER_ROLE,
                GUARD_REGIONS=",".join(REGIONS), **extra)


def command(tool, binary, world, workdir, custodian_policy):
    """(argv, extra env) of one organization tool."""
    if tool == "rekognition-guard":
        return [binary, "scan", "--org", "--format", "json"], guard_env(world)
    if tool == "c7n-org":
        # One Region: Custodian's aws.s3 lists (and fixes) every Region's buckets from any
        # Region, so both Regions in accounts.yml would do every bucket twice. Its best case.
        accounts = {"accounts": [{"account_id": a, "name": f"member-{a}", "regions": [REGIONS[0]],
                                  "role": f"arn:aws:iam::{a}:role/{MEMBER_ROLE}"} for a in world["accounts"]]}
        config = Path(workdir) / "accounts.yml"
        config.write_text(json.dumps(accounts, indent=2))  # JSON is YAML
        policy = custodian_policy(workdir, KEY_ALIAS)
        out = Path(workdir) / "c7n-org-out"
        subprocess.run(["rm", "-rf", str(out)], check=False)
        c7n_org = Path(sys.executable).with_name("c7n-org")
        argv = [str(c7n_org)] if c7n_org.exists() else [sys.executable, "-m", "c7n_org.cli"]
        return [*argv, "run", "-c", str(config), "-s", str(out), "-u", str(policy), "--cache-period", "0"], {}
    if tool == "boto3-script":
        return [sys.executable, str(HERE / "fix_boto3.py"), "--key-arn", KEY_ALIAS,
                "--prefix", seed.GUARDED_PREFIX, "--org-role", MEMBER_ROLE], {}
    raise ValueError(tool)


# --- planner -> workers ---------------------------------------------------------------

def sqs_record(message, queue_arn, region):
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"], "attributes": {"ApproximateReceiveCount": "1",
                                                    "SentTimestamp": str(int(time.time() * 1000))},
            "messageAttributes": {}, "md5OfBody": message.get("MD5OfBody", ""), "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn, "awsRegion": region}


def planner_workers(endpoint, binary, world, run_process, tool_env, workdir, workers=WORKERS, batch=BATCH_SIZE):
    """The scheduled event through the binary (planner) to the work queue, then the queue drained
    by `workers` concurrent worker processes, each given one SQS batch of up to `batch` records
    (messages a worker did not report in batchItemFailures are deleted, as the mapping does).
    Returns {planner, workers: [runs], wall, queued, rounds, failures}."""
    sqs = seed.client(endpoint, "sqs")
    queue_url = sqs.create_queue(QueueName=WORK_QUEUE, Attributes={"VisibilityTimeout": "900"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    env = tool_env(endpoint, **guard_env(world, GUARD_WORK_QUEUE_URL=queue_url))
    t0 = time.perf_counter()
    planner = run_process([binary, "invoke", "--event", str(ROOT / "events" / "scheduled-scan.json")], env)
    runs, failures, queued, rounds = [], 0, 0, 0

    def receive():
        out = []
        while len(out) < batch:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, batch - len(out)),
                                      WaitTimeSeconds=0).get("Messages", [])
            if not got:
                break
            out += got
        return out

    def work(i, messages):
        path = Path(workdir) / f"batch-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps({"Records": [sqs_record(m, queue_arn, seed.REGION) for m in messages]}))
        res = run_process([binary, "invoke", "--event", str(path), "--format", "json"], env)
        failed = set()
        try:
            failed = {f["itemIdentifier"] for f in json.loads(res["stdout"]).get("batchItemFailures", [])}
        except (ValueError, AttributeError):
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for k in range(0, len(done), 10):
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(done[k:k + 10])])
        res["records"], res["failed"] = len(messages), len(failed)
        return res

    # Drain: keep `workers` invocations busy while the queue has messages (a re-queued
    # remainder shows up as a new message and is picked up the same way).
    with ThreadPoolExecutor(workers) as pool:
        pending = set()
        idle_rounds = 0
        while True:
            while len(pending) < workers:
                messages = receive()
                if not messages:
                    break
                queued += len(messages)
                pending.add(pool.submit(work, len(runs) + len(pending), messages))
            if not pending:
                idle_rounds += 1
                if idle_rounds > 2:
                    break
                time.sleep(0.05)
                continue
            idle_rounds = 0
            rounds += 1
            done = next(iter(pending)) if len(pending) == 1 else None
            if done is None:
                from concurrent.futures import FIRST_COMPLETED, wait
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            else:
                finished = {done}
                done.result()
            for f in finished:
                pending.discard(f)
                r = f.result()
                failures += r["failed"]
                runs.append(r)
    wall = time.perf_counter() - t0
    return {"planner": planner, "workers": runs, "wall": wall, "records": queued, "failures": failures,
            "queue_url": queue_url}


def planner_items(stdout):
    """How many items the planner queued, from its report (best effort: the JSON report)."""
    try:
        report = json.loads(stdout)
    except ValueError:
        return None
    text = json.dumps(report)
    return text


def measure_org(moto, tool, binary, shape_, workdir, reps, run_process, tool_env, custodian_policy, log):
    """reps runs of one organization tool (or "planner+workers") on freshly seeded identical
    organizations; one dict per run, in run.measure's shape (run.summarize applies)."""
    runs = []
    for i in range(reps):
        moto.reset()
        world = seed_org(moto.endpoint, *shape_)
        start = moto.mark()
        if tool == "planner+workers":
            pw = planner_workers(moto.endpoint, binary, world, run_process, tool_env, workdir)
            res = {"wall": pw["wall"], "rc": max([pw["planner"]["rc"], *(w["rc"] for w in pw["workers"])]),
                   "rss_mb": max(w["rss_mb"] for w in [pw["planner"], *pw["workers"]]), "timed_out": False,
                   "stderr": pw["planner"]["stderr"]}
            extra = {"planner_wall": pw["planner"]["wall"], "worker_runs": len(pw["workers"]),
                     "records": pw["records"], "record_failures": pw["failures"],
                     "worker_wall_median": sorted(w["wall"] for w in pw["workers"])[len(pw["workers"]) // 2]
                     if pw["workers"] else None}
        else:
            argv, env = command(tool, binary, world, workdir, custodian_policy)
            res = run_process(argv, tool_env(moto.endpoint, **env))
            extra = {}
        end = moto.mark()
        window = moto.window(start, end)
        check = check_org(moto.endpoint, world)
        ops = window.operations()
        runs.append({"wall": res["wall"], "rss_mb": res["rss_mb"], "rc": res["rc"], "timed_out": res["timed_out"],
                     "requests": len(window), "writes": window.writes(), "process_level": window.process_level(),
                     "bucket_requests": None, "by_state": {}, "operations": dict(ops),
                     "check": {k: v for k, v in check.items() if k != "problems"},
                     "problems": check["problems"][:5], "n_problems": len(check["problems"]),
                     "accounts": len(world["accounts"]), **extra})
        log(f"  {tool} run {i + 1}/{reps}: {res['wall']:.2f} s, {res['rss_mb']:.1f} MB, {len(window)} requests "
            f"({window.writes()} writes), rc={res['rc']}, compliant {check['compliant']}/{check['guarded']}, "
            f"unguarded untouched {check['untouched']}/{check['unguarded']} {extra or ''}")
        if check["problems"]:
            log(f"    not remediated, e.g. {check['problems'][:2]}")
        if res["rc"] != 0 and res.get("stderr"):
            log(f"    stderr tail: {res['stderr'][-600:]!r}")
        if res["timed_out"]:
            break
    return runs
