#!/usr/bin/env python3
"""`make iam`: least privilege, proven from what the function really sends.

1. Records the end-to-end scenario (tests/iam/scenario.py): every request, the credentials that
   signed it (the function's role, or a member role through AssumeRole) and the step that sent it.
2. Maps each request to its IAM action and resource ARN (src/aws/operations.json, from the Service
   Authorization Reference) and evaluates it against the policies the templates give that role,
   intrinsics resolved (tests/deploy/cfn.py): template.yaml's function role (RemediationPolicy,
   RuntimePolicy, OrganizationPolicy) and deploy/member-role.yaml's member role, whose trust
   policy is evaluated for every AssumeRole too.
3. Fails naming every request not allowed (action, resource, role, step) and every granted
   action no request used, unless it carries a reason (REASONED_UNUSED).
4. Removes each used action from a copy of the template (one at a time) and checks that the
   evaluation then fails naming it.

  check.py --binary target/debug/rekognition-guard [--save FILE]   record, then check
  check.py --log FILE [--template T] [--member-template M]        check a saved recording
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))
sys.path.insert(0, str(HERE))

import cfn  # noqa: E402
from policy_eval import Request, as_list, evaluate, statement_matches  # noqa: E402

OPERATIONS = ROOT / "src" / "aws" / "operations.json"
MEMBER_TEMPLATE = ROOT / "deploy" / "member-role.yaml"
FUNCTION_ROLE = f"arn:aws:iam::{cfn.ACCOUNT_ID}:role/rekognition-guard-RemediationRole"

# Granted, and sent by no request of the function: each with why it is granted anyway.
REASONED_UNUSED = {
    ("RemediationPolicy/ReadOptOutPolicy", "organizations:ListEffectivePolicyValidationErrors"):
        "asked only when the effective S3 policy enforces Block Public Access; moto has neither S3 policies nor "
        "the operation (tests/layers.rs covers both with aws-smithy-mocks)",
    ("RuntimePolicy/WriteLogs", "logs:CreateLogStream"): "the Lambda service writes the function's logs with its role",
    ("RuntimePolicy/WriteLogs", "logs:PutLogEvents"): "the Lambda service writes the function's logs with its role",
    ("RuntimePolicy/OnFailureDestination", "sqs:SendMessage"):
        "Lambda sends a failed asynchronous invocation to the dead-letter queue with the function's role",
    ("MemberRole/rekognition-guard-member/GuardConsoleBuckets", "s3:PutEncryptionConfiguration"):
        "applies SSE-KMS in members; unsent here because the scenario's GUARD_KMS_KEY_ID is the guard account's key, "
        "whose policy does not let the members' own principals use it, so every member encryption is held (do no harm)",
    ("MemberRole/rekognition-guard-member/ReadKeys", "kms:GetKeyPolicy"):
        "reads a member's own key's policy when GUARD_KMS_KEY_ID is an alias (resolved in each member); the scenario "
        "names the guard account's key by ARN, whose policy the function reads itself",
    ("RemediationPolicy/ScheduleRemediations", "scheduler:CreateSchedule"):
        "notify-then-remediate only (a scope rule); the scenario has none. tests/scope.rs creates schedules in moto",
    ("RemediationPolicy/PassSchedulerRole", "iam:PassRole"):
        "passed with CreateSchedule (notify-then-remediate), which the scenario does not send",
    ("RemediationPolicy/ReadScopeRules", "ssm:GetParameter"):
        "read at a cold start when GUARD_SCOPE_RULES is set; the scenario runs without a rules document",
    ("OrganizationPolicy/EventSourceMapping", "sqs:ReceiveMessage"): "the event source mapping polls the work queue with the function's role",
    ("OrganizationPolicy/EventSourceMapping", "sqs:DeleteMessage"): "the event source mapping deletes handled records with the function's role",
    ("OrganizationPolicy/EventSourceMapping", "sqs:GetQueueAttributes"): "the event source mapping reads the queue's attributes with the function's role",
    ("OrganizationPolicy/EventSourceMapping", "sqs:ChangeMessageVisibility"): "the event source mapping returns failed records with the function's role",
}
# Conditions that cannot differ in production, set in every request's context (with why).
CONTEXT_FACTS = {"aws:SecureTransport": "true"}
CONTEXT_NOTES = ["aws:SecureTransport=true: the SDK sends every request to AWS over HTTPS (the scenario's loopback "
                 "HTTP to the emulator stands in for it)"]


def load_operations() -> dict[str, dict[str, Any]]:
    return json.loads(OPERATIONS.read_text())["operations"]


# ----------------------------------------------------------------------------------------------
# Policies, from the templates
# ----------------------------------------------------------------------------------------------

@dataclass
class Roles:
    """The policies each principal has, for one scope (account or organization)."""
    function: list[tuple[str, dict[str, Any]]]
    member: dict[str, list[tuple[str, dict[str, Any]]]]  # member account -> its role's policies
    member_trust: dict[str, dict[str, Any]]


def function_policies(template: dict[str, Any], parameters: dict[str, str],
                      stand_ins: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    resources = cfn.Resolver(template, parameters).resources()
    out = []
    for name, r in resources.items():
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and \
                {"Ref": "RemediationRole"} in (template["Resources"][name]["Properties"].get("Roles") or []):
            text = json.dumps(r["Properties"]["PolicyDocument"])
            for placeholder, arn in stand_ins.items():
                text = text.replace(placeholder, arn)
            out.append((name, json.loads(text)))
    return out


def member_policies(member_template: dict[str, Any], parameters: dict[str, str], account: str):
    resolver = cfn.Resolver(member_template, parameters)
    resolver.pseudo["AWS::AccountId"] = account
    role = resolver.resources()["MemberRole"]["Properties"]
    return ([(f"MemberRole/{p['PolicyName']}", p["PolicyDocument"]) for p in role.get("Policies", [])],
            role["AssumeRolePolicyDocument"])


def roles_for(recording: dict[str, Any], template: dict[str, Any], member_template: dict[str, Any]) -> dict[str, Roles]:
    params = recording["parameters"]
    account = {k: v for k, v in params.items() if k in template["Parameters"] and k not in
               ("MemberRoleName", "MemberExternalId")}
    org = recording["organization"]
    org_params = dict(params, OrganizationId=org["organization_id"])
    member_params = {"GuardAccountId": recording["guard_account"], "GuardFunctionRoleArn": FUNCTION_ROLE,
                     "MemberRoleName": params["MemberRoleName"], "ExternalId": params["MemberExternalId"],
                     "BucketPrefixes": params["BucketPrefixes"], "SecurityHubFindings": params["SecurityHubFindings"],
                     "RekognitionOutputBucketPatterns": params["RekognitionOutputBucketPatterns"]}
    member, trust = {}, {}
    for m in org["members"]:
        member[m], trust[m] = member_policies(member_template, member_params, m)
    stand_ins = recording["stand_ins"]
    return {"account": Roles(function_policies(template, account, stand_ins), {}, {}),
            "organization": Roles(function_policies(template, org_params, stand_ins), member, trust)}


# ----------------------------------------------------------------------------------------------
# Requests -> (principal, action, resource, context)
# ----------------------------------------------------------------------------------------------

@dataclass
class Checked:
    step: str
    scope: str
    principal: str
    account: str
    service: str
    operation: str
    action: str | None
    resource: str
    context: dict[str, str]
    problem: str | None = None  # set when the request cannot be mapped at all


def bucket_of(entry: dict[str, Any]) -> str:
    parts = [p for p in entry["path"].split("/") if p]
    return parts[0] if parts else ""


def key_arn(key: str, account: str, region: str, aliases: dict[str, str]) -> str:
    if key.startswith("arn:") and ":alias/" in key:
        return aliases.get(key, key)
    if key.startswith("arn:"):
        return key
    if key.startswith("alias/"):
        return aliases.get(f"{account}/{region}/{key}", f"arn:aws:kms:{region}:{account}:{key}")
    return f"arn:aws:kms:{region}:{account}:key/{key}"


def map_requests(recording: dict[str, Any], operations: dict[str, Any]) -> list[Checked]:
    principals = {recording["function_access_key"]: (FUNCTION_ROLE, recording["guard_account"])}
    org = recording["organization"]
    members = set(org["members"])
    out = []
    for step in recording["steps"]:
        for e in step["requests"]:
            iam = e.get("iam") or {}
            signer = principals.get(iam.get("access_key"))
            region = iam.get("region") or "us-east-1"
            if signer is None:
                out.append(Checked(step["name"], step["scope"], f"unknown access key {iam.get('access_key')}", "",
                                   e["service"], e["operation"], None, "*", {},
                                   "signed by credentials that are neither the function's nor an assumed role's"))
                continue
            principal, account = signer
            params = iam.get("params") or {}
            if e["operation"] == "AssumeRole" and iam.get("issued_access_key"):
                role = params.get("RoleArn", "")
                principals[iam["issued_access_key"]] = (role, role.split(":")[4] if role.count(":") >= 5 else "")
            spec = operations.get(e["service"], {}).get(e["operation"])
            context = dict(CONTEXT_FACTS, **{"aws:PrincipalArn": principal,
                                              "aws:PrincipalAccount": account})
            if spec is None:
                out.append(Checked(step["name"], step["scope"], principal, account, e["service"], e["operation"],
                                   None, "*", context,
                                   f"{e['service']} {e['operation']} is not in src/aws/operations.json"))
                continue
            names = dict(params, Partition="aws", Region=region, Account=account, Bucket=bucket_of(e))
            if "QueueUrl" in params:
                parts = params["QueueUrl"].rstrip("/").split("/")
                names.update(QueueAccount=parts[-2], QueueName=parts[-1])
            if "KeyId" in params:
                arn = key_arn(params["KeyId"], account, region, recording["key_aliases"])
                names["KeyId"] = arn.rsplit("/", 1)[-1]
                names["Region"], names["Account"] = arn.split(":")[3], arn.split(":")[4]
            try:
                resource = re.sub(r"\$\{(\w+)\}", lambda m: str(names[m.group(1)]), spec["resource"])
            except KeyError as missing:
                out.append(Checked(step["name"], step["scope"], principal, account, e["service"], e["operation"],
                                   spec["action"], "*", context, f"the request does not name {missing}"))
                continue
            if e["operation"] == "AssumeRole":
                target = resource.split(":")[4] if resource.count(":") >= 5 else ""
                if target in members or target == recording["guard_account"]:
                    context["aws:ResourceOrgID"] = org["organization_id"]
                if "ExternalId" in params:
                    context["sts:ExternalId"] = params["ExternalId"]
            out.append(Checked(step["name"], step["scope"], principal, account, e["service"], e["operation"],
                               spec["action"], resource, context))
    return out


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------

def policies_of(c: Checked, roles: dict[str, Roles]) -> list[tuple[str, dict[str, Any]]] | None:
    r = roles[c.scope]
    if c.principal == FUNCTION_ROLE:
        return r.function
    return r.member.get(c.account)


def trust_allows(c: Checked, roles: dict[str, Roles]) -> tuple[bool, str]:
    """An AssumeRole of a member role must also pass that role's trust policy."""
    account = c.resource.split(":")[4]
    trust = roles[c.scope].member_trust.get(account)
    if trust is None:
        return False, f"no member role template resolved for account {account}"
    caller_account = c.principal.split(":")[4]
    for s in as_list(trust.get("Statement")):
        principals = as_list((s.get("Principal") or {}).get("AWS"))
        if not any(p in (c.principal, f"arn:aws:iam::{caller_account}:root") for p in principals):
            continue
        stmt = {k: v for k, v in s.items() if k != "Principal"}
        stmt.setdefault("Resource", "*")
        req = Request(c.principal, c.action or "", c.resource, c.context)
        if s.get("Effect") == "Allow" and statement_matches(stmt, req, "MemberRole trust", []):
            return True, "MemberRole trust policy"
    return False, "the member role's trust policy does not allow it"


@dataclass
class Result:
    checked: list[Checked]
    denied: list[str]
    unused: list[str]
    reasoned: list[str]
    assumptions: Counter
    known: Counter


def check(recording: dict[str, Any], template: dict[str, Any], member_template: dict[str, Any]) -> Result:
    operations = load_operations()
    roles = roles_for(recording, template, member_template)
    checked = map_requests(recording, operations)
    denied, assumptions, known_denials = [], Counter(), Counter()
    used: set[tuple[str, str, str]] = set()  # (role kind, statement, action)
    for c in checked:
        who = "function role" if c.principal == FUNCTION_ROLE else f"member role {c.principal}"
        if c.problem:
            denied.append(f"{c.service} {c.operation}: {c.problem} (role: {who}; step: {c.step})")
            continue
        if c.action is None:
            continue  # needs no permission (sts:GetCallerIdentity)
        policies = policies_of(c, roles)
        if policies is None:
            denied.append(f"{c.action} on {c.resource}: no policy for {who} (step: {c.step})")
            continue
        req = Request(c.principal, c.action, c.resource, c.context)
        decision = evaluate(policies, req)
        for a in decision.assumptions:
            assumptions[a] += 1
        if not decision.allowed:
            denied.append(f"{c.action} on {c.resource} denied to the {who}: {decision.by} "
                          f"({c.service} {c.operation}; step: {c.step})")
            continue
        if c.operation == "AssumeRole" and c.resource.endswith(f":role/{recording['parameters']['MemberRoleName']}"):
            ok, by = trust_allows(c, roles)
            if not ok:
                denied.append(f"sts:AssumeRole on {c.resource} refused to the {who}: {by} (step: {c.step})")
        kind = "function" if c.principal == FUNCTION_ROLE else "member"
        # Every statement that matches the request counts as used by it.
        for name, doc in policies:
            for i, s in enumerate(as_list(doc.get("Statement"))):
                if s.get("Effect") == "Allow" and statement_matches(s, req, "", []):
                    used.add((kind, f"{name}/{s.get('Sid', i)}", c.action.lower()))
    unused, reasoned = [], []
    used_actions = {(kind, action) for kind, _, action in used}
    seen = set()
    for scope, r in roles.items():
        groups = [("function", r.function)] + [("member", p) for p in list(r.member.values())[:1]]
        for kind, policies in groups:
            for name, doc in policies:
                for i, s in enumerate(as_list(doc.get("Statement"))):
                    if s.get("Effect") != "Allow":
                        continue
                    where = f"{name}/{s.get('Sid', i)}"
                    for a in as_list(s.get("Action")):
                        if (kind, a) in seen:
                            continue
                        seen.add((kind, a))
                        if (kind, a.lower()) in used_actions:
                            continue
                        reason = REASONED_UNUSED.get((where, a))
                        if reason:
                            reasoned.append(f"{a} ({where}): {reason}")
                        else:
                            unused.append(f"{a} granted by {where} ({kind} role) and used by no request")
    return Result(checked, denied, unused, reasoned, assumptions, known_denials)


# ----------------------------------------------------------------------------------------------
# Mutations: each used action removed from a copy of a template
# ----------------------------------------------------------------------------------------------

def without_action(template: dict[str, Any], policy_paths: list[list[str]], action: str) -> dict[str, Any]:
    """A copy of `template` whose policies at `policy_paths` no longer grant `action` (a statement
    left without actions is dropped). Shared YAML anchors stay shared, as in the file."""
    mutated = copy.deepcopy(template)
    for path in policy_paths:
        node: Any = mutated["Resources"]
        for key in path:
            node = node[key]
        statements = node["Statement"]
        keep = []
        for s in statements:
            body = s
            # `!If [cond, statement, AWS::NoValue]`
            if isinstance(s, dict) and "Fn::If" in s:
                body = s["Fn::If"][1]
            actions = body.get("Action")
            if isinstance(actions, list):
                while action in actions:
                    actions.remove(action)
                if not actions:
                    continue
            elif actions == action:
                continue
            keep.append(s)
        node["Statement"] = keep
    return mutated


FUNCTION_POLICY_PATHS = [["RemediationPolicy", "Properties", "PolicyDocument"],
                         ["OrganizationPolicy", "Properties", "PolicyDocument"]]
MEMBER_POLICY_PATHS = [["MemberRole", "Properties", "Policies", 0, "PolicyDocument"]]


def mutations(recording: dict[str, Any], template: dict[str, Any], member_template: dict[str, Any],
              result: Result) -> list[str]:
    """Each action a request used, removed in turn from the function role and from the member
    role: the check must fail naming it. Returns the mutations that did NOT fail."""
    survived = []
    function_actions = sorted({c.action for c in result.checked if c.action and c.principal == FUNCTION_ROLE})
    member_actions = sorted({c.action for c in result.checked if c.action and c.principal != FUNCTION_ROLE})
    for label, actions, paths in (("template.yaml", function_actions, FUNCTION_POLICY_PATHS),
                                  ("deploy/member-role.yaml", member_actions, MEMBER_POLICY_PATHS)):
        for action in actions:
            if label == "template.yaml":
                mutated = check(recording, without_action(template, paths, action), member_template)
            else:
                mutated = check(recording, template, without_action(member_template, paths, action))
            if not any(d.startswith(f"{action} ") or f" {action} " in d for d in mutated.denied):
                survived.append(f"{label} without {action}: the check still passes")
            else:
                print(f"  mutation: {label} without {action}: fails ({len([d for d in mutated.denied if action in d])} requests denied)")
    return survived


def summarize(result: Result) -> str:
    by_role: Counter = Counter()
    actions_by_role: dict[str, set[str]] = {}
    for c in result.checked:
        if c.action is None:
            continue
        role = "function role" if c.principal == FUNCTION_ROLE else "member role"
        by_role[role] += 1
        actions_by_role.setdefault(role, set()).add(c.action)
    total = sum(by_role.values())
    distinct = len({c.action for c in result.checked if c.action})
    members = len({c.principal for c in result.checked if c.principal != FUNCTION_ROLE and c.action})
    steps = len({c.step for c in result.checked})
    parts = [f"{by_role[r]} requests / {len(actions_by_role[r])} actions as the {r}" for r in sorted(by_role)]
    return (f"{total} requests of {distinct} distinct actions from {steps} steps checked: {'; '.join(parts)} "
            f"({members} member role principals: {', '.join(sorted({c.principal for c in result.checked if c.principal != FUNCTION_ROLE and c.action}))})")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary")
    ap.add_argument("--log", type=Path, help="a saved recording instead of running the scenario")
    ap.add_argument("--save", type=Path, help="write the recording here")
    ap.add_argument("--template", type=Path, default=cfn.TEMPLATE)
    ap.add_argument("--member-template", type=Path, default=MEMBER_TEMPLATE)
    ap.add_argument("--no-mutations", action="store_true")
    args = ap.parse_args(argv)
    started = time.monotonic()
    if args.log:
        recording = json.loads(args.log.read_text())
    elif args.binary:
        import scenario
        recording = scenario.record(args.binary)
        if args.save:
            args.save.parent.mkdir(parents=True, exist_ok=True)
            args.save.write_text(json.dumps(recording))
    else:
        ap.error("--binary or --log")
    bad_steps = [f"{s['name']} exited {s['exit']}: {s['stderr_tail'][-300:]}" for s in recording["steps"]
                 if s["exit"] not in (0, 1, 3)]
    template = cfn.load_template(args.template)
    member_template = cfn.load_template(args.member_template)
    result = check(recording, template, member_template)
    print(f"iam: {summarize(result)}; scenario {recording['seconds']} s")
    print(f"iam: granted but sent by no request, with the reason it is granted ({len(result.reasoned)}):")
    for r in result.reasoned:
        print(f"  {r}")
    print(f"iam: assumptions ({len(result.assumptions)} conditions not decidable from the request):")
    for note in CONTEXT_NOTES:
        print(f"  {note}")
    for a, n in sorted(result.assumptions.items()):
        print(f"  {a} [{n} requests]")
    for k, n in result.known.items():
        print(f"iam: {k} [{n} requests]")
    failed = False
    for s in bad_steps:
        print(f"FAIL: scenario step {s}")
        failed = True
    for d in sorted(set(result.denied)):
        print(f"FAIL: not allowed: {d}")
        failed = True
    for u in result.unused:
        print(f"FAIL: least privilege: {u}")
        failed = True
    if not args.no_mutations and not result.denied:
        survived = mutations(recording, template, member_template, result)
        for s in survived:
            print(f"FAIL: mutation: {s}")
            failed = True
    print(f"iam: {'FAILED' if failed else 'OK'} in {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
