//! One bucket: read its facts concurrently, evaluate the S3 controls, apply the fixes
//! (unless exempt, audit-only or in audit mode) and verify each by reading it back.

use super::{App, DEADLINE_MARGIN, NOT_FINISHED, hard_stop, safety};
use crate::aws::scheduler;
use crate::aws::{AwsError, s3};
use crate::change::plan::{Admit, Approved};
use crate::change::{self, States, StatesKind};
use crate::config::{KeyPolicy, Layered, Reencrypt};
use crate::controls::kms_key_spec::KeyInfo;
use crate::controls::sse_kms::{self, KeyTarget};
use crate::controls::{self, Finding, Fix, Outcome, public_access_block, tls_only};
use crate::event::BucketTarget;
use crate::org_policy::layers::Layers;
use crate::policy::Requirement;
use crate::region;
use crate::report::{ControlResult, Resource, ResourceType, Severity, Status};
use crate::scope;
use futures::future::BoxFuture;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long to keep retrying S3's fresh-bucket races (`OperationAborted`, `NoSuchBucket`)
/// on a bucket the event just created, and on any other bucket.
const RACE_BUDGET_FRESH: Duration = Duration::from_secs(20);
const RACE_BUDGET: Duration = Duration::from_secs(2);
/// Re-read/re-merge rounds for the bucket policy when a concurrent writer interferes.
const POLICY_ROUNDS: usize = 4;

/// The facts one bucket's controls need, read concurrently.
struct BucketFacts {
    tags: Result<Vec<(String, String)>, AwsError>,
    encryption: Result<Option<sse_kms::Encryption>, AwsError>,
    public_access_block: Result<Option<public_access_block::PublicAccessBlock>, AwsError>,
    policy: Result<Option<String>, AwsError>,
}

async fn read_facts(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    audit_only: bool,
    race: s3::Race,
) -> BucketFacts {
    let tags = s3::race_retry(race, || s3::read_tags(client, bucket, owner));
    let encryption = s3::race_retry(race, || s3::read_encryption(client, bucket, owner));
    if audit_only {
        let (tags, encryption) = tokio::join!(tags, encryption);
        return BucketFacts {
            tags,
            encryption,
            public_access_block: Ok(None),
            policy: Ok(None),
        };
    }
    let pab = s3::race_retry(race, || s3::read_public_access_block(client, bucket, owner));
    let policy = s3::race_retry(race, || s3::read_policy(client, bucket, owner));
    let (tags, encryption, public_access_block, policy) =
        tokio::join!(tags, encryption, pab, policy);
    BucketFacts {
        tags,
        encryption,
        public_access_block,
        policy,
    }
}

fn unreadable(control: &'static str, e: &AwsError) -> ControlResult {
    if e.code.as_deref() == Some("NoSuchBucket") {
        return ControlResult::new(
            control,
            Status::Skipped,
            "the bucket does not exist (NoSuchBucket); nothing written",
        );
    }
    let detail = if e.is_access_denied() {
        format!(
            "cannot read the bucket's state: access denied ({}); nothing written",
            e.operation
        )
    } else {
        format!("cannot read the bucket's state: {e}; nothing written")
    };
    ControlResult::new(control, Status::Failed, detail)
}

/// The S3 controls a bucket gets: source data (audit-only) is checked for encryption only.
fn controls_for(target: &BucketTarget) -> &'static [&'static str] {
    if target.audit_only {
        &[sse_kms::ID]
    } else {
        &[sse_kms::ID, public_access_block::ID, tls_only::ID]
    }
}

/// Why a bucket's fixes are held back: reported with this status, severity and reason.
pub(super) struct Hold {
    pub status: Status,
    pub severity: Severity,
    pub why: String,
}

/// Asked once, only when a bucket has fixes to apply, before any is applied: drift uses
/// it to count restorations, and to stop restoring a bucket another writer keeps changing.
pub(super) trait WriteGate: Sync {
    fn permit(&self) -> BoxFuture<'_, Result<(), Hold>>;
}

/// Evaluates the S3 controls on one bucket and, in remediate mode, applies and verifies,
/// giving up shortly before `deadline`: then every control of the bucket is `failed`
/// with what was not finished (a retried event converges).
pub async fn guard_bucket(
    app: &App,
    target: &BucketTarget,
    key: &KeyTarget,
    account: &str,
    deadline: Instant,
) -> Resource {
    guard_bucket_gated(app, target, key, account, deadline, None).await
}

/// [`guard_bucket`], asking `gate` before writing.
pub(super) async fn guard_bucket_gated(
    app: &App,
    target: &BucketTarget,
    key: &KeyTarget,
    account: &str,
    deadline: Instant,
    gate: Option<&dyn WriteGate>,
) -> Resource {
    // On the heap: one bucket's evaluation is a large future (reads, dependents, rules,
    // schedules, writes), and a sweep holds many; debug builds' stacks are small.
    let work = Box::pin(guard_bucket_unbounded(
        app, target, key, account, deadline, gate,
    ));
    match tokio::time::timeout_at(hard_stop(deadline), work).await {
        Ok(resource) => resource,
        Err(_) => {
            warn!(bucket = %target.name, "bucket not finished before the deadline");
            let controls = controls_for(target);
            Resource {
                kind: ResourceType::S3Bucket,
                id: target.name.clone(),
                name: None,
                role: Some(target.role.to_owned()),
                region: Some(target.region.clone()),
                account: None,
                controls: controls
                    .iter()
                    .map(|c| {
                        ControlResult::new(
                            c,
                            Status::Failed,
                            format!("{NOT_FINISHED}; state not verified, a retry converges"),
                        )
                    })
                    .collect(),
            }
        }
    }
}

async fn guard_bucket_unbounded(
    app: &App,
    target: &BucketTarget,
    key: &KeyTarget,
    account: &str,
    deadline: Instant,
    gate: Option<&dyn WriteGate>,
) -> Resource {
    let client = app.clients.s3(&target.region);
    let budget = if target.fresh {
        RACE_BUDGET_FRESH
    } else {
        RACE_BUDGET
    };
    let race = s3::Race {
        until: deadline.min(Instant::now() + budget),
        fresh: target.fresh,
    };
    // The layers above the bucket are read alongside its own facts (once per account).
    let (facts, layers) = tokio::join!(
        read_facts(&client, &target.name, account, target.audit_only, race),
        async {
            if target.audit_only {
                None
            } else {
                Some(app.layers(account, &target.region).await)
            }
        }
    );
    let layers = layers.unwrap_or_else(|| std::sync::Arc::new(Layers::none()));
    let req = Requirement::new(
        &target.name,
        region::partition(&target.region),
        app.config.min_tls_version.as_deref(),
    )
    .dropping_stale_principals(app.config.drop_stale_principals);
    let mut resource = Resource {
        kind: ResourceType::S3Bucket,
        id: target.name.clone(),
        name: None,
        role: Some(target.role.to_owned()),
        region: Some(target.region.clone()),
        account: None,
        controls: Vec::new(),
    };
    let controls = controls_for(target);

    // Without the tags the exemption is unknown: write nothing at all.
    let tags = match facts.tags {
        Ok(tags) => tags,
        Err(e) => {
            warn!(bucket = %target.name, error = %e, "cannot read bucket tags; no control will write");
            resource.controls = controls
                .iter()
                .map(|c| {
                    let mut r = unreadable(c, &e);
                    if r.status == Status::Failed {
                        r.detail = format!("cannot read the bucket's tags to check the exemption ({e}); nothing written");
                    }
                    r
                })
                .collect();
            return resource;
        }
    };
    let now = app.now_millis();
    // The OUs a rule may name: unknown, no rule can allow a write (audited, said).
    let ous = app.ou_path(account).await;
    let ou_list: &[String] = ous.as_deref().unwrap_or(&[]);
    let subject = |control| scope::Subject {
        account,
        ous: ou_list,
        region: &target.region,
        tags: &tags,
        bucket: &target.name,
        control,
    };

    let existing_key = match facts
        .encryption
        .as_ref()
        .ok()
        .and_then(|e| sse_kms::needs_existing_key(e.as_ref(), key))
    {
        // Described in the bucket's Region; undescribable (another account's key, a
        // deleted one) is reported, never replaced.
        Some(existing) => Some(
            app.describe_key(&target.region, &existing, false)
                .await
                .map_err(|e| e.to_string()),
        ),
        None => None,
    };
    let findings: Vec<(&'static str, Result<Finding, &AwsError>)> = vec![
        (
            sse_kms::ID,
            facts.encryption.as_ref().map(|e| {
                sse_kms::evaluate(
                    e.as_ref(),
                    key,
                    existing_key.as_ref(),
                    app.config.kms_key_policy,
                )
            }),
        ),
        (
            public_access_block::ID,
            facts.public_access_block.as_ref().map(|p| {
                let above =
                    layers.public_access_block(app.config.bucket_bpa == Layered::WhenNotEnforced);
                controls::layered(public_access_block::evaluate(p.as_ref()), &above)
            }),
        ),
        (
            tls_only::ID,
            facts.policy.as_ref().map(|p| {
                let above = layers.tls_only(&req, app.config.tls == Layered::WhenNotEnforced);
                controls::layered(tls_only::evaluate(p.as_deref(), &req), &above)
            }),
        ),
    ];
    // Which layers enforce each control as found; a verified fix adds the bucket.
    let enforced: HashMap<&'static str, Vec<String>> = findings
        .iter()
        .filter_map(|(c, f)| f.as_ref().ok().map(|f| (*c, f.enforced_by.clone())))
        .collect();
    let mut proposals = Vec::new();
    for (control, finding) in findings.into_iter().filter(|(c, _)| controls.contains(c)) {
        let finding = match finding {
            Ok(f) => f,
            Err(e) => {
                resource.controls.push(unreadable(control, e));
                continue;
            }
        };
        let mut finding = finding;
        let excepted = exception(app, &subject(control), &tags, now);
        if let Some(scope::Excepted::Expired { .. }) = &excepted {
            finding.detail = format!("{}; {}", excepted_detail(&excepted), finding.detail);
        }
        let decision = mode_of(app, &subject(control), &ous);
        if let Some(e @ scope::Excepted::Exempt { until, .. }) = &excepted {
            let mut r = ControlResult::new(
                control,
                Status::Exempt,
                format!("{}; found: {}", e.detail(), finding.detail),
            )
            .with_before(finding.before);
            // Open-ended: low (unless the control insists, as a public bucket does).
            r.severity = finding
                .severity
                .or(until.is_none().then_some(Severity::Low));
            resource.controls.push(r);
        } else if decision.mode == scope::RuleMode::Off && !target.audit_only {
            resource.controls.push(
                ControlResult::new(
                    control,
                    Status::Skipped,
                    format!("off by {}; not evaluated for a fix", decision.decided_by),
                )
                .with_before(finding.before),
            );
        } else if target.audit_only {
            resource.controls.push(finding.unapplied(
                Status::NonCompliant,
                "source data is reported, never changed",
            ));
        } else if let Outcome::Fix(_) = finding.outcome {
            proposals.push(finding);
        } else {
            resource.controls.push(finding.reported());
        }
    }
    // The full states of each proposal (a policy: the whole document), for the plan, the
    // change record and `apply`'s "as planned" check.
    let policy_text = facts.policy.as_ref().ok().cloned().flatten();
    let full: HashMap<&'static str, (Value, Value)> = proposals
        .iter()
        .filter_map(|f| match &f.outcome {
            Outcome::Fix(fix) => {
                let before = match f.control {
                    tls_only::ID => policy_text.clone().map_or(Value::Null, Value::String),
                    _ => f.before.clone(),
                };
                Some((f.control, (before, change::desired(fix))))
            }
            _ => None,
        })
        .collect();
    let states = |control: &str, kind: StatesKind| {
        full.get(control).map(|(before, after)| States {
            kind,
            before: before.clone(),
            after: after.clone(),
        })
    };
    // Who depends on the bucket is known before anything is written, and in audit mode
    // too: the report says the same in both (what would be held, and why).
    let mut to_apply = Vec::new();
    let mut notify = Vec::new();
    if !proposals.is_empty() {
        let (usage, suppressed) = tokio::join!(
            s3::read_usage(&client, &target.name, account, race),
            Box::pin(suppressed_in_security_hub(app, target, account, &proposals))
        );
        let proposals = match suppressed {
            Ok(controls) if !controls.is_empty() => {
                let (kept, honoured): (Vec<Finding>, Vec<Finding>) = proposals
                    .into_iter()
                    .partition(|f| !controls.contains(&f.control));
                for f in honoured {
                    let mut r = ControlResult::new(
                        f.control,
                        Status::Exempt,
                        format!(
                            "exempt: its Security Hub finding is SUPPRESSED (a risk accepted there); found: {}",
                            f.detail
                        ),
                    )
                    .with_before(f.before);
                    r.severity = f.severity;
                    resource.controls.push(r);
                }
                kept
            }
            Ok(_) => proposals,
            Err(why) => {
                for f in proposals {
                    resource.controls.push(f.unapplied(Status::Failed, &why));
                }
                Vec::new()
            }
        };
        let verdicts = safety::review(
            app,
            target,
            account,
            facts.policy.as_ref().ok().and_then(|p| p.as_deref()),
            usage,
            proposals,
        )
        .await;
        for verdict in verdicts {
            match verdict {
                safety::Verdict::Held(mut result) => {
                    result.states = states(&result.control, StatesKind::Held)
                        .map(Box::new)
                        .into();
                    resource.controls.push(result);
                }
                safety::Verdict::Apply(finding) => {
                    let decision = mode_of(app, &subject(finding.control), &ous);
                    let why = match decision.mode {
                        _ if app.dry_run => Some("audit mode".to_owned()),
                        scope::RuleMode::Audit if app.rules.rules.is_empty() => {
                            Some("audit mode".to_owned())
                        }
                        scope::RuleMode::Audit => {
                            Some(format!("audit mode, by {}", decision.decided_by))
                        }
                        scope::RuleMode::NotifyThenRemediate(grace) if !target.after_grace => {
                            notify.push((finding, grace, decision.decided_by));
                            continue;
                        }
                        _ => None,
                    };
                    match why {
                        Some(why) => {
                            let proposed = states(finding.control, StatesKind::Proposed);
                            let mut result = finding.unapplied(Status::WouldRemediate, &why);
                            result.states = proposed.map(Box::new).into();
                            resource.controls.push(result);
                        }
                        // With rules, what decided the write is said with it.
                        None if !app.rules.rules.is_empty() => {
                            let mut finding = finding;
                            finding.detail = format!(
                                "{} (mode remediate, by {})",
                                finding.detail, decision.decided_by
                            );
                            to_apply.push(finding);
                        }
                        None => to_apply.push(finding),
                    }
                }
            }
        }
        if !notify.is_empty() {
            let scheduled = Box::pin(schedule_after_grace(app, target, account, &notify)).await;
            for (finding, _, decided_by) in notify {
                let proposed = states(finding.control, StatesKind::Proposed);
                let mut result = match &scheduled {
                    Ok((scheduler::Created::New, when, name)) => finding.unapplied(
                        Status::WouldRemediate,
                        &format!("notify-then-remediate, by {decided_by}: scheduled for {when} (schedule {name}); the bucket is evaluated again then and written only if still needed"),
                    ),
                    Ok((scheduler::Created::Exists, _, name)) => {
                        let mut r = ControlResult::new(
                            finding.control,
                            Status::Skipped,
                            format!(
                                "notify-then-remediate, by {decided_by}: remediation already scheduled (schedule {name}); alerted when it was scheduled, nothing written"
                            ),
                        )
                        .with_before(finding.before);
                        r.severity = finding.severity;
                        r
                    }
                    Err(why) => finding.unapplied(Status::Failed, why),
                };
                result.states = proposed.map(Box::new).into();
                resource.controls.push(result);
            }
        }
        if let Some(approved) = &app.approved {
            to_apply = admit_planned(approved, (account, target), &full, to_apply, &mut resource);
        }
    }
    let held = match gate {
        Some(gate) if !to_apply.is_empty() => gate.permit().await.err(),
        _ => None,
    };
    if let Some(hold) = held {
        warn!(bucket = %target.name, reason = %hold.why, "fixes held back");
        for f in to_apply.drain(..) {
            resource.controls.push(
                f.with_severity(hold.severity)
                    .unapplied(hold.status, &hold.why),
            );
        }
    }
    if !to_apply.is_empty() {
        if Instant::now() + DEADLINE_MARGIN >= deadline {
            for f in to_apply {
                resource
                    .controls
                    .push(f.unapplied(Status::Failed, "the invocation's deadline was near"));
            }
        } else {
            let verify = Verify {
                key,
                existing_key: existing_key.as_ref(),
                key_policy: app.config.kms_key_policy,
            };
            let apply = |f: Finding| {
                let before = full.get(f.control).map(|(b, _)| b.clone());
                apply_and_verify(&client, target, account, &verify, &req, (f, before), race)
            };
            // S3 refuses a public policy once BlockPublicPolicy is on: a merge that keeps a
            // public statement is written first, Block Public Access after it.
            let (later, first): (Vec<Finding>, Vec<Finding>) = if safety::policy_first(&to_apply) {
                to_apply
                    .into_iter()
                    .partition(|f| matches!(f.outcome, Outcome::Fix(Fix::PublicAccessBlock)))
            } else {
                (Vec::new(), to_apply)
            };
            let applied = futures::future::join_all(first.into_iter().map(apply)).await;
            resource.controls.extend(applied);
            let applied = futures::future::join_all(later.into_iter().map(apply)).await;
            resource.controls.extend(applied);
            if app.config.reencrypt == Reencrypt::Batch {
                super::reencrypt::after_remediation(app, target, account, &mut resource).await;
            }
        }
    }
    for c in &mut resource.controls {
        let Some(layers) = enforced.get(c.control.as_str()) else {
            continue;
        };
        let mut layers = layers.clone();
        if c.status == Status::Remediated && !layers.iter().any(|l| l == "bucket") {
            layers.insert(0, "bucket".to_owned());
        }
        c.enforced_by = layers;
    }
    let order = |c: &str| controls.iter().position(|x| *x == c).unwrap_or(usize::MAX);
    resource.controls.sort_by_key(|c| order(&c.control));
    resource
}

/// What an encryption write is verified against: the same rules as its evaluation (a
/// team's own key, kept with S3 Bucket Keys turned on, is compliant when read back).
struct Verify<'a> {
    key: &'a KeyTarget,
    existing_key: Option<&'a Result<KeyInfo, String>>,
    key_policy: KeyPolicy,
}

/// Applies one fix, then reads the bucket back and reports what it verified; the full
/// state read before it (a policy: the document) goes into the change record with it.
async fn apply_and_verify(
    client: &aws_sdk_s3::Client,
    target: &BucketTarget,
    owner: &str,
    verify: &Verify<'_>,
    req: &Requirement,
    (finding, full_before): (Finding, Option<Value>),
    race: s3::Race,
) -> ControlResult {
    let bucket = target.name.as_str();
    let Outcome::Fix(fix) = &finding.outcome else {
        return finding.reported();
    };
    // The finding on what was read back (its `before` is the state verified), and the
    // policy document read back.
    let mut policy_after = None;
    let verified: Result<Finding, AwsError> = match fix {
        Fix::Encryption(enc) => {
            async {
                s3::race_retry(race, || s3::put_encryption(client, bucket, owner, enc)).await?;
                let now =
                    s3::race_retry(race, || s3::read_encryption(client, bucket, owner)).await?;
                let mut after = sse_kms::evaluate(
                    now.as_ref(),
                    verify.key,
                    verify.existing_key,
                    verify.key_policy,
                );
                // SSE-C stays blocked: a write that re-allowed it is not verified.
                if enc
                    .blocked_encryption_types
                    .iter()
                    .any(|t| t == sse_kms::SSE_C)
                    && now.as_ref().is_some_and(sse_kms::Encryption::allows_sse_c)
                {
                    after.outcome = Outcome::NonCompliant;
                    after.detail = format!(
                        "{}; SSE-C was blocked before the write and is allowed after it",
                        after.detail
                    );
                }
                Ok(after)
            }
            .await
        }
        Fix::PublicAccessBlock => {
            async {
                s3::race_retry(race, || s3::put_public_access_block(client, bucket, owner)).await?;
                let now =
                    s3::race_retry(race, || s3::read_public_access_block(client, bucket, owner))
                        .await?;
                Ok(public_access_block::evaluate(now.as_ref()))
            }
            .await
        }
        Fix::Policy { document, .. } => {
            merge_policy_until_verified(client, bucket, owner, req, document, race)
                .await
                .map(|(finding, text)| {
                    policy_after = Some(text.map_or(Value::Null, Value::String));
                    finding
                })
        }
    };
    // What the change record keeps of a write that was made.
    let written = |after: &Finding| {
        full_before.clone().map(|before| {
            Box::new(States {
                kind: StatesKind::Written,
                before,
                after: policy_after.clone().unwrap_or_else(|| after.before.clone()),
            })
        })
    };
    let (control, before, detail) = (
        finding.control,
        finding.before.clone(),
        finding.detail.clone(),
    );
    match verified {
        Ok(after) if after.outcome == Outcome::Compliant => {
            info!(control, bucket, "remediated and verified");
            let states = written(&after);
            let mut result = ControlResult::new(control, Status::Remediated, detail)
                .with_before(before)
                .with_after(after.before);
            result.severity = finding.severity;
            result.states = states.into();
            result
        }
        Ok(after) => {
            warn!(control, bucket, found = %after.detail, "write not verified");
            let states = written(&after);
            let mut result = ControlResult::new(
                control,
                Status::Failed,
                format!("{detail}; wrote it, but read back: {}", after.detail),
            )
            .with_before(before)
            .with_after(after.before);
            result.states = states.into();
            result
        }
        Err(e) => {
            warn!(control, bucket, error = %e, "remediation failed");
            let why = match fix {
                Fix::Policy { document, .. } => safety::policy_refusal(&e, document),
                _ => None,
            }
            .unwrap_or_else(|| e.to_string());
            let mut result =
                ControlResult::new(control, Status::Failed, format!("{detail}; {why}"))
                    .with_before(before);
            result.severity = finding.severity;
            result
        }
    }
}

/// Puts the merged policy, reads it back, and — if a concurrent writer replaced it in
/// between — merges into what is there now and puts again, a bounded number of times.
/// Each put is a full merge of the policy just read, so no statement read is dropped.
async fn merge_policy_until_verified(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    req: &Requirement,
    first: &str,
    race: s3::Race,
) -> Result<(Finding, Option<String>), AwsError> {
    let mut document = first.to_owned();
    let mut round = 1;
    loop {
        s3::race_retry(race, || s3::put_policy(client, bucket, owner, &document)).await?;
        let now = s3::race_retry(race, || s3::read_policy(client, bucket, owner)).await?;
        let finding = tls_only::evaluate(now.as_deref(), req);
        match &finding.outcome {
            Outcome::Fix(Fix::Policy { document: next, .. }) if round < POLICY_ROUNDS => {
                warn!(
                    bucket,
                    round, "bucket policy changed under us; merging again"
                );
                document = next.clone();
                round += 1;
            }
            _ => return Ok((finding, now)),
        }
    }
}

/// `apply --plan`: keeps the fixes the plan has, as planned; the rest are reported
/// (not in the plan: `would-remediate`; changed since: `skipped`) and not written.
fn admit_planned(
    approved: &Approved,
    (account, target): (&str, &BucketTarget),
    full: &HashMap<&'static str, (Value, Value)>,
    proposals: Vec<Finding>,
    resource: &mut Resource,
) -> Vec<Finding> {
    let mut kept = Vec::new();
    for f in proposals {
        let Some((before, after)) = full.get(f.control) else {
            kept.push(f);
            continue;
        };
        let at = (account, target.region.as_str(), target.name.as_str());
        match approved.admit(at, f.control, before, after) {
            Admit::Go => kept.push(f),
            Admit::NotPlanned => resource.controls.push(f.unapplied(
                Status::WouldRemediate,
                &format!("not in plan {}", approved.plan_id),
            )),
            Admit::ChangedSincePlan(why) => {
                let mut result = ControlResult::new(
                    f.control,
                    Status::Skipped,
                    format!(
                        "changed since plan {}: {why}; nothing written",
                        approved.plan_id
                    ),
                )
                .with_before(f.before);
                result.severity = f.severity;
                resource.controls.push(result);
            }
        }
    }
    kept
}

/// The exception for one control of the bucket: one in force (the document's or the
/// bucket's tags) wins over one that ended.
fn exception(
    app: &App,
    subject: &scope::Subject<'_>,
    tags: &[(String, String)],
    now: i64,
) -> Option<scope::Excepted> {
    let from_tags = scope::tag_exception(tags, &app.config.exempt_tag, now);
    let from_rules = scope::document_exception(&app.rules, subject, now);
    match (from_tags, from_rules) {
        (Some(e @ scope::Excepted::Exempt { .. }), _)
        | (_, Some(e @ scope::Excepted::Exempt { .. })) => Some(e),
        (a, b) => a.or(b),
    }
}

fn excepted_detail(e: &Option<scope::Excepted>) -> String {
    e.as_ref().map(scope::Excepted::detail).unwrap_or_default()
}

/// A control's mode: the scope rules, else `GUARD_MODE`; audit when an OU rule may
/// apply and the account's OUs are unknown.
fn mode_of(
    app: &App,
    subject: &scope::Subject<'_>,
    ous: &Result<&[String], String>,
) -> scope::Decision {
    if let Err(why) = ous {
        return scope::Decision {
            mode: scope::RuleMode::Audit,
            decided_by: format!(
                "the account's OUs are unknown ({why}), so no OU rule can allow a write"
            ),
        };
    }
    scope::resolve(&app.rules, subject, app.config.mode)
}

/// notify-then-remediate: one one-time schedule per bucket, at the end of the longest
/// grace of its controls, that delivers the bucket's grace event to the function. Its
/// name is the bucket's, so a second event during the grace finds it and schedules
/// nothing. `Ok((created, when, name))`, or why it could not be scheduled.
async fn schedule_after_grace(
    app: &App,
    target: &BucketTarget,
    account: &str,
    notify: &[(Finding, Duration, String)],
) -> Result<(scheduler::Created, String, String), String> {
    let grace = notify.iter().map(|(_, g, _)| *g).max().unwrap_or_default();
    let config = &app.config;
    let role = config.scheduler_role_arn.as_deref().ok_or(
        "notify-then-remediate needs GUARD_SCHEDULER_ROLE_ARN (the template's SchedulerRole); nothing scheduled or written",
    )?;
    let function = app.function_arn();
    let target_arn = config
        .schedule_target_arn
        .as_deref()
        .or(function.as_deref())
        .ok_or("notify-then-remediate needs GUARD_SCHEDULE_TARGET_ARN outside Lambda; nothing scheduled or written")?;
    let name = scope::schedule_name(account, &target.region, &target.name);
    let at_millis = app.now_millis() + grace.as_millis() as i64;
    let at: String = change::timestamp(at_millis).chars().take(19).collect();
    let decided_by = notify.first().map_or("", |(_, _, d)| d.as_str());
    let input = crate::event::grace_event(account, &target.region, &target.name, &name, decided_by);
    let description = format!(
        "rekognition-guard: remediate {} after its grace",
        target.name
    );
    let created = scheduler::create_one_time(
        &app.central.scheduler(),
        &scheduler::OneTime {
            group: &config.schedule_group,
            name: &name,
            at: &at,
            target_arn,
            role_arn: role,
            input: &input.to_string(),
            description: &description,
        },
    )
    .await
    .map_err(|e| format!("cannot schedule the remediation ({e}); nothing written"))?;
    Ok((created, format!("{at}Z"), name))
}

/// With Security Hub on: the proposals whose finding a person suppressed there, honoured
/// as exceptions; `Err` when that cannot be known (then nothing is written).
async fn suppressed_in_security_hub(
    app: &App,
    target: &BucketTarget,
    account: &str,
    proposals: &[Finding],
) -> Result<Vec<&'static str>, String> {
    if !app.config.security_hub || proposals.is_empty() {
        return Ok(Vec::new());
    }
    let arn = format!(
        "arn:{}:s3:::{}",
        region::partition(&target.region),
        target.name
    );
    let ids: Vec<(&'static str, String)> = proposals
        .iter()
        .map(|f| {
            (
                f.control,
                crate::sink::securityhub::asff::finding_id(
                    &target.region,
                    account,
                    f.control,
                    &arn,
                ),
            )
        })
        .collect();
    let client = app.clients.securityhub(&target.region);
    match crate::aws::securityhub::suppressed(&client, &ids).await {
        Ok(controls) => Ok(controls),
        // Not enabled in this account and Region: nothing can be suppressed there.
        Err(e) if crate::aws::securityhub::is_not_enabled(&e) => Ok(Vec::new()),
        Err(e) => Err(format!(
            "cannot read whether its Security Hub finding is suppressed ({e}); nothing written"
        )),
    }
}
