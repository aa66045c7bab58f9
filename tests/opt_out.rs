//! The `ai-opt-out` control end to end.
//!
//! Against moto (which implements organizations, OUs, policies and attachments but answers
//! `DescribeEffectivePolicy` with a code-less HTTP 500): real hierarchies, evaluated through the
//! fallback. Each test builds its own organization in a private moto, since an organization is
//! global state there. The `DescribeEffectivePolicy` path and the error codes go through
//! `aws-smithy-mocks`, with the response bodies AWS documents for the awsJson1.1 protocol.
// Test setup may panic: a failed seed is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{OrganizationFeatureSet, PolicyType};
use aws_smithy_mocks::{Rule, RuleBuilder, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use rekognition_guard::aws::organizations::{Ask, Learned, read_opt_out};
use rekognition_guard::org_policy::opt_out::report;

/// What the handler does: read the facts, then build the `organization` resource.
async fn evaluate_opt_out(
    client: &aws_sdk_organizations::Client,
    account: &str,
    services: &[String],
) -> Resource {
    evaluate_as(client, account, services, Ask::default()).await
}

/// The same, asked with what the caller knows beforehand.
async fn evaluate_as(
    client: &aws_sdk_organizations::Client,
    account: &str,
    services: &[String],
    ask: Ask<'_>,
) -> Resource {
    report::resource(
        &read_opt_out(client, account, services, ask).await,
        account,
        services,
    )
}
use rekognition_guard::report::{ControlResult, Resource, ResourceType, Severity, Status};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MANAGEMENT: &str = common::ACCOUNT;

fn services(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn control<'a>(resource: &'a Resource, service: &str) -> &'a ControlResult {
    resource
        .controls
        .iter()
        .find(|c| c.detail.starts_with(&format!("{service}:")))
        .unwrap_or_else(|| panic!("no control for {service}: {resource:#?}"))
}

fn assign(value: &str) -> Value {
    json!({ "opt_out_policy": { "@@assign": value } })
}

fn lock_everything() -> Value {
    json!({ "services": {
        "@@operators_allowed_for_child_policies": ["@@none"],
        "default": {
            "@@operators_allowed_for_child_policies": ["@@none"],
            "opt_out_policy": {
                "@@operators_allowed_for_child_policies": ["@@none"],
                "@@assign": "optOut" } } } })
}

// --- moto ----------------------------------------------------------------------------------

/// Counts `DescribeEffectivePolicy` attempts (each retry is one), to prove moto's code-less
/// HTTP 500 is not retried.
#[derive(Debug, Clone, Default)]
struct EffectivePolicyAttempts(Arc<AtomicUsize>);

impl Intercept for EffectivePolicyAttempts {
    fn name(&self) -> &'static str {
        "EffectivePolicyAttempts"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target");
        if target.is_some_and(|t| t.ends_with(".DescribeEffectivePolicy")) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

struct Org {
    client: Client,
    root: String,
    attempts: EffectivePolicyAttempts,
    // Dropped last: stops the emulator.
    _moto: common::Moto,
}

impl Org {
    /// A private moto with no organization yet.
    async fn empty() -> Org {
        let moto = common::Moto::start();
        let conf = common::sdk_config_for(&moto).await;
        let attempts = EffectivePolicyAttempts::default();
        let client = Client::from_conf(
            aws_sdk_organizations::config::Builder::from(&conf)
                .interceptor(attempts.clone())
                .build(),
        );
        Org {
            client,
            root: String::new(),
            attempts,
            _moto: moto,
        }
    }

    /// An organization with all features and AI services opt-out policies enabled on the root.
    /// The default account becomes its management account.
    async fn new() -> Org {
        let mut org = Org::empty().await;
        org.client
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .expect("create organization");
        let roots = org.client.list_roots().send().await.expect("list roots");
        org.root = roots.roots()[0].id().expect("root id").to_owned();
        org.client
            .enable_policy_type()
            .root_id(&org.root)
            .policy_type(PolicyType::AiservicesOptOutPolicy)
            .send()
            .await
            .expect("enable AISERVICES_OPT_OUT_POLICY");
        org
    }

    async fn ou(&self, parent: &str, name: &str) -> String {
        let out = self
            .client
            .create_organizational_unit()
            .parent_id(parent)
            .name(name)
            .send()
            .await
            .expect("create OU");
        out.organizational_unit()
            .and_then(|ou| ou.id())
            .expect("OU id")
            .to_owned()
    }

    /// A member account, moved under `parent`.
    async fn account(&self, name: &str, parent: &str) -> String {
        let out = self
            .client
            .create_account()
            .email(format!("{name}@example.com"))
            .account_name(name)
            .send()
            .await
            .expect("create account");
        let id = out
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("account id")
            .to_owned();
        if parent != self.root {
            self.client
                .move_account()
                .account_id(&id)
                .source_parent_id(&self.root)
                .destination_parent_id(parent)
                .send()
                .await
                .expect("move account");
        }
        id
    }

    /// Creates a policy with this content (raw text, so invalid content can be stored too)
    /// and attaches it to `target`.
    async fn attach_raw(&self, name: &str, content: &str, target: &str) -> String {
        let out = self
            .client
            .create_policy()
            .name(name)
            .description("test")
            .r#type(PolicyType::AiservicesOptOutPolicy)
            .content(content)
            .send()
            .await
            .expect("create policy");
        let id = out
            .policy()
            .and_then(|p| p.policy_summary())
            .and_then(|s| s.id())
            .expect("policy id")
            .to_owned();
        self.client
            .attach_policy()
            .policy_id(&id)
            .target_id(target)
            .send()
            .await
            .expect("attach policy");
        id
    }

    /// Runs `rekognition-guard opt-out --format json` against this emulator.
    fn cli(&self) -> (Option<i32>, Value) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
            .args(["opt-out", "--format", "json"])
            .envs(self._moto.env())
            .output()
            .expect("run the binary");
        let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), report)
    }

    async fn attach(&self, name: &str, content: Value, target: &str) -> String {
        self.attach_raw(name, &content.to_string(), target).await
    }

    async fn evaluate(&self, account: &str, list: &[&str]) -> Resource {
        let started = Instant::now();
        let resource = evaluate_opt_out(&self.client, account, &services(list)).await;
        eprintln!(
            "evaluate_opt_out({account}) took {} ms",
            started.elapsed().as_millis()
        );
        resource
    }
}

#[tokio::test]
async fn moto_no_organization_is_non_compliant() {
    let org = Org::empty().await;
    let resource = org.evaluate(MANAGEMENT, &["rekognition"]).await;

    assert_eq!(resource.kind, ResourceType::Organization);
    assert_eq!(resource.id, MANAGEMENT);
    assert_eq!(resource.controls.len(), 1);
    let c = control(&resource, "rekognition");
    assert_eq!(c.control, "ai-opt-out");
    assert_eq!(c.status, Status::NonCompliant);
    assert_eq!(c.severity, Some(Severity::High));
    assert!(c.detail.contains("in no organization"), "{}", c.detail);
    assert_eq!(
        c.after.as_ref().map(|a| a["opt_out_policy"].clone()),
        Some(Value::Null)
    );
    assert_eq!(org.attempts.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn moto_root_default_opt_out_unlocked_is_compliant_with_advice() {
    let org = Org::new().await;
    let policy = org
        .attach(
            "root-default-out",
            json!({ "services": { "default": assign("optOut") } }),
            &org.root,
        )
        .await;

    let resource = org.evaluate(MANAGEMENT, &[]).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert_eq!(c.severity, Some(Severity::Low), "advice: nothing locks it");
    let path = format!(
        "computed from hierarchy: root {} > account {MANAGEMENT}",
        org.root
    );
    assert!(c.detail.contains(&path), "{}", c.detail);
    assert!(
        c.detail.contains("could opt rekognition back in"),
        "{}",
        c.detail
    );
    let after = c.after.as_ref().expect("after");
    assert_eq!(after["opt_out_policy"], "optOut");
    assert_eq!(after["decided_by"], "default");
    assert_eq!(after["set_by"]["policy_id"], policy.as_str());
    assert_eq!(after["path"], "hierarchy");
    assert_eq!(after["child_can_opt_in"], true);
    // moto's HTTP 500 for DescribeEffectivePolicy was taken as final, not retried.
    assert_eq!(org.attempts.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn moto_locked_root_ignores_an_ou_that_opts_in() {
    let org = Org::new().await;
    let ou = org.ou(&org.root, "workloads").await;
    let member = org.account("member-locked", &ou).await;
    org.attach("lock-all", lock_everything(), &org.root).await;
    org.attach(
        "ou-opt-in",
        json!({ "services": { "rekognition": assign("optIn") } }),
        &ou,
    )
    .await;

    let resource = org.evaluate(&member, &["rekognition"]).await;
    assert_eq!(resource.id, member);
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert_eq!(c.severity, None, "locked at the root: no advice");
    let path = format!("root {} > {ou} > account {member}", org.root);
    assert!(c.detail.contains(&path), "{}", c.detail);
    assert!(c.detail.contains("ignored"), "{}", c.detail);
    let after = c.after.as_ref().expect("after");
    assert_eq!(after["child_can_opt_in"], false);
    assert_eq!(after["ignored"].as_array().map(Vec::len), Some(1));
    // The member's effective policy was asked for by target, then the hierarchy was read.
    assert_eq!(org.attempts.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn moto_account_level_override_opts_in() {
    let org = Org::new().await;
    let ou = org.ou(&org.root, "apps").await;
    let member = org.account("member-override", &ou).await;
    org.attach(
        "root-default-out",
        json!({ "services": { "default": assign("optOut") } }),
        &org.root,
    )
    .await;
    let account_policy = org
        .attach(
            "account-opt-in",
            json!({ "services": { "rekognition": assign("optIn") } }),
            &member,
        )
        .await;

    let resource = org.evaluate(&member, &["rekognition", "textract"]).await;
    let rekognition = control(&resource, "rekognition");
    assert_eq!(
        rekognition.status,
        Status::NonCompliant,
        "{}",
        rekognition.detail
    );
    assert_eq!(rekognition.severity, Some(Severity::High));
    assert!(
        rekognition
            .detail
            .contains(&format!("set by policy {account_policy} on {member}")),
        "{}",
        rekognition.detail
    );
    let textract = control(&resource, "textract");
    assert_eq!(textract.status, Status::Compliant, "{}", textract.detail);
    assert_eq!(
        textract.after.as_ref().map(|a| a["decided_by"].clone()),
        Some(json!("default"))
    );
}

#[tokio::test]
async fn moto_nested_ous_and_the_lex_example() {
    let org = Org::new().await;
    let upper = org.ou(&org.root, "upper").await;
    let lower = org.ou(&upper, "lower").await;
    let member = org.account("member-nested", &lower).await;
    // AWS's example: the root locks only `default`; a child opts in to Lex.
    org.attach(
        "lock-default",
        json!({ "services": { "default": {
            "@@operators_allowed_for_child_policies": ["@@none"],
            "opt_out_policy": {
                "@@operators_allowed_for_child_policies": ["@@none"],
                "@@assign": "optOut" } } } }),
        &org.root,
    )
    .await;
    org.attach(
        "lower-lex-in",
        json!({ "services": { "lex": assign("optIn"), "default": assign("optIn") } }),
        &lower,
    )
    .await;

    let resource = org.evaluate(&member, &["rekognition", "lex"]).await;
    let path = format!("root {} > {upper} > {lower} > account {member}", org.root);
    let rekognition = control(&resource, "rekognition");
    assert_eq!(
        rekognition.status,
        Status::Compliant,
        "{}",
        rekognition.detail
    );
    assert_eq!(rekognition.severity, Some(Severity::Low));
    assert!(rekognition.detail.contains(&path), "{}", rekognition.detail);
    let lex = control(&resource, "lex");
    assert_eq!(lex.status, Status::NonCompliant, "{}", lex.detail);
    assert_eq!(lex.severity, Some(Severity::High));
}

#[tokio::test]
async fn moto_no_policy_attached_is_non_compliant() {
    let org = Org::new().await;
    let ou = org.ou(&org.root, "empty").await;
    let member = org.account("member-empty", &ou).await;

    let resource = org.evaluate(&member, &["rekognition"]).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::NonCompliant, "{}", c.detail);
    assert_eq!(c.severity, Some(Severity::High));
    assert!(
        c.detail.contains("no opt-out setting applies"),
        "{}",
        c.detail
    );
    assert!(c.detail.contains("computed from hierarchy"), "{}", c.detail);
}

#[tokio::test]
async fn moto_invalid_and_conflicting_policies_are_reported() {
    let org = Org::new().await;
    let ou = org.ou(&org.root, "messy").await;
    let member = org.account("member-messy", &ou).await;
    // moto stores invalid content as given; AWS would reject it, but the engine must not trust that.
    org.attach_raw("not-json", "{ this is not json", &org.root)
        .await;
    org.attach(
        "wrong-case",
        json!({ "services": { "default": assign("OptOut") } }),
        &org.root,
    )
    .await;
    org.attach(
        "ou-out",
        json!({ "services": { "rekognition": assign("optOut") } }),
        &ou,
    )
    .await;
    org.attach(
        "ou-in",
        json!({ "services": { "rekognition": assign("optIn") } }),
        &ou,
    )
    .await;

    let resource = org.evaluate(&member, &["rekognition"]).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::NonCompliant, "{}", c.detail);
    assert_eq!(c.severity, Some(Severity::High));
    assert!(c.detail.contains("disagree on rekognition"), "{}", c.detail);
    let after = c.after.as_ref().expect("after");
    assert_eq!(
        after["problems"].as_array().map(Vec::len),
        Some(2),
        "{after:#}"
    );
    assert_eq!(
        after["conflicts"].as_array().map(Vec::len),
        Some(1),
        "{after:#}"
    );
}

// --- aws-smithy-mocks ----------------------------------------------------------------------

const ACCOUNT: &str = "111122223333";
const ROOT: &str = "r-ab12";
const ROOT_POLICY: &str = "p-aaaa1111";

/// An awsJson1.1 error body, as Organizations sends it.
fn error_body(code: &str, message: &str) -> Option<String> {
    Some(json!({ "__type": code, "Message": message }).to_string())
}

/// What Organizations answers an account in no organization.
fn not_in_organization() -> Option<String> {
    error_body(
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )
}

/// `DescribeOrganization` in an account that belongs to no organization (once).
fn no_organization() -> Rule {
    mock!(Client::describe_organization)
        .sequence()
        .http_status(400, not_in_organization())
        .build()
}

/// `DescribeEffectivePolicy`'s documented response.
fn effective_body(content: &Value, target: &str) -> Option<String> {
    Some(
        json!({ "EffectivePolicy": {
            "PolicyContent": content.to_string(),
            "LastUpdatedTimestamp": 1_700_000_000.0,
            "TargetId": target,
            "PolicyType": "AISERVICES_OPT_OUT_POLICY" } })
        .to_string(),
    )
}

fn describe_organization(management: &str) -> Rule {
    let body = json!({ "Organization": {
        "Id": "o-exampleorgid",
        "Arn": "arn:aws:organizations::111111111111:organization/o-exampleorgid",
        "FeatureSet": "ALL",
        "MasterAccountArn": format!("arn:aws:organizations::{management}:account/o-exampleorgid/{management}"),
        "MasterAccountId": management,
        "MasterAccountEmail": "bill@example.com",
        "AvailablePolicyTypes": [] } })
    .to_string();
    mock!(Client::describe_organization)
        .sequence()
        .http_status(200, Some(body))
        .repeatedly()
        .build()
}

/// A rule that answers every call with `AccessDeniedException`.
fn denied<I, O, E>(rule: RuleBuilder<I, O, E>) -> Rule
where
    I: std::fmt::Debug + Send + Sync + 'static,
    O: std::fmt::Debug + Send + Sync + 'static,
    E: std::fmt::Debug + Send + Sync + std::error::Error + 'static,
{
    rule.sequence()
        .http_status(
            400,
            error_body(
                "AccessDeniedException",
                "You don't have permissions to access this resource.",
            ),
        )
        .repeatedly()
        .build()
}

/// The account directly under the root, with one policy on the root.
fn hierarchy_rules(root_policy: &Value) -> Vec<Rule> {
    let parents = json!({ "Parents": [ { "Id": ROOT, "Type": "ROOT" } ] }).to_string();
    let root_policies = json!({ "Policies": [ {
        "Id": ROOT_POLICY,
        "Arn": format!("arn:aws:organizations::111111111111:policy/o-exampleorgid/aiservices_opt_out_policy/{ROOT_POLICY}"),
        "Name": "root", "Description": "", "Type": "AISERVICES_OPT_OUT_POLICY", "AwsManaged": false } ] })
    .to_string();
    let none = json!({ "Policies": [] }).to_string();
    let catalog = root_policies.clone();
    let policy = json!({ "Policy": {
        "PolicySummary": { "Id": ROOT_POLICY, "Name": "root", "Type": "AISERVICES_OPT_OUT_POLICY",
                           "AwsManaged": false },
        "Content": root_policy.to_string() } })
    .to_string();
    vec![
        mock!(Client::list_parents)
            .match_requests(|r| r.child_id() == Some(ACCOUNT))
            .sequence()
            .http_status(200, Some(parents))
            .repeatedly()
            .build(),
        mock!(Client::list_policies_for_target)
            .match_requests(|r| r.target_id() == Some(ROOT))
            .sequence()
            .http_status(200, Some(root_policies))
            .repeatedly()
            .build(),
        mock!(Client::list_policies_for_target)
            .match_requests(|r| r.target_id() == Some(ACCOUNT))
            .sequence()
            .http_status(200, Some(none))
            .repeatedly()
            .build(),
        mock!(Client::describe_policy)
            .match_requests(|r| r.policy_id() == Some(ROOT_POLICY))
            .sequence()
            .http_status(200, Some(policy))
            .repeatedly()
            .build(),
        // The organization's opt-out policies, listed while the walk goes up.
        mock!(Client::list_policies)
            .sequence()
            .http_status(200, Some(catalog))
            .repeatedly()
            .build(),
    ]
}

/// The rules, then `ListPolicies` refused unless a rule answers it: the catalogue read
/// during the walk is optional, and most tests are about something else.
fn client(rules: &[&Rule]) -> Client {
    let catalog_refused = denied(mock!(Client::list_policies));
    let rules: Vec<&Rule> = rules.iter().copied().chain([&catalog_refused]).collect();
    mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &rules, |conf| {
        // Standard retries, fast backoff: a retried throttle costs milliseconds here.
        conf.retry_config(
            aws_sdk_organizations::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
    })
}

#[tokio::test]
async fn mock_effective_policy_opt_out_locked_in_hierarchy() {
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        // The management account asking for itself names no target.
        .match_requests(|r| r.target_id().is_none())
        .sequence()
        .http_status(
            200,
            effective_body(
                &json!({ "services": { "default": { "opt_out_policy": "optOut" } } }),
                ACCOUNT,
            ),
        )
        .build();
    let hierarchy = hierarchy_rules(&lock_everything());
    let mut rules: Vec<&Rule> = vec![&org, &effective];
    rules.extend(hierarchy.iter());
    let client = client(&rules);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert_eq!(c.severity, None, "locked at the root");
    assert!(
        c.detail.contains("path: describe-effective-policy"),
        "{}",
        c.detail
    );
    let after = c.after.as_ref().expect("after");
    assert_eq!(after["path"], "describe-effective-policy");
    assert_eq!(after["opt_out_policy"], "optOut");
    assert_eq!(after["child_can_opt_in"], false);
    assert_eq!(effective.num_calls(), 1);
}

#[tokio::test]
async fn mock_effective_policy_opt_out_unlocked_gets_advice() {
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(
            200,
            effective_body(
                &json!({ "services": { "rekognition": { "opt_out_policy": { "@@assign": "optOut" } } } }),
                ACCOUNT,
            ),
        )
        .build();
    let hierarchy = hierarchy_rules(&json!({ "services": { "rekognition": assign("optOut") } }));
    let mut rules: Vec<&Rule> = vec![&org, &effective];
    rules.extend(hierarchy.iter());
    let client = client(&rules);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert_eq!(c.severity, Some(Severity::Low));
    assert!(c.detail.contains("advice"), "{}", c.detail);
}

#[tokio::test]
async fn mock_effective_policy_opt_out_locks_unreadable() {
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(
            200,
            effective_body(
                &json!({ "services": { "default": { "opt_out_policy": "optOut" } } }),
                ACCOUNT,
            ),
        )
        .build();
    let parents = denied(mock!(Client::list_parents));
    let client = client(&[&org, &effective, &parents]);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert_eq!(c.severity, None);
    assert!(c.detail.contains("unknown"), "{}", c.detail);
    assert!(
        c.detail.contains("organizations:ListParents"),
        "{}",
        c.detail
    );
}

#[tokio::test]
async fn mock_effective_policy_opt_in_is_non_compliant() {
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(
            200,
            effective_body(
                &json!({ "services": {
                    "default": { "opt_out_policy": "optOut" },
                    "rekognition": { "opt_out_policy": "optIn" } } }),
                ACCOUNT,
            ),
        )
        .build();
    // comprehend is opted out through default: its locks are read from the hierarchy.
    let hierarchy = hierarchy_rules(&json!({ "services": { "default": assign("optOut") } }));
    let mut rules: Vec<&Rule> = vec![&org, &effective];
    rules.extend(hierarchy.iter());
    let client = client(&rules);

    let resource =
        evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition", "comprehend"])).await;
    let rekognition = control(&resource, "rekognition");
    assert_eq!(rekognition.status, Status::NonCompliant);
    assert_eq!(rekognition.severity, Some(Severity::High));
    assert!(
        rekognition.detail.contains("opted in"),
        "{}",
        rekognition.detail
    );
    assert!(rekognition.detail.contains("describe-effective-policy"));
    let comprehend = control(&resource, "comprehend");
    assert_eq!(
        comprehend.status,
        Status::Compliant,
        "{}",
        comprehend.detail
    );
}

#[tokio::test]
async fn mock_member_account_retries_without_target() {
    // Running in member account 111122223333 of an organization managed by 999988887777:
    // naming the target is refused, asking for its own policy works.
    let org = describe_organization("999988887777");
    let with_target = denied(
        mock!(Client::describe_effective_policy).match_requests(|r| r.target_id() == Some(ACCOUNT)),
    );
    let own = mock!(Client::describe_effective_policy)
        .match_requests(|r| r.target_id().is_none())
        .sequence()
        .http_status(200, effective_body(&lock_everything(), ACCOUNT))
        .build();
    let client = client(&[&org, &with_target, &own]);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    // The effective policy carries its locks: nothing more to read.
    assert_eq!(c.severity, None, "{}", c.detail);
    assert_eq!(with_target.num_calls(), 1);
    assert_eq!(own.num_calls(), 1);
}

#[tokio::test]
async fn mock_no_organization() {
    let org = no_organization();
    let client = client(&[&org]);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::NonCompliant);
    assert_eq!(c.severity, Some(Severity::High));
    assert!(c.detail.contains("in no organization"), "{}", c.detail);
}

#[tokio::test]
async fn mock_effective_policy_not_found() {
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(
            400,
            error_body(
                "EffectivePolicyNotFoundException",
                "We can't find an effective policy of the type you specified.",
            ),
        )
        .build();
    let client = client(&[&org, &effective]);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::NonCompliant);
    assert_eq!(c.severity, Some(Severity::High));
    assert!(
        c.detail.contains("EffectivePolicyNotFoundException"),
        "{}",
        c.detail
    );
    assert!(
        c.detail.contains("no AI services opt-out policy applies"),
        "{}",
        c.detail
    );
}

#[tokio::test]
async fn mock_access_denied_everywhere_is_skipped() {
    let org = denied(mock!(Client::describe_organization));
    let effective = denied(mock!(Client::describe_effective_policy));
    let parents = denied(mock!(Client::list_parents));
    let client = client(&[&org, &effective, &parents]);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Skipped, "{}", c.detail);
    for action in [
        "organizations:DescribeEffectivePolicy",
        "organizations:ListParents",
    ] {
        assert!(c.detail.contains(action), "{}", c.detail);
    }
}

#[tokio::test]
async fn mock_throttling_is_retried() {
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(400, error_body("TooManyRequestsException", "Rate exceeded"))
        .http_status(200, effective_body(&lock_everything(), ACCOUNT))
        .build();
    let client = client(&[&org, &effective]);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert!(
        c.detail.contains("describe-effective-policy"),
        "{}",
        c.detail
    );
    assert_eq!(effective.num_calls(), 2, "throttled once, then answered");
}

#[tokio::test]
async fn mock_uncoded_server_error_falls_back_at_once() {
    // What moto sends: HTTP 500, an HTML page, no error code.
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(
            500,
            Some("<!doctype html><title>500 Internal Server Error</title>".to_owned()),
        )
        .repeatedly()
        .build();
    let hierarchy = hierarchy_rules(&lock_everything());
    let mut rules: Vec<&Rule> = vec![&org, &effective];
    rules.extend(hierarchy.iter());
    let client = client(&rules);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert!(
        c.detail.contains(&format!(
            "computed from hierarchy: root {ROOT} > account {ACCOUNT}"
        )),
        "{}",
        c.detail
    );
    assert_eq!(effective.num_calls(), 1, "not retried");
}

#[tokio::test]
async fn mock_coded_server_error_is_still_retried() {
    // A real AWS ServiceException carries a code: the standard retries apply to it.
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(
            500,
            error_body(
                "ServiceException",
                "AWS Organizations can't complete your request.",
            ),
        )
        .http_status(200, effective_body(&lock_everything(), ACCOUNT))
        .build();
    let client = client(&[&org, &effective]);

    let resource = evaluate_opt_out(&client, ACCOUNT, &services(&["rekognition"])).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert_eq!(effective.num_calls(), 2);
}

#[tokio::test]
async fn the_cli_prints_the_verdict_and_the_path_for_its_own_account() {
    // No organization at all.
    let none = Org::empty().await;
    let (code, report) = none.cli();
    assert_eq!(code, Some(3), "{report}");
    assert_eq!(report["trigger"]["kind"], "opt-out-check");
    let c = &report["resources"][0]["controls"][0];
    assert_eq!(
        (c["control"].as_str(), c["status"].as_str()),
        (Some("ai-opt-out"), Some("non-compliant"))
    );
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("path: describe-organization"),
        "{c}"
    );

    // A root that opts out and locks it: compliant, computed from the hierarchy.
    let locked = Org::new().await;
    locked
        .attach("lock-all", lock_everything(), &locked.root)
        .await;
    let (code, report) = locked.cli();
    assert_eq!(code, Some(0), "{report}");
    let c = &report["resources"][0]["controls"][0];
    assert_eq!(c["status"], "compliant");
    let path = format!(
        "computed from hierarchy: root {} > account 123456789012",
        locked.root
    );
    assert!(c["detail"].as_str().unwrap().contains(&path), "{c}");

    // An unlocked root opts out, the account's own policy opts Rekognition back in.
    let overridden = Org::new().await;
    overridden
        .attach(
            "root-default",
            json!({ "services": { "default": assign("optOut") } }),
            &overridden.root,
        )
        .await;
    overridden
        .attach(
            "account-opt-in",
            json!({ "services": { "rekognition": assign("optIn") } }),
            "123456789012",
        )
        .await;
    let (code, report) = overridden.cli();
    assert_eq!(code, Some(3), "{report}");
    let c = &report["resources"][0]["controls"][0];
    assert_eq!(
        (c["status"].as_str(), c["severity"].as_str()),
        (Some("non-compliant"), Some("high"))
    );
}

// ---- asking ahead (issue 16: the opt-out evaluation's round trips) ----------------------

#[tokio::test]
async fn mock_a_known_caller_asks_for_the_effective_policy_without_waiting() {
    // DescribeOrganization says "no organization", yet DescribeEffectivePolicy was already
    // on its way: the caller (this account) was known, so nothing waited for the answer.
    let org = no_organization();
    let effective = mock!(Client::describe_effective_policy)
        .match_requests(|r| r.target_id().is_none())
        .sequence()
        .http_status(400, not_in_organization())
        .build();
    let client = client(&[&org, &effective]);
    let ask = Ask {
        caller: Some(ACCOUNT),
        learned: None,
    };

    let services = services(&["rekognition"]);
    let resource = evaluate_as(&client, ACCOUNT, &services, ask).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::NonCompliant);
    assert!(c.detail.contains("in no organization"), "{}", c.detail);
    assert_eq!(org.num_calls(), 1);
    assert_eq!(
        effective.num_calls(),
        1,
        "sent alongside DescribeOrganization"
    );
}

#[tokio::test]
async fn mock_the_guard_names_a_member_and_learns_the_call_answers() {
    // The guard (management) asks about a member: the member is named at once. Once the
    // call has answered, later evaluations read no hierarchy ahead.
    const MEMBER: &str = "444455556666";
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .match_requests(|r| r.target_id() == Some(MEMBER))
        .sequence()
        .http_status(200, effective_body(&lock_everything(), MEMBER))
        .repeatedly()
        .build();
    let parents = mock!(Client::list_parents)
        .sequence()
        .http_status(
            200,
            Some(json!({ "Parents": [ { "Id": ROOT, "Type": "ROOT" } ] }).to_string()),
        )
        .repeatedly()
        .build();
    let attached = mock!(Client::list_policies_for_target)
        .sequence()
        .http_status(200, Some(json!({ "Policies": [] }).to_string()))
        .repeatedly()
        .build();
    let client = client(&[&org, &effective, &parents, &attached]);
    let learned = Learned::default();
    let ask = Ask {
        caller: Some(ACCOUNT),
        learned: Some(&learned),
    };
    let services = services(&["rekognition"]);

    assert!(!learned.answers());
    let first = evaluate_as(&client, MEMBER, &services, ask).await;
    assert!(learned.answers(), "the answer was remembered");
    let ahead = parents.num_calls();
    let second = evaluate_as(&client, MEMBER, &services, ask).await;
    for resource in [&first, &second] {
        let c = control(resource, "rekognition");
        assert_eq!(c.status, Status::Compliant, "{}", c.detail);
        assert!(
            c.detail.contains("path: describe-effective-policy"),
            "{}",
            c.detail
        );
    }
    assert_eq!(effective.num_calls(), 2, "named the member both times");
    assert_eq!(
        org.num_calls(),
        1,
        "once the call answers, DescribeOrganization tells nothing more"
    );
    assert!(ahead <= 1, "at most the first walk step went out ahead");
    assert_eq!(
        parents.num_calls(),
        ahead,
        "the second evaluation read nothing ahead"
    );
}

#[tokio::test]
async fn mock_locks_are_still_read_after_the_call_is_known_to_answer() {
    // Nothing is read ahead once the effective policy is known to answer, but an opt-out
    // that does not show its locks still gets them from the hierarchy, read on demand.
    let org = describe_organization(ACCOUNT);
    let effective = mock!(Client::describe_effective_policy)
        .sequence()
        .http_status(
            200,
            effective_body(
                &json!({ "services": { "default": { "opt_out_policy": "optOut" } } }),
                ACCOUNT,
            ),
        )
        .repeatedly()
        .build();
    let hierarchy = hierarchy_rules(&lock_everything());
    let mut rules: Vec<&Rule> = vec![&org, &effective];
    rules.extend(hierarchy.iter());
    let client = client(&rules);
    let learned = Learned::default();
    let ask = Ask {
        caller: Some(ACCOUNT),
        learned: Some(&learned),
    };
    let services = services(&["rekognition"]);

    for _ in 0..2 {
        let resource = evaluate_as(&client, ACCOUNT, &services, ask).await;
        let c = control(&resource, "rekognition");
        assert_eq!(c.status, Status::Compliant, "{}", c.detail);
        assert_eq!(c.severity, None, "locked at the root");
        assert_eq!(c.after.as_ref().expect("after")["child_can_opt_in"], false);
    }
    assert_eq!(effective.num_calls(), 2);
}

#[tokio::test]
async fn moto_more_opt_out_policies_than_the_catalogue_holds() {
    // Twelve opt-out policies in the organization, one of them attached above the member:
    // the catalogue is skipped and the attached one read after the walk.
    let org = Org::new().await;
    let ou = org.ou(&org.root, "many").await;
    let member = org.account("member-many", &ou).await;
    for i in 0..11 {
        let content = json!({ "services": { "default": assign("optIn") } }).to_string();
        common::org::create_policy(
            &org.client,
            &format!("unattached-{i}"),
            PolicyType::AiservicesOptOutPolicy,
            &content,
        )
        .await;
    }
    org.attach("ou-lock", lock_everything(), &ou).await;

    let resource = org.evaluate(&member, &["rekognition"]).await;
    let c = control(&resource, "rekognition");
    assert_eq!(c.status, Status::Compliant, "{}", c.detail);
    assert_eq!(c.severity, None, "locked on the OU");
    let path = format!("root {} > {ou} > account {member}", org.root);
    assert!(c.detail.contains(&path), "{}", c.detail);
    let after = c.after.as_ref().expect("after");
    assert_eq!(after["opt_out_policy"], "optOut");
    assert_eq!(after["child_can_opt_in"], false);
}
