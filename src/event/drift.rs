//! Drift triggers: CloudTrail calls that weaken something already guarded — a guarded
//! bucket's encryption, Block Public Access, policy or tags; a KMS key; an AI services
//! opt-out policy; a stream processor's data sharing — turned into [`Plan::Drift`].
//!
//! Pure, like the rest of intake: it reads who made the change (`userIdentity`), from
//! where and when. Whether that principal is this function itself is [`own_change`],
//! given the principals to ignore (the handler knows its own role; intake makes no AWS call).

use super::fields::{get_ci, is_key_id};
use super::{BucketTarget, Plan, PlanResult, TriggerKind, check_bucket_name};
use crate::config::Config;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Bucket-level S3 calls that change a control (or the exemption tag).
pub const S3_EVENTS: &[&str] = &[
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutBucketTagging",
    "DeleteBucketTagging",
];
/// KMS calls that can stop a key from serving, or change who may use it.
pub const KMS_EVENTS: &[&str] = &[
    "DisableKey",
    "ScheduleKeyDeletion",
    "PutKeyPolicy",
    "DisableKeyRotation",
];
/// Organizations calls that can change an account's effective opt-out policy.
pub const ORGANIZATIONS_EVENTS: &[&str] = &[
    "AttachPolicy",
    "DetachPolicy",
    "UpdatePolicy",
    "DeletePolicy",
    "DisablePolicyType",
    "EnablePolicyType",
    "MoveAccount",
];
pub const REKOGNITION_EVENTS: &[&str] = &["UpdateStreamProcessor"];
pub const OPT_OUT_POLICY_TYPE: &str = "AISERVICES_OPT_OUT_POLICY";

/// Who changed the configuration, from where, and when: carried in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `userIdentity.arn`; without one, its type and account (`Root in 111122223333`).
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
}

/// The fields of `userIdentity` that identify a principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub arn: Option<String>,
    pub identity_type: Option<String>,
    pub account: Option<String>,
    /// `sessionContext.sessionIssuer`: the role behind a role session.
    pub issuer_arn: Option<String>,
    pub issuer_account: Option<String>,
    pub issuer_name: Option<String>,
}

/// A principal whose changes are this function's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoredPrincipal {
    /// Sessions of a role, by name (role paths do not appear in session ARNs), in one
    /// account or — `None`, the member role of organization scope — in any.
    Role {
        account: Option<String>,
        name: String,
    },
    /// Exactly this principal (an IAM user running the CLI).
    Arn(String),
}

impl IgnoredPrincipal {
    /// The principal behind an STS caller ARN: `…:assumed-role/NAME/SESSION` is the role.
    pub fn from_caller_arn(arn: &str) -> Self {
        match assumed_role(arn) {
            Some((account, name)) => IgnoredPrincipal::Role {
                account: Some(account.to_owned()),
                name: name.to_owned(),
            },
            None => IgnoredPrincipal::Arn(arn.to_owned()),
        }
    }
}

/// `arn:<partition>:sts::<account>:assumed-role/<name>/<session>` → (account, name).
fn assumed_role(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, "sts", _, account, resource] = parts[..] else {
        return None;
    };
    let rest = resource.strip_prefix("assumed-role/")?;
    let (name, _session) = rest.split_once('/')?;
    Some((account, name))
}

/// The last path segment of `arn:<partition>:iam::<account>:role/<path/>name`.
fn role_of_issuer(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, "iam", _, account, resource] = parts[..] else {
        return None;
    };
    let path = resource.strip_prefix("role/")?;
    Some((account, path.rsplit('/').next()?))
}

/// Whether the change was made by one of `ignore` (this function's own role, or the
/// member role): then the event is this function's own write coming back, and acting on
/// it again would loop. Returns the reason for the report.
pub fn own_change(actor: &Actor, ignore: &[IgnoredPrincipal]) -> Option<String> {
    // The role behind the session: the issuer when CloudTrail names it, else the ARN.
    let role = match (&actor.issuer_arn, &actor.issuer_name) {
        (Some(arn), _) if role_of_issuer(arn).is_some() => role_of_issuer(arn),
        _ => actor.arn.as_deref().and_then(assumed_role),
    }
    .or_else(|| match (&actor.issuer_account, &actor.issuer_name) {
        (Some(account), Some(name)) if actor.identity_type.as_deref() == Some("AssumedRole") => {
            Some((account.as_str(), name.as_str()))
        }
        _ => None,
    });
    let hit = ignore.iter().find(|p| match p {
        IgnoredPrincipal::Role { account, name } => {
            role.is_some_and(|(a, n)| n == name && account.as_deref().is_none_or(|want| want == a))
        }
        IgnoredPrincipal::Arn(arn) => {
            actor.arn.as_deref() == Some(arn) || actor.issuer_arn.as_deref() == Some(arn)
        }
    })?;
    let who = match hit {
        IgnoredPrincipal::Role { name, .. } => format!("role {name}"),
        IgnoredPrincipal::Arn(arn) => arn.clone(),
    };
    Some(format!("our own change ({who}); not acted on again"))
}

/// What a drift event asks to re-evaluate.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftTarget {
    /// A guarded bucket: its three controls, exactly as a sweep runs them.
    Bucket(BucketTarget),
    /// A KMS key (as the event names it), in a region.
    Key { key: String, region: String },
    /// An opt-out policy change. `policy_type` when the event says it; `targets` are the
    /// roots, OUs or accounts it names (empty: the whole organization).
    OptOutPolicy {
        policy_id: Option<String>,
        policy_type: Option<String>,
        targets: Vec<String>,
    },
    StreamProcessor {
        id: String,
        region: String,
        data_sharing_opt_in: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub change: Change,
    pub actor: Actor,
    pub event_name: String,
    pub target: DriftTarget,
}

/// A weakening call an organization policy denied: nothing changed, nothing to restore.
#[derive(Debug, Clone, PartialEq)]
pub struct Prevented {
    pub drift: Drift,
    /// The policy type AWS's error message names.
    pub policy: crate::org_policy::PolicyKind,
    /// `errorCode: errorMessage`, as CloudTrail recorded them.
    pub error: String,
}

/// Which organization policy type denied a failed call: AWS's 403 messages end "… with an
/// explicit deny in a service control policy" (or "resource control policy"). Only an
/// access-denied error counts; any other failed call is ignored as before.
pub fn prevented_by(detail: &Map<String, Value>) -> Option<crate::org_policy::PolicyKind> {
    use crate::org_policy::PolicyKind;
    let code = detail.get("errorCode").and_then(Value::as_str)?;
    if !matches!(code, "AccessDenied" | "AccessDeniedException") {
        return None;
    }
    let message = detail
        .get("errorMessage")
        .and_then(Value::as_str)?
        .to_ascii_lowercase();
    if message.contains("resource control policy") {
        Some(PolicyKind::Rcp)
    } else if message.contains("service control policy") {
        Some(PolicyKind::Scp)
    } else {
        None
    }
}

/// A drift call an SCP or RCP denied (`prevented_by` said which): the same target as the
/// change would have had, as [`Plan::Prevented`].
#[allow(clippy::too_many_arguments)]
pub(super) fn prevented_plan(
    event_name: &str,
    source: &str,
    event_source: &str,
    detail: &Map<String, Value>,
    params: Option<&Map<String, Value>>,
    region: &str,
    config: &Config,
    policy: crate::org_policy::PolicyKind,
) -> PlanResult {
    let (_, planned) = plan(
        event_name,
        source,
        event_source,
        detail,
        params,
        region,
        config,
    )?;
    let Plan::Drift(drift) = planned else {
        return Err(format!("{event_name} is not a drift event"));
    };
    let error = ["errorCode", "errorMessage"]
        .iter()
        .filter_map(|k| detail.get(*k).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(": ");
    Ok((
        TriggerKind::ChangePrevented,
        Plan::Prevented(Box::new(Prevented {
            drift: *drift,
            policy,
            error,
        })),
    ))
}

pub(super) fn handles(event_name: &str) -> bool {
    [
        S3_EVENTS,
        KMS_EVENTS,
        ORGANIZATIONS_EVENTS,
        REKOGNITION_EVENTS,
    ]
    .iter()
    .any(|list| list.contains(&event_name))
}

/// A CloudTrail string as shown to people: no control characters, bounded.
fn clean(v: &str) -> String {
    v.chars().filter(|c| !c.is_control()).take(512).collect()
}

/// A non-empty string field, cleaned (a value of control characters only is no value).
fn string(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .map(clean)
        .filter(|s| !s.is_empty())
}

pub(super) fn actor(detail: &Map<String, Value>) -> Actor {
    let Some(identity) = detail.get("userIdentity").and_then(Value::as_object) else {
        return Actor::default();
    };
    let issuer = identity
        .get("sessionContext")
        .and_then(Value::as_object)
        .and_then(|c| c.get("sessionIssuer"))
        .and_then(Value::as_object);
    Actor {
        arn: string(identity, "arn"),
        identity_type: string(identity, "type"),
        account: string(identity, "accountId"),
        issuer_arn: issuer.and_then(|i| string(i, "arn")),
        issuer_account: issuer.and_then(|i| string(i, "accountId")),
        issuer_name: issuer.and_then(|i| string(i, "userName")),
    }
}

/// Who made a call, as an alert and the change record name them.
pub(super) fn principal_of(detail: &Map<String, Value>) -> String {
    change_of(detail, &actor(detail)).by
}

fn change_of(detail: &Map<String, Value>, actor: &Actor) -> Change {
    let by = match (&actor.arn, &actor.identity_type, &actor.account) {
        (Some(arn), _, _) => arn.clone(),
        (None, Some(kind), Some(account)) => format!("{kind} in {account}"),
        (None, Some(kind), None) => {
            let invoked_by = detail
                .get("userIdentity")
                .and_then(Value::as_object)
                .and_then(|i| string(i, "invokedBy"));
            match invoked_by {
                Some(service) => format!("{kind} {service}"),
                None => kind.clone(),
            }
        }
        (None, None, Some(account)) => format!("a principal of {account}"),
        (None, None, None) => "an unknown principal".to_owned(),
    };
    Change {
        by,
        source_ip: string(detail, "sourceIPAddress"),
        event_time: string(detail, "eventTime"),
    }
}

/// Turns a drift event (already checked: no `errorCode`, a valid region) into a plan.
pub(super) fn plan(
    event_name: &str,
    source: &str,
    event_source: &str,
    detail: &Map<String, Value>,
    params: Option<&Map<String, Value>>,
    region: &str,
    config: &Config,
) -> PlanResult {
    let (want_source, want_event_source) = if S3_EVENTS.contains(&event_name) {
        ("aws.s3", "s3.amazonaws.com")
    } else if KMS_EVENTS.contains(&event_name) {
        ("aws.kms", "kms.amazonaws.com")
    } else if ORGANIZATIONS_EVENTS.contains(&event_name) {
        ("aws.organizations", "organizations.amazonaws.com")
    } else {
        ("aws.rekognition", "rekognition.amazonaws.com")
    };
    if source != want_source || event_source != want_event_source {
        return Err(format!(
            "{event_name} from unexpected source {source:?} / eventSource {event_source:?}"
        ));
    }
    let params = params.ok_or_else(|| format!("{event_name} without requestParameters"))?;
    let target = if want_source == "aws.s3" {
        bucket_target(params, region, config)?
    } else if want_source == "aws.kms" {
        key_target(params, region)?
    } else if want_source == "aws.organizations" {
        opt_out_target(event_name, params)?
    } else {
        stream_processor_target(params, region)?
    };
    let actor = actor(detail);
    Ok((
        TriggerKind::ConfigurationChanged,
        Plan::Drift(Box::new(Drift {
            change: change_of(detail, &actor),
            actor,
            event_name: event_name.to_owned(),
            target,
        })),
    ))
}

fn bucket_target(
    params: &Map<String, Value>,
    region: &str,
    config: &Config,
) -> Result<DriftTarget, String> {
    let name = get_ci(params, "bucketName")
        .and_then(Value::as_str)
        .ok_or("requestParameters.bucketName missing or not a string")?;
    check_bucket_name(name)?;
    let role = config.drift_bucket_role(name).ok_or_else(|| {
        format!(
            "bucket {name:?} matches neither the console prefix, GUARD_BUCKET_PREFIXES nor GUARD_OUTPUT_BUCKET_PATTERNS"
        )
    })?;
    Ok(DriftTarget::Bucket(BucketTarget {
        name: name.to_owned(),
        // S3 records bucket-level calls in the bucket's own region.
        region: region.to_owned(),
        role,
        audit_only: false,
        fresh: false,
        users: Vec::new(),
        after_grace: false,
    }))
}

fn key_target(params: &Map<String, Value>, region: &str) -> Result<DriftTarget, String> {
    let key = get_ci(params, "keyId")
        .and_then(Value::as_str)
        .ok_or("requestParameters.keyId missing or not a string")?;
    if !is_key_id(key, region) || key.starts_with("alias/") || key.contains(":alias/") {
        return Err(format!(
            "keyId {:?} is not a KMS key id or key ARN",
            key.chars().take(80).collect::<String>()
        ));
    }
    Ok(DriftTarget::Key {
        key: key.to_owned(),
        region: region.to_owned(),
    })
}

/// `r-…` (a root), `ou-…` (an OU) or a 12-digit account id.
fn is_org_target(id: &str) -> bool {
    let word = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
        || id.strip_prefix("r-").is_some_and(word)
        || id.strip_prefix("ou-").is_some_and(word)
}

fn is_policy_id(id: &str) -> bool {
    id.strip_prefix("p-").is_some_and(|rest| {
        (1..=128).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

fn opt_out_target(event_name: &str, params: &Map<String, Value>) -> Result<DriftTarget, String> {
    let field = |name: &str, valid: fn(&str) -> bool| -> Result<Option<String>, String> {
        match get_ci(params, name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if valid(s) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "requestParameters.{name} {:?} is not valid",
                other.to_string().chars().take(80).collect::<String>()
            )),
        }
    };
    let policy_id = field("policyId", is_policy_id)?;
    let policy_type = match get_ci(params, "policyType") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err("requestParameters.policyType is not a string".to_owned()),
    };
    if let Some(t) = &policy_type
        && t != OPT_OUT_POLICY_TYPE
    {
        return Err(format!(
            "{event_name} of policy type {:?}, not {OPT_OUT_POLICY_TYPE}",
            t.chars().take(40).collect::<String>()
        ));
    }
    let targets: Vec<String> = match event_name {
        "AttachPolicy" | "DetachPolicy" => {
            vec![field("targetId", is_org_target)?.ok_or("requestParameters.targetId missing")?]
        }
        "MoveAccount" => {
            vec![field("accountId", is_org_target)?.ok_or("requestParameters.accountId missing")?]
        }
        // UpdatePolicy, DeletePolicy, Enable/DisablePolicyType: wherever the policy applies.
        _ => Vec::new(),
    };
    if matches!(
        event_name,
        "AttachPolicy" | "DetachPolicy" | "UpdatePolicy" | "DeletePolicy"
    ) && policy_id.is_none()
    {
        return Err(format!("{event_name} without requestParameters.policyId"));
    }
    if matches!(event_name, "EnablePolicyType" | "DisablePolicyType") && policy_type.is_none() {
        return Err(format!("{event_name} without requestParameters.policyType"));
    }
    Ok(DriftTarget::OptOutPolicy {
        policy_id,
        policy_type,
        targets,
    })
}

fn stream_processor_target(
    params: &Map<String, Value>,
    region: &str,
) -> Result<DriftTarget, String> {
    let id: String = get_ci(params, "name")
        .and_then(Value::as_str)
        .ok_or("requestParameters.name missing or not a string")?
        .chars()
        .take(128)
        .collect();
    let opt_in = get_ci(params, "dataSharingPreferenceForUpdate")
        .and_then(Value::as_object)
        .and_then(|d| get_ci(d, "optIn"));
    let data_sharing_opt_in = match opt_in {
        None | Some(Value::Null) => {
            return Err(format!(
                "UpdateStreamProcessor of {id:?} does not change data sharing"
            ));
        }
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err("dataSharingPreferenceForUpdate.optIn is not a boolean".to_owned());
        }
    };
    Ok(DriftTarget::StreamProcessor {
        id,
        region: region.to_owned(),
        data_sharing_opt_in,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Plan, TriggerKind, parse};
    use super::*;
    use serde_json::json;

    fn cfg() -> Config {
        Config {
            bucket_prefixes: vec!["acme-ml-".into()],
            output_bucket_patterns: vec!["acme-*-output".into()],
            ..Config::default()
        }
    }

    fn event(source: &str, name: &str, params: Value, identity: Value) -> Value {
        let service = source.trim_start_matches("aws.");
        json!({"version": "0", "id": "e1", "detail-type": "AWS API Call via CloudTrail",
               "source": source, "account": "111122223333", "region": "eu-west-1",
               "detail": {"eventSource": format!("{service}.amazonaws.com"), "eventName": name,
                          "awsRegion": "eu-west-1", "eventTime": "2026-12-01T10:00:00Z",
                          "sourceIPAddress": "198.51.100.7", "recipientAccountId": "111122223333",
                          "requestParameters": params, "userIdentity": identity}})
    }

    fn ci_role() -> Value {
        json!({"type": "AssumedRole", "principalId": "AROAEXAMPLE:build-42",
               "arn": "arn:aws:sts::111122223333:assumed-role/ci/build-42",
               "accountId": "111122223333",
               "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                   "arn": "arn:aws:iam::111122223333:role/deploy/ci", "accountId": "111122223333",
                   "userName": "ci"}}})
    }

    fn drift_of(e: &Value) -> Drift {
        let p = parse(e, &cfg()).unwrap();
        assert_eq!(
            p.trigger.kind,
            TriggerKind::ConfigurationChanged,
            "{:?}",
            p.trigger
        );
        match p.plan {
            Plan::Drift(d) => *d,
            other => panic!("not a drift plan: {other:?}"),
        }
    }

    #[test]
    fn every_s3_drift_event_names_the_bucket_and_the_principal() {
        for name in S3_EVENTS {
            let e = event(
                "aws.s3",
                name,
                json!({"bucketName": "acme-eu-output", "Host": "x"}),
                ci_role(),
            );
            let p = parse(&e, &cfg()).unwrap();
            let change = p.trigger.change.clone().unwrap();
            assert_eq!(
                change.by,
                "arn:aws:sts::111122223333:assumed-role/ci/build-42"
            );
            assert_eq!(change.source_ip.as_deref(), Some("198.51.100.7"));
            assert_eq!(change.event_time.as_deref(), Some("2026-12-01T10:00:00Z"));
            let d = drift_of(&e);
            let DriftTarget::Bucket(b) = d.target else {
                panic!("{name}")
            };
            assert_eq!(
                (b.name.as_str(), b.region.as_str(), b.role),
                ("acme-eu-output", "eu-west-1", "output")
            );
        }
    }

    #[test]
    fn a_call_an_scp_or_rcp_denied_is_prevented_anything_else_failed_is_ignored() {
        let denied = |code: &str, message: &str, bucket: &str| {
            let mut e = event(
                "aws.s3",
                "PutBucketPolicy",
                json!({"bucketName": bucket}),
                ci_role(),
            );
            e["detail"]["errorCode"] = json!(code);
            e["detail"]["errorMessage"] = json!(message);
            e
        };
        let scp = "User: arn:aws:sts::111122223333:assumed-role/ci/build-42 is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::acme-ml-a\" with an explicit deny in a service control policy";
        let rcp = "… with an explicit deny in a resource control policy";
        for (message, kind) in [
            (scp, crate::org_policy::PolicyKind::Scp),
            (rcp, crate::org_policy::PolicyKind::Rcp),
        ] {
            let p = parse(&denied("AccessDenied", message, "acme-ml-a"), &cfg()).unwrap();
            assert_eq!(p.trigger.kind, TriggerKind::ChangePrevented);
            let Plan::Prevented(prevented) = p.plan else {
                panic!("{message}")
            };
            assert_eq!(prevented.policy, kind);
            assert!(prevented.error.starts_with("AccessDenied: "));
            assert_eq!(
                prevented.drift.change.by,
                "arn:aws:sts::111122223333:assumed-role/ci/build-42"
            );
        }
        // Denied by an identity policy, another error, or an unguarded bucket: ignored.
        for (code, message, bucket) in [
            (
                "AccessDenied",
                "… because no identity-based policy allows the s3:PutBucketPolicy action",
                "acme-ml-a",
            ),
            ("MalformedPolicy", "… service control policy", "acme-ml-a"),
            ("AccessDenied", scp, "marketing-site"),
        ] {
            let p = parse(&denied(code, message, bucket), &cfg()).unwrap();
            assert!(matches!(p.plan, Plan::Ignore), "{code} {message} {bucket}");
            assert!(p.trigger.ignored_reason.is_some());
        }
    }

    #[test]
    fn unguarded_or_failed_or_misrouted_s3_changes_are_ignored() {
        let cases = [
            (
                event(
                    "aws.s3",
                    "PutBucketPolicy",
                    json!({"bucketName": "marketing-site"}),
                    ci_role(),
                ),
                "matches neither",
            ),
            (
                event(
                    "aws.s3",
                    "PutBucketPolicy",
                    json!({"bucketName": "acme-output"}),
                    ci_role(),
                ),
                "matches neither",
            ),
            (
                event(
                    "aws.s3",
                    "PutBucketPolicy",
                    json!({"bucketName": "Bad_Name"}),
                    ci_role(),
                ),
                "invalid bucket name",
            ),
            (
                event(
                    "aws.kms",
                    "PutBucketPolicy",
                    json!({"bucketName": "acme-ml-x"}),
                    ci_role(),
                ),
                "unexpected source",
            ),
            (
                event("aws.s3", "PutBucketPolicy", json!(null), ci_role()),
                "requestParameters",
            ),
            (
                {
                    let mut e = event(
                        "aws.s3",
                        "DeleteBucketPolicy",
                        json!({"bucketName": "acme-ml-x"}),
                        ci_role(),
                    );
                    e["detail"]["errorCode"] = json!("AccessDenied");
                    e
                },
                "AccessDenied",
            ),
        ];
        for (e, needle) in cases {
            let p = parse(&e, &cfg()).unwrap();
            assert_eq!(p.plan, Plan::Ignore);
            let reason = p.trigger.ignored_reason.unwrap();
            assert!(reason.contains(needle), "{reason}");
        }
    }

    #[test]
    fn principal_without_an_arn_is_its_type_and_account() {
        let e = event(
            "aws.s3",
            "DeleteBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            json!({"type": "Root", "accountId": "111122223333"}),
        );
        assert_eq!(drift_of(&e).change.by, "Root in 111122223333");
        let e = event(
            "aws.s3",
            "DeleteBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            json!({"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}),
        );
        assert_eq!(
            drift_of(&e).change.by,
            "AWSService cloudformation.amazonaws.com"
        );
        let e = event(
            "aws.s3",
            "DeleteBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            json!(null),
        );
        assert_eq!(drift_of(&e).change.by, "an unknown principal");
        // An ARN of control characters only is no ARN (found by the fuzzer).
        let e = event(
            "aws.s3",
            "DeleteBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            json!({"type": "AssumedRole", "arn": "\u{0}\u{7}", "accountId": "111122223333"}),
        );
        assert_eq!(drift_of(&e).change.by, "AssumedRole in 111122223333");
    }

    #[test]
    fn own_change_matches_the_role_not_the_session() {
        let own = [IgnoredPrincipal::from_caller_arn(
            "arn:aws:sts::111122223333:assumed-role/guard-RemediationRole-X1/guard-fn",
        )];
        let ours = json!({"type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/guard-RemediationRole-X1/other-session",
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role",
                "arn": "arn:aws:iam::111122223333:role/guard-RemediationRole-X1",
                "accountId": "111122223333", "userName": "guard-RemediationRole-X1"}}});
        let e = event(
            "aws.s3",
            "PutBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            ours.clone(),
        );
        let reason = own_change(&drift_of(&e).actor, &own).unwrap();
        assert!(reason.starts_with("our own change"), "{reason}");
        // Same role name in another account, or another role here: not ours.
        let mut theirs = ours.clone();
        theirs["sessionContext"]["sessionIssuer"]["arn"] =
            json!("arn:aws:iam::444455556666:role/guard-RemediationRole-X1");
        theirs["arn"] = json!("arn:aws:sts::444455556666:assumed-role/guard-RemediationRole-X1/s");
        let e = event(
            "aws.s3",
            "PutBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            theirs,
        );
        assert_eq!(own_change(&drift_of(&e).actor, &own), None);
        let e = event(
            "aws.s3",
            "PutBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            ci_role(),
        );
        assert_eq!(own_change(&drift_of(&e).actor, &own), None);
        // No sessionIssuer (console events carry `{}`): the session ARN still names the role.
        let mut bare = ours.clone();
        bare["sessionContext"] = json!({"sessionIssuer": {}});
        let e = event(
            "aws.s3",
            "PutBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            bare,
        );
        assert!(own_change(&drift_of(&e).actor, &own).is_some());
        // The member role, in any account; an IAM user by ARN.
        let member = [IgnoredPrincipal::Role {
            account: None,
            name: "RekognitionGuardMember".into(),
        }];
        let mut m = ours.clone();
        m["sessionContext"]["sessionIssuer"]["arn"] =
            json!("arn:aws:iam::444455556666:role/RekognitionGuardMember");
        let e = event(
            "aws.s3",
            "PutBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            m,
        );
        assert!(own_change(&drift_of(&e).actor, &member).is_some());
        let user = [IgnoredPrincipal::from_caller_arn(
            "arn:aws:iam::111122223333:user/alice",
        )];
        let e = event(
            "aws.s3",
            "PutBucketPolicy",
            json!({"bucketName": "acme-ml-x"}),
            json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"}),
        );
        assert!(own_change(&drift_of(&e).actor, &user).is_some());
        assert_eq!(own_change(&drift_of(&e).actor, &own), None);
    }

    #[test]
    fn kms_events_name_a_key() {
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        for name in KMS_EVENTS {
            let d = drift_of(&event(
                "aws.kms",
                name,
                json!({"keyId": arn, "pendingWindowInDays": 7}),
                ci_role(),
            ));
            assert_eq!(
                d.target,
                DriftTarget::Key {
                    key: arn.into(),
                    region: "eu-west-1".into()
                }
            );
        }
        let p = parse(
            &event("aws.kms", "DisableKey", json!({"keyId": "*"}), ci_role()),
            &cfg(),
        )
        .unwrap();
        assert!(p.trigger.ignored_reason.unwrap().contains("keyId"));
    }

    #[test]
    fn organizations_events() {
        let d = drift_of(&event(
            "aws.organizations",
            "DetachPolicy",
            json!({"policyId": "p-abcd1234", "targetId": "ou-ab12-cdef3456"}),
            ci_role(),
        ));
        assert_eq!(
            d.target,
            DriftTarget::OptOutPolicy {
                policy_id: Some("p-abcd1234".into()),
                policy_type: None,
                targets: vec!["ou-ab12-cdef3456".into()]
            }
        );
        let d = drift_of(&event(
            "aws.organizations",
            "MoveAccount",
            json!({"accountId": "444455556666", "sourceParentId": "r-ab12", "destinationParentId": "ou-ab12-x"}),
            ci_role(),
        ));
        let DriftTarget::OptOutPolicy { targets, .. } = d.target else {
            panic!()
        };
        assert_eq!(targets, ["444455556666"]);
        let d = drift_of(&event(
            "aws.organizations",
            "DisablePolicyType",
            json!({"rootId": "r-ab12", "policyType": "AISERVICES_OPT_OUT_POLICY"}),
            ci_role(),
        ));
        assert!(
            matches!(d.target, DriftTarget::OptOutPolicy { ref targets, .. } if targets.is_empty())
        );
        for (params, name, needle) in [
            (
                json!({"rootId": "r-ab12", "policyType": "SERVICE_CONTROL_POLICY"}),
                "DisablePolicyType",
                "not AISERVICES",
            ),
            (
                json!({"policyId": "p-1", "targetId": "../x"}),
                "AttachPolicy",
                "targetId",
            ),
            (json!({"targetId": "r-ab12"}), "AttachPolicy", "policyId"),
        ] {
            let p = parse(&event("aws.organizations", name, params, ci_role()), &cfg()).unwrap();
            let reason = p.trigger.ignored_reason.unwrap();
            assert!(reason.contains(needle), "{reason}");
        }
    }

    #[test]
    fn update_stream_processor_data_sharing() {
        let d = drift_of(&event(
            "aws.rekognition",
            "UpdateStreamProcessor",
            json!({"name": "door-cam", "dataSharingPreferenceForUpdate": {"optIn": true}}),
            ci_role(),
        ));
        assert_eq!(
            d.target,
            DriftTarget::StreamProcessor {
                id: "door-cam".into(),
                region: "eu-west-1".into(),
                data_sharing_opt_in: true
            }
        );
        let p = parse(
            &event(
                "aws.rekognition",
                "UpdateStreamProcessor",
                json!({"name": "door-cam", "settingsForUpdate": {}}),
                ci_role(),
            ),
            &cfg(),
        )
        .unwrap();
        assert!(
            p.trigger
                .ignored_reason
                .unwrap()
                .contains("does not change data sharing")
        );
    }
}
