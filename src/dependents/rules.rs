//! The rule table: per proposed fix, applied only when no dependent breaks
//! (DESIGN.md, "Do no harm").
//!
//! | fix | applied only when | otherwise |
//! |---|---|---|
//! | SSE-KMS with `aws/s3` | every dependent is in the bucket's account, no AWS service principal uses it | held |
//! | SSE-KMS with a customer key | its key policy covers every dependent with the actions it needs | held |
//! | SSE-KMS on a log delivery target (S3 server access logs, ELB) | never: those deliver only to SSE-S3 buckets | held |
//! | SSE-KMS on a replication source | every enabled rule replicates SSE-KMS objects | held |
//! | Block Public Access, TLS deny | no website or public reader (console buckets: always) | held unless `GUARD_PUBLIC_ACCESS=block` |
//!
//! A fix that keeps the key (S3 Bucket Keys only) changes no one's access: always safe.
//! With `GUARD_PUBLIC_ACCESS=block` (and on console buckets) public readers are cut on
//! purpose, so they do not hold the encryption either.
//!
//! Sources: S3 User Guide, "Enabling Amazon S3 server access logging" (the target's
//! default encryption must be SSE-S3); Elastic Load Balancing, "Access logs" (SSE-S3 is
//! the only server-side encryption supported for the log bucket); S3 User Guide,
//! "Replicating objects created with server-side encryption" (`SseKmsEncryptedObjects`);
//! AWS KMS, "AWS managed keys" (usable only in their own account, only through the
//! service); S3 User Guide, "Blocking public access" (`RestrictPublicBuckets`).

use super::key_policy;
use super::{Dependent, Who};
use crate::config::PublicAccess;
use serde_json::{Map, Value};

/// What an encryption fix does to the key new objects are encrypted with.
#[derive(Debug, Clone, Copy)]
pub enum KeyChange<'a> {
    /// The same key (S3 Bucket Keys turned on): nobody's access changes.
    Same,
    /// To the AWS managed `aws/s3` key.
    AwsManaged,
    /// To a customer managed key; `policy`: its key policy, or why it could not be read.
    Customer {
        arn: &'a str,
        policy: Result<&'a Map<String, Value>, &'a str>,
    },
}

/// What every rule needs to know about the bucket.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub dependents: &'a [Dependent],
    pub bucket_arn: &'a str,
    pub bucket_account: &'a str,
    /// A Custom Labels console bucket: never legitimately public.
    pub console: bool,
    pub public_access: PublicAccess,
}

impl Context<'_> {
    /// Public readers are cut on purpose (block mode, console buckets).
    fn cuts_public(&self) -> bool {
        self.console || self.public_access == PublicAccess::Block
    }

    /// The dependents a fix must not break (public ones are cut on purpose in block mode).
    pub fn relevant(&self) -> impl Iterator<Item = &Dependent> {
        let cut = self.cuts_public();
        self.dependents
            .iter()
            .filter(move |d| !(cut && d.is_public()))
    }

    fn public(&self) -> Vec<&Dependent> {
        self.dependents.iter().filter(|d| d.is_public()).collect()
    }
}

/// Why a fix is held: each dependent it would break, with what breaks and the safe path.
fn held(fix: &str, breaks: &[String]) -> String {
    format!(
        "held, nothing written: {fix} would break {}: {}",
        if breaks.len() == 1 {
            "1 dependent".to_owned()
        } else {
            format!("{} dependents", breaks.len())
        },
        breaks.join("; ")
    )
}

fn is_log_service(service: &str) -> bool {
    matches!(
        service,
        "logging.s3.amazonaws.com" | "logdelivery.elasticloadbalancing.amazonaws.com"
    )
}

/// `Err(why)` when the encryption fix must be held.
pub fn encryption(ctx: &Context, change: KeyChange) -> Result<(), String> {
    if matches!(change, KeyChange::Same) {
        return Ok(());
    }
    let mut breaks = Vec::new();
    for d in ctx.relevant() {
        // Log delivery that accepts only SSE-S3, whatever the key.
        let log_only = match &d.who {
            Who::LogDeliveryGroup | Who::ElbLogDelivery { .. } => true,
            Who::Service { service } => is_log_service(service),
            _ => false,
        };
        if log_only {
            let why = match &d.who {
                Who::ElbLogDelivery { .. } => key_policy::never(&d.who).unwrap_or_default(),
                Who::Service { service } if service.contains("elasticloadbalancing") => {
                    "Elastic Load Balancing delivers access logs only to buckets encrypted with SSE-S3"
                }
                _ => {
                    "S3 delivers server access logs only to buckets whose default encryption is SSE-S3"
                }
            };
            breaks.push(format!(
                "{} — {why}, so log delivery would stop; keep SSE-S3 on this log bucket (exempt it with the exemption tag)",
                d.describe()
            ));
            continue;
        }
        if let Who::ReplicationSource {
            sse_kms_objects: false,
            ..
        } = &d.who
        {
            breaks.push(format!(
                "{} — objects encrypted with SSE-KMS are replicated only by rules with SourceSelectionCriteria.SseKmsEncryptedObjects enabled, so new objects would stop replicating; enable it on every rule (and let the replication role use the key) first",
                d.describe()
            ));
            continue;
        }
        match change {
            KeyChange::Same => {}
            KeyChange::AwsManaged => {
                let own = matches!(
                    d.who,
                    Who::OwnPrincipal { .. } | Who::ReplicationSource { .. }
                );
                if !own {
                    let why = key_policy::never(&d.who).unwrap_or(
                        "the AWS managed aws/s3 key serves only principals of its own account, through S3",
                    );
                    breaks.push(format!(
                        "{} — {why}: objects written after the change would be unusable to it; set GUARD_KMS_KEY_ID to a customer managed key whose key policy grants {} to it",
                        d.describe(),
                        key_policy::needed(d.access).join(" and ")
                    ));
                }
            }
            KeyChange::Customer { arn, policy } => {
                if let Some(why) = key_policy::never(&d.who) {
                    breaks.push(format!("{} — {why}", d.describe()));
                    continue;
                }
                let needed = key_policy::needed(d.access);
                let missing = match policy {
                    Ok(doc) => {
                        key_policy::missing(doc, ctx.bucket_account, ctx.bucket_arn, d, &needed)
                    }
                    Err(why) => {
                        breaks.push(format!(
                            "{} — the key policy of {arn} could not be read ({why}), so whether it allows {} is unknown",
                            d.describe(),
                            needed.join(" and ")
                        ));
                        continue;
                    }
                };
                if !missing.is_empty() {
                    breaks.push(format!(
                        "{} — the key policy of {arn} does not grant it {}: grant {} on {arn} to {}, or set GUARD_KMS_KEY_ID to a key that does",
                        d.describe(),
                        missing.join(" and "),
                        missing.join(" and "),
                        d.name()
                    ));
                }
            }
        }
    }
    let fix = match change {
        KeyChange::AwsManaged => "SSE-KMS with the AWS managed aws/s3 key".to_owned(),
        KeyChange::Customer { arn, .. } => format!("SSE-KMS with {arn}"),
        KeyChange::Same => String::new(),
    };
    if breaks.is_empty() {
        Ok(())
    } else {
        Err(held(&fix, &breaks))
    }
}

fn public_names(public: &[&Dependent]) -> String {
    public
        .iter()
        .map(|d| d.describe())
        .collect::<Vec<_>>()
        .join("; ")
}

const PUBLIC_PATH: &str = "public bucket holding Rekognition data: serve it through CloudFront with origin access control, or set GUARD_PUBLIC_ACCESS=block to cut public access on purpose";

/// `Ok(note)` when Block Public Access may be turned on (the note predicts what
/// `RestrictPublicBuckets` cuts besides the public), `Err(why)` when it is held.
/// `public_statements`: the Sids of the policy's public statements.
pub fn public_access_block(
    ctx: &Context,
    public_statements: &[String],
) -> Result<Option<String>, String> {
    let partners: Vec<&Dependent> = ctx
        .dependents
        .iter()
        .filter(|d| {
            matches!(
                d.who,
                Who::Account { .. } | Who::Organization { .. } | Who::CanonicalUser { .. }
            )
        })
        .collect();
    // "RestrictPublicBuckets … restricts access to a bucket with a public policy to AWS
    // service principals and authorized users within the bucket owner's account."
    let restrict = (!public_statements.is_empty() && !partners.is_empty()).then(|| {
        format!(
            "RestrictPublicBuckets also cuts {} while the policy keeps its public statement(s) {}: with a public policy, only AWS service principals and the bucket owner's account keep access",
            partners
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(", "),
            public_statements.join(", ")
        )
    });
    let public = ctx.public();
    if !public.is_empty() && !ctx.cuts_public() {
        let mut why = format!(
            "held, nothing written: Block Public Access would cut {} — {PUBLIC_PATH}",
            public_names(&public)
        );
        if let Some(r) = &restrict {
            why.push_str(&format!("; and {r}"));
        }
        return Err(why);
    }
    Ok(restrict)
}

/// `Err(why)` when the TLS-only deny must be held: website endpoints serve plain HTTP only.
pub fn tls_only(ctx: &Context) -> Result<(), String> {
    let public = ctx.public();
    if public.is_empty() || ctx.cuts_public() {
        return Ok(());
    }
    let website = public.iter().any(|d| d.who == Who::Website);
    Err(format!(
        "held, nothing written: a TLS-only deny would cut {}{} — {PUBLIC_PATH}",
        public_names(&public),
        if website {
            " (website endpoints answer plain HTTP only)"
        } else {
            ""
        }
    ))
}
