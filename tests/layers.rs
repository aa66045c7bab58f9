//! The organization's layers against moto's organization: an RCP with AWS's TLS statement on
//! an OU covers its member accounts' buckets (named by id) and never the management account's;
//! account-level Block Public Access is reported as a layer (and, with
//! `GUARD_BUCKET_BPA=when-not-enforced`, leaves the bucket's own flags alone); a weakening call
//! the shipped SCP denied is reported "prevented" with no write; `policies` prints valid,
//! quota-sized documents. The S3 policy and `ListEffectivePolicyValidationErrors`, which moto
//! lacks, with `aws-smithy-mocks`. State is read back with each account's own credentials.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::PolicyType;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use common::{Moto, REGION};
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::org_policy::layers::OrgLayers;
use serde_json::{Value, json};
use std::process::Command;

const MANAGEMENT: &str = "123456789012";

/// AWS's example RCP ("Enforce secure transport"), as published.
fn aws_tls_rcp() -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "EnforceSecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["sts:*", "s3:*", "sqs:*", "secretsmanager:*", "kms:*"],
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}
    }]})
    .to_string()
}

fn run(moto: &Moto, args: &[&str], extra: &[(&str, &str)]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(moto.env())
        .envs(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::String(stdout)),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Every control result for `bucket` in any report shape (one report, or an organization
/// sweep's reports): `(control, status, detail, before, enforced_by)`.
fn results(out: &Value, bucket: &str) -> Vec<(String, String, String, Value, Value)> {
    let mut found = Vec::new();
    fn walk(v: &Value, bucket: &str, found: &mut Vec<(String, String, String, Value, Value)>) {
        match v {
            Value::Object(map) => {
                if map.get("id").and_then(Value::as_str) == Some(bucket)
                    && let Some(Value::Array(controls)) = map.get("controls")
                {
                    for c in controls {
                        found.push((
                            c["control"].as_str().unwrap_or_default().to_owned(),
                            c["status"].as_str().unwrap_or_default().to_owned(),
                            c["detail"].as_str().unwrap_or_default().to_owned(),
                            c["before"].clone(),
                            c["enforced_by"].clone(),
                        ));
                    }
                }
                map.values().for_each(|v| walk(v, bucket, found));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, bucket, found)),
            _ => {}
        }
    }
    walk(out, bucket, &mut found);
    found
}

fn control<'a>(
    results: &'a [(String, String, String, Value, Value)],
    id: &str,
) -> &'a (String, String, String, Value, Value) {
    results
        .iter()
        .find(|r| r.0 == id)
        .unwrap_or_else(|| panic!("no {id} in {results:#?}"))
}

async fn s3_of(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .region(aws_sdk_s3::config::Region::new(REGION))
            .force_path_style(true)
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn rcp_on_an_ou_covers_its_members_not_the_management_account_and_account_bpa_is_a_layer() {
    let moto = Moto::start();
    let conf = common::sdk_config_for(&moto).await;
    let org = Client::new(&conf);
    let root = common::org::create(&org).await;
    // moto needs the policy type enabled at the root before attaching (as AWS does).
    let _ = org
        .enable_policy_type()
        .root_id(&root)
        .policy_type(PolicyType::ResourceControlPolicy)
        .send()
        .await;
    let tls_ou = common::org::ou(&org, &root, "tls-only").await;
    let rcp = common::org::create_policy(
        &org,
        "tls",
        PolicyType::ResourceControlPolicy,
        &aws_tls_rcp(),
    )
    .await;
    org.attach_policy()
        .policy_id(&rcp)
        .target_id(&tls_ou)
        .send()
        .await
        .unwrap();
    let inside = common::org::account(&org, "member-in", &root, &tls_ou).await;
    let outside = common::org::account(&org, "member-out", &root, &root).await;
    // The same RCP on the root: it covers every member, and still not the management account
    // ("RCPs do not apply to the management account").
    org.attach_policy()
        .policy_id(&rcp)
        .target_id(&root)
        .send()
        .await
        .unwrap();

    let inside_conf = common::org::member_conf(&conf, &moto.endpoint, &inside).await;
    let outside_conf = common::org::member_conf(&conf, &moto.endpoint, &outside).await;
    // Account-level Block Public Access in the outside member, with its own credentials.
    Clients::new(outside_conf.clone())
        .s3control(REGION)
        .put_public_access_block()
        .account_id(&outside)
        .public_access_block_configuration(
            aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Two buckets each: one swept with the defaults, one with the layers trusted.
    let mut buckets = Vec::new();
    for (account, c) in [
        (&inside, &inside_conf),
        (&outside, &outside_conf),
        (&MANAGEMENT.to_owned(), &conf),
    ] {
        let s3 = s3_of(c).await;
        for mode in ["always", "layered"] {
            let name = format!("acme-{mode}-{}", &account[..8]);
            s3.create_bucket().bucket(&name).send().await.unwrap();
            buckets.push((account.clone(), mode, name, s3.clone()));
        }
    }
    let sweep = |prefix: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let mut env = vec![
            ("GUARD_SCOPE", "organization"),
            ("GUARD_BUCKET_PREFIXES", prefix),
        ];
        env.extend(extra);
        run(&moto, &["scan", "--org", "--format", "json"], &env)
    };
    let (code, always, stderr) = sweep("acme-always-", vec![]);
    assert!(code == 0 || code == 3, "{code} {stderr}\n{always}");
    let (code, layered, stderr) = sweep(
        "acme-layered-",
        vec![
            ("GUARD_TLS", "when-not-enforced"),
            ("GUARD_BUCKET_BPA", "when-not-enforced"),
        ],
    );
    assert!(code == 0 || code == 3, "{code} {stderr}\n{layered}");

    let rcp_on_ou = format!("RCP {rcp} on {tls_ou}");
    let rcp_on_root = format!("RCP {rcp} on {root}");
    for (account, mode, name, s3) in &buckets {
        let out = if *mode == "always" { &always } else { &layered };
        let found = results(out, name);
        let tls = control(&found, "tls-only");
        // The report names the layers: the RCPs for tls-only wherever they apply.
        assert_eq!(
            tls.4.as_array().is_some_and(|l| l
                .iter()
                .any(|x| x.as_str().is_some_and(|x| x.starts_with("RCP")))),
            account != MANAGEMENT,
            "{name}: {}",
            tls.4
        );
        let pab = control(&found, "public-access-block");
        let policy = common::bucket_policy(s3, name).await;
        let flags = common::public_access_block(s3, name).await;
        // tls-only: each RCP is named by id where it applies; the management account is
        // below the root too, and never covered.
        let management = account == MANAGEMENT;
        assert_eq!(
            tls.2.contains(&rcp_on_ou),
            account == &inside,
            "{name}: {}",
            tls.2
        );
        assert_eq!(
            tls.2.contains(&rcp_on_root),
            !management,
            "{name}: {}",
            tls.2
        );
        if management {
            assert!(!tls.2.contains("RCP"), "management account: {}", tls.2);
        }
        match (*mode, management) {
            // Trusted and covered: compliant through the RCPs, no statement written.
            ("layered", false) => {
                assert_eq!(tls.1, "compliant", "{name}: {}", tls.2);
                assert!(tls.2.starts_with("enforced by RCP"), "{}", tls.2);
                assert_eq!(policy, None, "{name}: nothing written");
            }
            // Otherwise the statement is merged in (and, covered, the RCPs are named).
            _ => {
                assert_eq!(tls.1, "remediated", "{name}: {}", tls.2);
                assert!(
                    policy.is_some_and(|p| p.to_string().contains("aws:SecureTransport")),
                    "{name}"
                );
            }
        }
        // public-access-block: account-level BPA is a layer in the outside member.
        let account_layer = account == &outside;
        let enforced_by = pab.4.clone();
        assert_eq!(
            enforced_by
                .as_array()
                .is_some_and(|l| l.contains(&json!("account"))),
            account_layer,
            "{name}: {enforced_by} {}",
            pab.2
        );
        match (*mode, account_layer) {
            ("layered", true) => {
                assert_eq!(pab.1, "compliant", "{}", pab.2);
                assert!(pab.2.starts_with("enforced by account"), "{}", pab.2);
                assert_eq!(flags, None, "{name}: the bucket's own flags are left alone");
            }
            _ => {
                assert_eq!(pab.1, "remediated", "{name}: {}", pab.2);
                assert_eq!(flags, Some([true; 4]), "{name}");
                if account_layer {
                    assert!(pab.2.contains("also enforced by account"), "{}", pab.2);
                }
            }
        }
    }
    // Account-level Block Public Access was read, never written: still as the member set it.
    let after = Clients::new(outside_conf)
        .s3control(REGION)
        .get_public_access_block()
        .account_id(&outside)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after
            .public_access_block_configuration()
            .and_then(|c| c.block_public_acls()),
        Some(true)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_weakening_call_the_shipped_scp_denied_is_reported_prevented_with_no_write() {
    let moto = Moto::start();
    let conf = common::sdk_config_for(&moto).await;
    let s3 = s3_of(&conf).await;
    // An organization with Rekognition opted out, so that the report's only news is the
    // prevented call (exit code 0).
    let org = Client::new(&conf);
    let root = common::org::create(&org).await;
    common::org::opt_out_everything(&org, &root).await;
    let bucket = "custom-labels-console-us-east-1-prevented1";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let (topic, queue) = common::topic_with_queue_in(&conf).await;

    // The shipped SCP denies this very call to the principal the record names.
    let (code, policies, stderr) = run(
        &moto,
        &[
            "policies",
            "--function-role",
            "arn:aws:iam::123456789012:role/guard-fn",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let scp = policies["rekognition-guard-scp"]
        .as_object()
        .unwrap()
        .clone();
    let req = rekognition_guard::org_policy::deny::Request {
        action: "s3:PutBucketPolicy",
        resource: &format!("arn:aws:s3:::{bucket}"),
        principal_arn: "arn:aws:iam::123456789012:role/ci-deploy",
        secure_transport: true,
        tag_keys: &[],
    };
    assert_eq!(
        rekognition_guard::org_policy::deny::document_denies(&scp, &req),
        Some(true)
    );

    let mut event = common::sample("drift-put-bucket-policy-denied-by-scp.json");
    event["detail"]["requestParameters"]["bucketName"] = json!(bucket);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    let (code, report, stderr) = run(
        &moto,
        &[
            "invoke",
            "--event",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[("GUARD_ALERT_TOPIC_ARN", topic.as_str())],
    );
    assert_eq!(code, 0, "{stderr}\n{report}");
    assert_eq!(report["trigger"]["kind"], "change-prevented", "{report}");
    let found = results(&report, bucket);
    let prevented = control(&found, "prevented");
    assert_eq!(prevented.1, "compliant");
    assert!(
        prevented.2.starts_with(
            "PutBucketPolicy by arn:aws:sts::123456789012:assumed-role/ci-deploy/pipeline-run-4711 was prevented by SCP"
        ),
        "{}",
        prevented.2
    );
    // Nothing written: the bucket is as it was (no policy, no Block Public Access, no
    // encryption change), read back.
    assert_eq!(common::bucket_policy(&s3, bucket).await, None);
    assert_eq!(common::public_access_block(&s3, bucket).await, None);
    // A low alert naming who tried.
    let alerts = common::drain_in(&conf, &queue).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let subject = alerts[0]["Subject"].as_str().unwrap_or_default();
    assert!(
        subject.starts_with("[LOW] rekognition-guard: PutBucketPolicy prevented by SCP"),
        "{subject}"
    );
    assert_eq!(
        alerts[0]["MessageAttributes"]["severity"]["Value"], "low",
        "{:?}",
        alerts[0]
    );
    assert!(
        alerts[0]["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("assumed-role/ci-deploy")
    );
}

#[test]
fn policies_prints_valid_documents_within_the_quotas() {
    let moto_free_env: Vec<(String, String)> = vec![
        (
            "GUARD_BUCKET_PREFIXES".into(),
            "acme-ml-,team-a-,team-b-".into(),
        ),
        (
            "GUARD_OUTPUT_BUCKET_PATTERNS".into(),
            "rekognition-out-*,ml-results-??".into(),
        ),
        ("GUARD_MIN_TLS_VERSION".into(), "1.2".into()),
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args([
            "policies",
            "--function-role",
            "arn:aws:iam::123456789012:role/rekognition-guard-GuardFunctionRole-1ABC",
            "--break-glass-role",
            "arn:aws:iam::*:role/BreakGlass",
            "--format",
            "json",
        ])
        .env_clear()
        .envs(moto_free_env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "rekognition-guard-scp",
            "rekognition-guard-rcp",
            "rekognition-guard-s3-policy"
        ]
    );
    for (name, limit) in [
        ("rekognition-guard-scp", 5_120),
        ("rekognition-guard-rcp", 5_120),
        ("rekognition-guard-s3-policy", 10_000),
    ] {
        let chars = serde_json::to_string(&all[name]).unwrap().chars().count();
        assert!(chars <= limit, "{name}: {chars}");
        println!("{name}: {chars} characters minified");
    }
    let scp = all["rekognition-guard-scp"].to_string();
    for exempt in [
        "arn:aws:iam::123456789012:role/rekognition-guard-GuardFunctionRole-1ABC",
        "arn:aws:iam::*:role/RekognitionGuardMember",
        "arn:aws:iam::*:role/BreakGlass",
        "arn:aws:s3:::rekognition-out-*",
        "arn:aws:s3:::acme-ml-*",
    ] {
        assert!(scp.contains(exempt), "{exempt}");
    }
    // A bad role is one clear line and exit code 2.
    let bad = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args(["policies", "--function-role", "guard"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
}

// --- aws-smithy-mocks: the S3 policy and its validation errors (moto has neither) ---------

const ACCOUNT: &str = "111122223333";
const ROOT: &str = "r-ab12";
const S3_POLICY_ID: &str = "p-s3bpa001";

fn organization() -> Rule {
    let body = json!({ "Organization": {
        "Id": "o-exampleorgid", "Arn": "arn:aws:organizations::123456789012:organization/o-exampleorgid",
        "FeatureSet": "ALL", "MasterAccountId": MANAGEMENT,
        "MasterAccountArn": "arn:aws:organizations::123456789012:account/o-exampleorgid/123456789012",
        "MasterAccountEmail": "a@example.com", "AvailablePolicyTypes": [] } })
    .to_string();
    mock!(Client::describe_organization)
        .sequence()
        .http_status(200, Some(body))
        .repeatedly()
        .build()
}

fn effective_s3(content: &str) -> Rule {
    let body = json!({ "EffectivePolicy": {
        "PolicyContent": content, "LastUpdatedTimestamp": 1_700_000_000.0,
        "TargetId": ACCOUNT, "PolicyType": "S3_POLICY" } })
    .to_string();
    mock!(Client::describe_effective_policy)
        .match_requests(|r| r.policy_type().map(|t| t.as_str()) == Some("S3_POLICY"))
        .sequence()
        .http_status(200, Some(body))
        .repeatedly()
        .build()
}

/// The account directly under the root; the S3 policy on the root, no RCP/SCP anywhere.
fn walk() -> Vec<Rule> {
    let parents = json!({ "Parents": [ { "Id": ROOT, "Type": "ROOT" } ] }).to_string();
    let s3_on_root = json!({ "Policies": [ { "Id": S3_POLICY_ID, "Name": "bpa", "Type": "S3_POLICY",
        "AwsManaged": false, "Arn": "arn:aws:organizations::123456789012:policy/o-exampleorgid/s3_policy/p-s3bpa001" } ] })
    .to_string();
    let none = json!({ "Policies": [] }).to_string();
    let policy = json!({ "Policy": { "PolicySummary": { "Id": S3_POLICY_ID, "Type": "S3_POLICY" },
        "Content": json!({"s3_attributes": {"public_access_block_configuration": {"@@assign": "all"}}}).to_string() } })
    .to_string();
    vec![
        mock!(Client::list_parents)
            .sequence()
            .http_status(200, Some(parents))
            .repeatedly()
            .build(),
        mock!(Client::list_policies_for_target)
            .match_requests(|r| {
                r.target_id() == Some(ROOT) && r.filter().map(|f| f.as_str()) == Some("S3_POLICY")
            })
            .sequence()
            .http_status(200, Some(s3_on_root))
            .repeatedly()
            .build(),
        mock!(Client::list_policies_for_target)
            .sequence()
            .http_status(200, Some(none.clone()))
            .repeatedly()
            .build(),
        mock!(Client::describe_policy)
            .sequence()
            .http_status(200, Some(policy))
            .repeatedly()
            .build(),
        mock!(Client::list_policies)
            .sequence()
            .http_status(200, Some(none))
            .repeatedly()
            .build(),
    ]
}

fn validation(errors: Value) -> Rule {
    let body = json!({ "AccountId": ACCOUNT, "PolicyType": "S3_POLICY", "Path": "",
        "EffectivePolicyValidationErrors": errors })
    .to_string();
    mock!(Client::list_effective_policy_validation_errors)
        .sequence()
        .http_status(200, Some(body))
        .repeatedly()
        .build()
}

fn mocked(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_organizations, RuleMode::MatchAny, rules)
}

async fn bpa_of(organizations: &Client, moto: &Moto) -> (Vec<String>, Vec<String>) {
    let conf = common::sdk_config_for(moto).await;
    let layers = rekognition_guard::aws::org_layers::read_layers(
        organizations,
        &Clients::new(conf).s3control(REGION),
        ACCOUNT,
        Some(MANAGEMENT),
    )
    .await;
    assert!(matches!(layers.org, OrgLayers::Read(_)), "{:?}", layers.org);
    let above = layers.public_access_block(false);
    (above.enforcing, above.notes)
}

#[tokio::test]
async fn mock_s3_policy_enforcing_bpa_is_a_layer_named_by_id() {
    let moto = Moto::start();
    let (org, effective, ok) = (
        organization(),
        effective_s3(r#"{"s3_attributes":{"public_access_block_configuration":"all"}}"#),
        validation(json!([])),
    );
    let walk = walk();
    let mut rules = vec![&org, &effective, &ok];
    rules.extend(walk.iter());
    let (enforcing, notes) = bpa_of(&mocked(&rules), &moto).await;
    assert_eq!(enforcing, [format!("organization policy {S3_POLICY_ID}")]);
    assert!(notes.is_empty(), "{notes:?}");
}

#[tokio::test]
async fn mock_s3_policy_with_validation_errors_is_not_counted_and_says_awss_error() {
    let moto = Moto::start();
    let (org, effective, errors) = (
        organization(),
        effective_s3(r#"{"s3_attributes":{"public_access_block_configuration":"all"}}"#),
        validation(
            json!([{ "ErrorCode": "ELEMENTS_TOO_MANY", "ErrorMessage": "The policy has too many elements",
            "PathToError": "s3_attributes", "ContributingPolicies": [S3_POLICY_ID] }]),
        ),
    );
    let walk = walk();
    let mut rules = vec![&org, &effective, &errors];
    rules.extend(walk.iter());
    let (enforcing, notes) = bpa_of(&mocked(&rules), &moto).await;
    assert!(enforcing.is_empty(), "{enforcing:?}");
    assert_eq!(
        notes,
        [format!(
            "the organization S3 policy is not enforced: ELEMENTS_TOO_MANY: The policy has too many elements at s3_attributes (policies {S3_POLICY_ID})"
        )]
    );
}

#[tokio::test]
async fn mock_effective_policy_unavailable_falls_back_to_the_attached_s3_policy() {
    let moto = Moto::start();
    // moto's answer to DescribeEffectivePolicy: an HTML 500 without an error code.
    let html = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(500, Some("<html>Internal Server Error</html>".to_owned()))
        .repeatedly()
        .build();
    let (org, ok) = (organization(), validation(json!([])));
    let walk = walk();
    let mut rules = vec![&org, &html, &ok];
    rules.extend(walk.iter());
    let (enforcing, _) = bpa_of(&mocked(&rules), &moto).await;
    assert_eq!(enforcing, [format!("organization policy {S3_POLICY_ID}")]);
}

/// `rule` answers every call with `AccessDeniedException`.
fn denied<I, O, E>(rule: aws_smithy_mocks::RuleBuilder<I, O, E>) -> Rule
where
    I: std::fmt::Debug + Send + Sync + 'static,
    O: std::fmt::Debug + Send + Sync + 'static,
    E: std::fmt::Debug + Send + Sync + std::error::Error + 'static,
{
    let body = json!({ "__type": "AccessDeniedException", "Message": "denied" }).to_string();
    rule.sequence()
        .http_status(400, Some(body))
        .repeatedly()
        .build()
}

#[tokio::test]
async fn mock_opt_out_policy_that_is_not_enforced_is_non_compliant_with_awss_error() {
    use rekognition_guard::aws::organizations::{Ask, read_opt_out_checked};
    use rekognition_guard::org_policy::opt_out::report;
    // An effective policy that opts out, locks shown (no hierarchy needed).
    let content = json!({ "services": { "default": { "opt_out_policy": {
        "@@assign": "optOut", "@@operators_allowed_for_child_policies": ["@@none"] } } } })
    .to_string();
    let body = json!({ "EffectivePolicy": {
        "PolicyContent": content, "LastUpdatedTimestamp": 1_700_000_000.0,
        "TargetId": MANAGEMENT, "PolicyType": "AISERVICES_OPT_OUT_POLICY" } })
    .to_string();
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(200, Some(body))
        .repeatedly()
        .build();
    let errors = mock!(Client::list_effective_policy_validation_errors)
        .match_requests(|r| {
            r.policy_type().map(|t| t.as_str()) == Some("AISERVICES_OPT_OUT_POLICY")
                && r.account_id() == Some(MANAGEMENT)
        })
        .sequence()
        .http_status(
            200,
            Some(
                json!({ "AccountId": MANAGEMENT, "PolicyType": "AISERVICES_OPT_OUT_POLICY", "Path": "",
                "EffectivePolicyValidationErrors": [{ "ErrorCode": "ELEMENTS_TOO_MANY",
                    "ErrorMessage": "The effective policy exceeds its element limit",
                    "PathToError": "services", "ContributingPolicies": ["p-optout01"] }] })
                .to_string(),
            ),
        )
        .repeatedly()
        .build();
    let org = organization();
    let (parents, listed, targets) = (
        denied(mock!(Client::list_parents)),
        denied(mock!(Client::list_policies)),
        denied(mock!(Client::list_policies_for_target)),
    );
    let client = mocked(&[&org, &effective, &errors, &parents, &listed, &targets]);
    let services = ["rekognition".to_owned()];
    let facts = read_opt_out_checked(
        &client,
        MANAGEMENT,
        &services,
        Ask {
            caller: Some(MANAGEMENT),
            learned: None,
        },
    )
    .await;
    let resource = report::resource(&facts, MANAGEMENT, &services);
    let result = &resource.controls[0];
    assert_eq!(
        result.status,
        rekognition_guard::report::Status::NonCompliant,
        "{}",
        result.detail
    );
    assert!(
        result.detail.contains(
            "not enforced, so rekognition may store and use the content: ELEMENTS_TOO_MANY: The effective policy exceeds its element limit at services (policies p-optout01)"
        ),
        "{}",
        result.detail
    );
}
