//! Building an organization in the emulator, as several test binaries need one: OUs, member
//! accounts (moto chooses their ids), AI services opt-out policies, and credentials that act
//! in a member account (moto scopes state by the caller's account).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::PolicyType;

/// Creates the organization (all features) and returns its root id.
pub async fn create(org: &Client) -> String {
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_owned()
}

pub async fn ou(org: &Client, parent: &str, name: &str) -> String {
    org.create_organizational_unit()
        .parent_id(parent)
        .name(name)
        .send()
        .await
        .unwrap()
        .organizational_unit()
        .unwrap()
        .id()
        .unwrap()
        .to_owned()
}

/// A member account, moved below `parent` unless that is `root`.
pub async fn account(org: &Client, name: &str, root: &str, parent: &str) -> String {
    let id = org
        .create_account()
        .email(format!("{name}@example.com"))
        .account_name(name)
        .send()
        .await
        .unwrap()
        .create_account_status()
        .unwrap()
        .account_id()
        .unwrap()
        .to_owned();
    if parent != root {
        org.move_account()
            .account_id(&id)
            .source_parent_id(root)
            .destination_parent_id(parent)
            .send()
            .await
            .unwrap();
    }
    id
}

/// Opts every service out at the root, as a well-run organization has it: enables the policy
/// type and attaches `opt-out-all` there.
pub async fn opt_out_everything(org: &Client, root: &str) {
    enable_opt_out_policies(org, root).await;
    attach_opt_out(
        org,
        "opt-out-all",
        r#"{"services":{"default":{"opt_out_policy":{"@@assign":"optOut"}}}}"#,
        root,
    )
    .await;
}

/// Enables AI services opt-out policies at the root (once per organization).
pub async fn enable_opt_out_policies(org: &Client, root: &str) {
    org.enable_policy_type()
        .root_id(root)
        .policy_type(PolicyType::AiservicesOptOutPolicy)
        .send()
        .await
        .unwrap();
}

/// Creates a policy of `kind` with `content` (attached nowhere); its id.
pub async fn create_policy(org: &Client, name: &str, kind: PolicyType, content: &str) -> String {
    org.create_policy()
        .name(name)
        .description("test")
        .r#type(kind)
        .content(content)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .policy_summary()
        .unwrap()
        .id()
        .unwrap()
        .to_owned()
}

/// Creates an AI services opt-out policy with `content` and attaches it to `target`.
pub async fn attach_opt_out(org: &Client, name: &str, content: &str, target: &str) -> String {
    let policy = create_policy(org, name, PolicyType::AiservicesOptOutPolicy, content).await;
    org.attach_policy()
        .policy_id(&policy)
        .target_id(target)
        .send()
        .await
        .unwrap();
    policy
}

/// An SDK configuration acting in `account`, through an AssumeRole the emulator grants.
pub async fn member_conf(
    conf: &aws_config::SdkConfig,
    endpoint: &str,
    account: &str,
) -> aws_config::SdkConfig {
    let c = aws_sdk_sts::Client::new(conf)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/test-admin"))
        .role_session_name("test-seeding")
        .send()
        .await
        .unwrap()
        .credentials()
        .unwrap()
        .clone();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(super::REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "member",
        ))
        .load()
        .await
}

/// The shared emulator's account as the management account of an organization whose root
/// opts every AI service out (once per test binary): `ai-opt-out` is then compliant, and
/// the opt-out check walks the hierarchy (ListParents, ListPoliciesForTarget, DescribePolicy).
pub async fn opted_out() {
    static ORG: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ORG.get_or_init(|| async {
        let org = super::organizations().await;
        let root = create(&org).await;
        enable_opt_out_policies(&org, &root).await;
        let content = r#"{"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}}}}"#;
        attach_opt_out(&org, "opt-out-all", content, &root).await;
    })
    .await;
}
