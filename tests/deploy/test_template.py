"""template.yaml: lint-clean, translatable by SAM, and deploying what DESIGN.md asks for."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from typing import Any

import pytest

import cfn

FUNCTION = "RemediationFunction"

# The environment the function reads (src/config.rs); the template sets each one from a parameter.
FUNCTION_ENV = {
    "GUARD_SCOPE", "GUARD_MEMBER_ROLE_NAME", "GUARD_MEMBER_EXTERNAL_ID", "GUARD_ACCOUNTS_EXCLUDE",
    "GUARD_OUS_EXCLUDE", "GUARD_REGIONS", "GUARD_WORK_QUEUE_URL",
    "GUARD_MODE",
    "GUARD_REENCRYPT", "GUARD_REENCRYPT_ROLE_ARN",
    "GUARD_KMS_KEY_ID",
    "GUARD_ALERT_TOPIC_ARN",
    "GUARD_CONSOLE_BUCKET_PREFIX",
    "GUARD_BUCKET_PREFIXES",
    "GUARD_EXEMPT_TAG",
    "GUARD_MIN_TLS_VERSION",
    "GUARD_OPT_OUT_CACHE_SECONDS",
    "GUARD_REQUIRE_CMK",
    "GUARD_OPT_OUT_SERVICES",
    "GUARD_SCAN_CONCURRENCY",
    "GUARD_KMS_KEY_POLICY",
    "GUARD_RECHECK_SECONDS",
    "GUARD_OUTPUT_BUCKET_PATTERNS",
    "GUARD_STATE_TABLE",
    "GUARD_HISTORY_DAYS",
    "GUARD_SCOPE_RULES",
    "GUARD_SCHEDULE_GROUP",
    "GUARD_SCHEDULER_ROLE_ARN",
    "GUARD_SECURITY_HUB",
}


def _of_type(resources: dict[str, Any], type_: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == type_}


# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------


def test_cfn_lint_reports_no_error_and_no_warning() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from cfnlint.runner.cli import main; sys.argv[0] = 'cfn-lint'; main()",
         "--format", "parseable", "--", str(cfn.TEMPLATE)],
        capture_output=True, text=True, cwd=cfn.ROOT, timeout=300,
    )
    assert result.returncode == 0 and result.stdout.strip() == "", (
        f"cfn-lint exit {result.returncode}:\n{result.stdout}{result.stderr}"
    )


def test_cfn_lint_catches_a_broken_template(tmp_path) -> None:
    """The lint test above would be worthless if cfn-lint silently accepted anything."""
    broken = cfn.TEMPLATE.read_text().replace("Runtime: provided.al2023", "Runtime: provided.al2099")
    path = tmp_path / "template.yaml"
    path.write_text(broken)
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from cfnlint.runner.cli import main; sys.argv[0] = 'cfn-lint'; main()",
         "--format", "parseable", "--", str(path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0 and "provided.al2099" in result.stdout


@pytest.mark.parametrize("parameters", [
    {},
    {"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
     "BucketPrefixes": "acme-rekognition-,ml-data-", "RekognitionOutputBucketPatterns": "acme-*-output",
     "AlertEmail": "security@example.com", "MinTlsVersion": "1.2", "ReservedConcurrency": "-1",
     "Mode": "audit"},
], ids=["defaults", "all-options"])
def test_sam_translator_produces_cloudformation(template: dict[str, Any], parameters: dict[str, Any]) -> None:
    out = cfn.translate(template, parameters)
    assert "Transform" not in out
    types = {r["Type"] for r in out["Resources"].values()}
    assert not any(t.startswith("AWS::Serverless::") for t in types)
    assert {"AWS::Lambda::Function", "AWS::Events::Rule", "AWS::Lambda::Permission",
            "AWS::Lambda::EventInvokeConfig"} <= types


def test_translator_adds_no_role_or_policy(translated: dict[str, Any]) -> None:
    """With an explicit Role, SAM must not generate a role or attach managed policies."""
    roles = _of_type(translated["Resources"], "AWS::IAM::Role")
    # SchedulerRole: EventBridge Scheduler's, for notify-then-remediate (only invokes the function);
    # ReencryptJobRole is S3 Batch Operations' (with ReencryptExistingObjects), not the function's.
    assert set(roles) == {"RemediationRole", "SchedulerRole", "ReencryptJobRole"}
    assert set(_of_type(translated["Resources"], "AWS::IAM::Policy")) == {
        "RemediationPolicy", "RuntimePolicy", "OrganizationPolicy", "SchedulerInvokePolicy", "ReencryptPolicy"}
    assert not _of_type(translated["Resources"], "AWS::IAM::ManagedPolicy")


def test_the_scheduler_role_may_only_invoke_the_function(template: dict[str, Any]) -> None:
    resources = cfn.Resolver(template).resources()
    trust = resources["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
                      "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"aws:SourceAccount": cfn.ACCOUNT_ID}}}]
    policy = resources["SchedulerInvokePolicy"]["Properties"]
    assert policy["Roles"] == ["<ref:SchedulerRole>"]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "<RemediationFunction.Arn>"}]


# ---------------------------------------------------------------------------------------------
# The function
# ---------------------------------------------------------------------------------------------


def test_function_runtime_build_and_limits(template: dict[str, Any]) -> None:
    fn = template["Resources"][FUNCTION]
    assert fn["Type"] == "AWS::Serverless::Function"
    # (Metadata also carries checkov's suppressions, with their reasons: tests/deploy/test_iam_eval.py.)
    assert {k: v for k, v in fn["Metadata"].items() if k != "checkov"} == {
        "BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "rekognition-guard"}}
    props = fn["Properties"]
    assert props["CodeUri"] == "."
    assert props["Runtime"] == "provided.al2023"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "bootstrap"
    assert props["MemorySize"] == 128
    assert 60 <= props["Timeout"] <= 900
    assert props["LoggingConfig"]["LogFormat"] == "JSON"


def test_cargo_binary_is_the_one_sam_builds() -> None:
    cargo = tomllib.loads((cfn.ROOT / "Cargo.toml").read_text())
    assert "rekognition-guard" in [b["name"] for b in cargo.get("bin", [])]


@pytest.mark.parametrize("reserved,expected", [("5", 5), ("0", 0), ("-1", None)])
def test_reserved_concurrency(template: dict[str, Any], reserved: str, expected: int | None) -> None:
    fn = cfn.Resolver(template, {"ReservedConcurrency": reserved}).resources()[FUNCTION]["Properties"]
    assert (int(fn["ReservedConcurrentExecutions"]) if "ReservedConcurrentExecutions" in fn else None) == expected


def test_environment_comes_from_parameters(template: dict[str, Any]) -> None:
    env = template["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    assert set(env) == FUNCTION_ENV
    r = cfn.Resolver(template, {
        "Mode": "audit", "BucketPrefixes": "acme-,ml-", "MinTlsVersion": "1.3", "ExemptTagKey": "guard:skip",
        "OptOutCacheSeconds": "60", "RequireCustomerManagedKey": "false", "OptOutServices": "rekognition,textract",
        "ScanConcurrency": "4", "ConsoleBucketPrefix": "custom-labels-console-",
        "KmsKeyPolicy": "configured-only", "RecheckSeconds": "30",
        "RekognitionOutputBucketPatterns": "acme-*-output",
        "ScanConcurrency": "4", "ConsoleBucketPrefix": "custom-labels-console-", "SecurityHubFindings": "false",
    })
    resolved = r.resources()[FUNCTION]["Properties"]["Environment"]["Variables"]
    assert resolved == {
        "GUARD_MODE": "audit",
        "GUARD_KMS_KEY_ID": "<RemediationKey.Arn>",
        "GUARD_ALERT_TOPIC_ARN": "<ref:AlertTopic>",
        "GUARD_CONSOLE_BUCKET_PREFIX": "custom-labels-console-",
        "GUARD_BUCKET_PREFIXES": "acme-,ml-",
        "GUARD_EXEMPT_TAG": "guard:skip",
        "GUARD_MIN_TLS_VERSION": "1.3",
        "GUARD_OPT_OUT_CACHE_SECONDS": "60",
        "GUARD_REQUIRE_CMK": "false",
        "GUARD_OPT_OUT_SERVICES": "rekognition,textract",
        "GUARD_SCAN_CONCURRENCY": "4",
        "GUARD_SCOPE": "account",
        "GUARD_KMS_KEY_POLICY": "configured-only",
        "GUARD_RECHECK_SECONDS": "30",
        "GUARD_OUTPUT_BUCKET_PATTERNS": "acme-*-output",
        "GUARD_STATE_TABLE": "<ref:StateTable>",
        "GUARD_HISTORY_DAYS": "400",
        "GUARD_SCHEDULE_GROUP": "<ref:ScheduleGroup>",
        "GUARD_SCHEDULER_ROLE_ARN": "<SchedulerRole.Arn>",
        "GUARD_SECURITY_HUB": "off",
        "GUARD_REENCRYPT": "off",
    }


def test_defaults_match_design(template: dict[str, Any]) -> None:
    env = cfn.Resolver(template).resources()[FUNCTION]["Properties"]["Environment"]["Variables"]
    assert env["GUARD_MODE"] == "remediate"
    assert env["GUARD_CONSOLE_BUCKET_PREFIX"] == "custom-labels-console-"
    assert env["GUARD_EXEMPT_TAG"] == "rekognition-guard:exempt"
    assert env["GUARD_OPT_OUT_CACHE_SECONDS"] == "900"
    assert env["GUARD_REQUIRE_CMK"] == "true"
    assert env["GUARD_OPT_OUT_SERVICES"] == "rekognition"
    assert env["GUARD_SCAN_CONCURRENCY"] == "16"
    assert env["GUARD_KMS_KEY_POLICY"] == "customer-managed"
    assert env["GUARD_RECHECK_SECONDS"] == "300"
    # The template imports Security Hub findings unless told not to (the CLI's default is off).
    assert env["GUARD_SECURITY_HUB"] == "on"
    # Optional settings are left unset rather than set to "".
    assert "GUARD_BUCKET_PREFIXES" not in env
    assert "GUARD_MIN_TLS_VERSION" not in env
    assert "GUARD_OUTPUT_BUCKET_PATTERNS" not in env
    assert env["GUARD_STATE_TABLE"] == "<ref:StateTable>"


def test_state_table_is_on_demand_encrypted_with_ttl(template: dict[str, Any]) -> None:
    """Drift restoration counts and the change record (src/aws/dynamodb.rs): key pk (string),
    TTL expires_at; an audit trail: point-in-time recovery on, kept when the stack goes."""
    table = cfn.Resolver(template).resources()["StateTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert cfn.Resolver(template).resources()[FUNCTION]["Properties"]["Environment"]["Variables"]["GUARD_HISTORY_DAYS"] == "400"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


@pytest.mark.parametrize("name,value,ok", [
    ("BucketPrefixes", "", True),
    ("BucketPrefixes", "acme-rekognition-,ml.data-", True),
    ("BucketPrefixes", "acme-, ml-", False),        # a space would become part of the prefix
    ("BucketPrefixes", "acme-,,ml-", False),        # an empty prefix would match every bucket
    ("BucketPrefixes", "Acme-", False),
    ("RekognitionOutputBucketPatterns", "acme-*-output,ml-?-out", True),
    ("RekognitionOutputBucketPatterns", "arn:aws:s3:::x", False),
    ("KmsKeyArn", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
    ("KmsKeyArn", "alias/aws/s3", False),
    ("SweepSchedule", "rate(6 hours)", True),
    ("SweepSchedule", "daily", False),
    ("AlertEmail", "security@example.com", True),
    ("AlertEmail", "security", False),
])
def test_parameter_constraints(template: dict[str, Any], name: str, value: str, ok: bool) -> None:
    pattern = template["Parameters"][name]["AllowedPattern"]
    # CloudFormation anchors AllowedPattern at both ends.
    assert bool(re.fullmatch(pattern, value)) is ok


# ---------------------------------------------------------------------------------------------
# Triggers, keys, topic, dead letters, alarms
# ---------------------------------------------------------------------------------------------


def test_sweep_schedule_rule(template: dict[str, Any], translated: dict[str, Any]) -> None:
    """Scheduled rules are not matched by PutEvents (no emulator fires them), so the schedule is
    checked here, on the template, instead of in test_event_patterns.py."""
    events = template["Resources"][FUNCTION]["Properties"]["Events"]
    assert events["Sweep"]["Type"] == "Schedule"
    assert events["Sweep"]["Properties"]["Schedule"] == {"Ref": "SweepSchedule"}
    default = template["Parameters"]["SweepSchedule"]["Default"]
    assert re.fullmatch(r"cron\(\S+ \S+ \S+ \S+ \S+ \S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)", default)
    rule = translated["Resources"]["RemediationFunctionSweep"]["Properties"]
    assert rule["ScheduleExpression"] == {"Ref": "SweepSchedule"}
    assert rule["State"] == "ENABLED"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert "EventPattern" not in rule


def test_every_rule_invokes_the_function_and_dead_letters(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    # CentralRule (organization scope) targets the work queue, not the function.
    rules = {k: v for k, v in _of_type(resources, "AWS::Events::Rule").items()
             if not k.startswith("Central")}
    assert set(rules) == {
        "RemediationFunctionCreateBucket", "RemediationFunctionCreateProjectVersion",
        "RemediationFunctionCreateStreamProcessor", "RemediationFunctionSweep",
        "RemediationFunctionCopyProjectVersion", "RemediationFunctionCreateDataset",
        "RemediationFunctionStartMediaAnalysisJob", "RemediationFunctionCreateFaceLivenessSession",
        "RemediationFunctionBucketDrift", "RemediationFunctionKeyDrift",
        "RemediationFunctionOptOutPolicyDrift", "RemediationFunctionStreamProcessorDrift",
        "RemediationFunctionDeleteBucket",
    }
    permissions = _of_type(resources, "AWS::Lambda::Permission")
    allowed_sources = {p["Properties"]["SourceArn"]["Fn::GetAtt"][0] for p in permissions.values()}
    assert allowed_sources == set(rules)
    queue_policy = resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    dlq_sources = {a["Fn::GetAtt"][0] for a in queue_policy["Condition"]["ArnEquals"]["aws:SourceArn"]}
    assert dlq_sources == set(rules)
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_async_invocation_retries_then_dead_letters(translated: dict[str, Any]) -> None:
    (config,) = _of_type(translated["Resources"], "AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert 1 <= props["MaximumRetryAttempts"] <= 2
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_dead_letter_queue_is_encrypted(template: dict[str, Any]) -> None:
    props = template["Resources"]["DeadLetterQueue"]["Properties"]
    assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


def test_alert_topic_is_encrypted_and_email_is_optional(template: dict[str, Any]) -> None:
    assert template["Resources"]["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertKey"}
    assert "AlertEmailSubscription" not in cfn.Resolver(template).resources()
    sub = cfn.Resolver(template, {"AlertEmail": "sec@example.com"}).resources()["AlertEmailSubscription"]
    assert sub["Properties"] == {"TopicArn": "<ref:AlertTopic>", "Protocol": "email", "Endpoint": "sec@example.com"}


def test_alert_key_lets_alarms_and_the_function_publish(template: dict[str, Any]) -> None:
    statements = template["Resources"]["AlertKey"]["Properties"]["KeyPolicy"]["Statement"]
    principals = [s["Principal"] for s in statements if s["Effect"] == "Allow"]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    assert {"AWS": {"Fn::GetAtt": ["RemediationRole", "Arn"]}} in principals


def test_remediation_key_created_unless_given(template: dict[str, Any]) -> None:
    created = cfn.Resolver(template).resources()
    key = created["RemediationKey"]
    assert key["DeletionPolicy"] == "Retain" and key["UpdateReplacePolicy"] == "Retain"
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True
    assert props["KeySpec"] == "SYMMETRIC_DEFAULT"  # Custom Labels supports only symmetric keys
    assert created[FUNCTION]["Properties"]["Environment"]["Variables"]["GUARD_KMS_KEY_ID"] == "<RemediationKey.Arn>"

    arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    given = cfn.Resolver(template, {"KmsKeyArn": arn}).resources()
    assert "RemediationKey" not in given and "RemediationKeyAlias" not in given
    assert given[FUNCTION]["Properties"]["Environment"]["Variables"]["GUARD_KMS_KEY_ID"] == arn


def test_remediation_key_policy_scopes_use_to_s3_and_rekognition(template: dict[str, Any]) -> None:
    statements = cfn.Resolver(template).resources()["RemediationKey"]["Properties"]["KeyPolicy"]["Statement"]
    admin = [s for s in statements if s["Principal"] == {"AWS": f"arn:aws:iam::{cfn.ACCOUNT_ID}:root"}]
    assert len(admin) == 1
    for s in statements:
        if s["Principal"] == {"AWS": "*"}:
            cond = s["Condition"]["StringEquals"]
            assert cond["kms:CallerAccount"] == cfn.ACCOUNT_ID
            via = cond["kms:ViaService"]
            via = via if isinstance(via, list) else [via]
            assert set(via) <= {f"s3.{cfn.REGION}.amazonaws.com", f"rekognition.{cfn.REGION}.amazonaws.com"}
    use = [s for s in statements if "kms:GenerateDataKey*" in s["Action"]]
    assert set(use[0]["Condition"]["StringEquals"]["kms:ViaService"]) == {
        f"s3.{cfn.REGION}.amazonaws.com", f"rekognition.{cfn.REGION}.amazonaws.com"}


def test_alarms_notify_the_topic(template: dict[str, Any]) -> None:
    alarms = _of_type(template["Resources"], "AWS::CloudWatch::Alarm")
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"] for a in alarms.values()}
    errors = metrics[("AWS/Lambda", "Errors")]
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}]
    dlq = metrics[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    for alarm in (errors, dlq):
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]


def test_log_group_is_the_functions(template: dict[str, Any]) -> None:
    logging = template["Resources"][FUNCTION]["Properties"]["LoggingConfig"]
    assert logging["LogGroup"] == {"Ref": "FunctionLogGroup"}
    assert "RetentionInDays" in template["Resources"]["FunctionLogGroup"]["Properties"]


# ---------------------------------------------------------------------------------------------
# samconfig.toml
# ---------------------------------------------------------------------------------------------


def _overrides(text: str) -> dict[str, str]:
    """`Key=Value Key2="a b"` as SAM CLI parses parameter_overrides."""
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in re.finditer(r'(\w+)=(?:"([^"]*)"|(\S*))', text)}


def test_samconfig_environments(template: dict[str, Any]) -> None:
    config = tomllib.loads((cfn.ROOT / "samconfig.toml").read_text())
    assert config["version"] == 0.1
    assert {"default", "prod"} <= set(config)
    assert config["default"]["build"]["parameters"].get("beta_features") is True
    for env in ("default", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        assert deploy["stack_name"]
        assert "CAPABILITY_IAM" in deploy["capabilities"]
        assert deploy["resolve_s3"] is True
        overrides = _overrides(deploy["parameter_overrides"])
        unknown = set(overrides) - set(template["Parameters"])
        assert not unknown, f"samconfig [{env}] overrides unknown parameters {unknown}"
        for name, value in overrides.items():
            spec = template["Parameters"][name]
            if "AllowedValues" in spec:
                assert value in [str(v) for v in spec["AllowedValues"]], (env, name, value)
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), (env, name, value)
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert config["default"]["deploy"]["parameters"]["stack_name"] != config["prod"]["deploy"]["parameters"]["stack_name"]
