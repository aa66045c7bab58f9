//! Do no harm, as orchestration: what was read about how a bucket is used becomes its
//! dependents ([`crate::dependents::analyse`]); each proposed fix goes to the rule table
//! ([`crate::dependents::rules`]) with the key policy it depends on, read here. No
//! decision is made in this file.

use super::App;
use crate::aws::AwsError;
use crate::aws::s3::UsageFacts;
use crate::controls::{Finding, Fix, Outcome};
use crate::dependents::rules::{self, Context, KeyChange};
use crate::dependents::{self, Dependent, Usage, public};
use crate::event::BucketTarget;
use crate::policy;
use crate::report::{ControlResult, Severity, Status};
use tracing::{info, warn};

/// A proposed fix, after the rules.
pub(super) enum Verdict {
    /// Safe for every dependent (its detail may carry a prediction, e.g. what
    /// `RestrictPublicBuckets` also cuts).
    Apply(Finding),
    /// Not written: `non-compliant` with why, or `failed` when the dependents are unknown.
    Held(ControlResult),
}

/// The bucket's dependents, or why they cannot be known (a usage fact unreadable).
fn dependents_of(
    target: &BucketTarget,
    account: &str,
    policy_doc: Option<&serde_json::Map<String, serde_json::Value>>,
    usage: &UsageFacts,
) -> Result<Vec<Dependent>, String> {
    let unknown = |what: &str, e: &AwsError| format!("cannot read {what} ({e})");
    let acl = usage
        .acl
        .as_ref()
        .map_err(|e| unknown("the bucket ACL", e))?;
    let replication = usage
        .replication
        .as_ref()
        .map_err(|e| unknown("the replication configuration", e))?;
    let website = *usage
        .website
        .as_ref()
        .map_err(|e| unknown("the website configuration", e))?;
    Ok(dependents::analyse(&Usage {
        account,
        policy: policy_doc,
        acl: Some(acl),
        replication: replication.as_ref(),
        website,
        users: &target.users,
    }))
}

/// Runs every proposed fix of one bucket through the rules.
pub(super) async fn review(
    app: &App,
    target: &BucketTarget,
    account: &str,
    policy_text: Option<&str>,
    usage: UsageFacts,
    proposals: Vec<Finding>,
) -> Vec<Verdict> {
    let policy_doc = match policy_text.map(policy::parse).transpose() {
        Ok(doc) => Ok(doc),
        Err(e) => Err(format!("cannot parse the bucket policy ({e})")),
    };
    let dependents = policy_doc
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|doc| dependents_of(target, account, doc.as_ref(), &usage));
    let dependents = match dependents {
        Ok(d) => d,
        Err(why) => {
            warn!(bucket = %target.name, reason = %why, "dependents unknown; nothing written");
            let why = format!("{why}, so who depends on the bucket is unknown; nothing written");
            return proposals
                .into_iter()
                .map(|f| Verdict::Held(f.unapplied(Status::Failed, &why)))
                .collect();
        }
    };
    // Principals and Sids come from the policy: counted at info, named only at debug.
    info!(bucket = %target.name, dependents = dependents.len(), "bucket dependents read");
    tracing::debug!(
        bucket = %target.name,
        dependents = %dependents.iter().map(Dependent::describe).collect::<Vec<_>>().join("; "),
        "bucket dependents"
    );
    let bucket_arn = format!(
        "arn:{}:s3:::{}",
        crate::region::partition(&target.region),
        target.name
    );
    let ctx = Context {
        dependents: &dependents,
        bucket_arn: &bucket_arn,
        bucket_account: account,
        console: target.role == "console",
        public_access: app.config.public_access,
    };
    let public_statements = policy_doc
        .ok()
        .flatten()
        .map(|doc| public::public_statements(&doc))
        .unwrap_or_default();

    let mut with_owner = dependents.clone();
    let mut verdicts = Vec::new();
    for mut finding in proposals {
        let mut ctx = ctx;
        let decision = match &finding.outcome {
            Outcome::Fix(Fix::Encryption(enc)) => {
                let policy_read;
                let change = match (&enc.kms_key_id, enc.new_key) {
                    (_, false) => KeyChange::Same,
                    (None, true) => KeyChange::AwsManaged,
                    (Some(arn), true) => {
                        // A key of another account (the guard's, in organization scope) must
                        // serve the bucket's own account too.
                        if let Some(own) = dependents::own_account(account, arn) {
                            with_owner.push(own);
                            ctx.dependents = &with_owner;
                        }
                        // Read only when some dependent must be found in it.
                        policy_read = if ctx.relevant().next().is_some() {
                            app.key_policy(&target.region, arn).await
                        } else {
                            Err("not needed".to_owned())
                        };
                        KeyChange::Customer {
                            arn,
                            policy: policy_read.as_ref().map_err(String::as_str),
                        }
                    }
                };
                rules::encryption(&ctx, change)
            }
            Outcome::Fix(Fix::PublicAccessBlock) => {
                match rules::public_access_block(&ctx, &public_statements) {
                    Ok(Some(note)) => {
                        finding.detail = format!("{}; {note}", finding.detail);
                        finding.severity = Some(Severity::High);
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(why) => Err(why),
                }
            }
            Outcome::Fix(Fix::Policy { .. }) => rules::tls_only(&ctx),
            _ => Ok(()),
        };
        verdicts.push(match decision {
            Ok(()) => Verdict::Apply(finding),
            Err(why) => {
                // The report and the alert name the dependents; the log only counts.
                warn!(bucket = %target.name, control = finding.control, "fix held: it would break a dependent");
                Verdict::Held(
                    finding
                        .with_severity(Severity::High)
                        .unapplied(Status::NonCompliant, &why),
                )
            }
        });
    }
    verdicts
}

/// Whether the policy merge must land before Block Public Access: the merged document
/// keeps a public statement, which S3 refuses once `BlockPublicPolicy` is on.
pub(super) fn policy_first(to_apply: &[Finding]) -> bool {
    let pab = to_apply
        .iter()
        .any(|f| matches!(f.outcome, Outcome::Fix(Fix::PublicAccessBlock)));
    pab && to_apply.iter().any(|f| {
        matches!(&f.outcome, Outcome::Fix(Fix::Policy { document, .. }) if public::is_public_text(document))
    })
}

/// Why S3 refused a policy write, when the cause is known: Block Public Access refusing a
/// public policy (`AccessDenied`), or a principal S3 will not take (`MalformedPolicy`).
pub(super) fn policy_refusal(e: &AwsError, document: &str) -> Option<String> {
    let doc = policy::parse(document).ok()?;
    if e.is_access_denied() {
        let public = public::public_statements(&doc);
        if !public.is_empty() {
            return Some(format!(
                "S3 refused the policy write (AccessDenied): the merged policy keeps the public statement(s) {}, and Block Public Access (BlockPublicPolicy, on the bucket or its account) refuses public policies; nothing written",
                public.join(", ")
            ));
        }
    }
    if e.code.as_deref() == Some("MalformedPolicy") {
        let stale = policy::stale_principals(&doc);
        if !stale.is_empty() {
            return Some(format!(
                "S3 refused the policy write (MalformedPolicy: {}): it names deleted principals {}; nothing written",
                e.message,
                stale
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    None
}
