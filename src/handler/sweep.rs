//! Sweeps: every guarded bucket (by prefix, plus Custom Labels output buckets), with
//! bounded concurrency, stopping before the deadline.

use super::{App, DEADLINE_MARGIN, guard_bucket, single};
use crate::aws::{rekognition, s3};
use crate::event::{self, BucketTarget};
use crate::report::{ControlResult, Resource, ResourceType, Status};
use futures::StreamExt;
use std::time::{Duration, Instant};
use tracing::info;

/// Progress of a sweep, for a terminal's progress bar.
pub trait Progress: Send + Sync {
    fn total(&self, _buckets: usize) {}
    fn done(&self, _bucket: &str) {}
}

/// No progress display (Lambda, JSON output, tests).
pub struct Quiet;
impl Progress for Quiet {}

/// A bucket a sweep will guard: its region when the listing said it.
struct Candidate {
    name: String,
    region: Option<String>,
    role: &'static str,
}

/// The buckets a sweep covers: every guarded prefix's buckets and the output buckets of
/// existing Custom Labels project versions, or exactly `only`.
async fn candidates(
    app: &App,
    only: &[String],
    home: &str,
    resources: &mut Vec<Resource>,
) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    let mut add = |name: String, region: Option<String>, role: &'static str| {
        if !found.iter().any(|c| c.name == name) {
            found.push(Candidate { name, region, role });
        }
    };
    if !only.is_empty() {
        for name in only {
            match event::check_bucket_name(name) {
                Ok(()) => add(
                    name.clone(),
                    None,
                    app.config.bucket_role(name).unwrap_or("scan"),
                ),
                Err(reason) => resources.push(single(
                    ResourceType::S3Bucket,
                    name,
                    ControlResult::new("scan", Status::Skipped, reason),
                )),
            }
        }
        return found;
    }
    let s3_home = app.clients.s3(home);
    let prefixes: Vec<String> = app.config.guarded_prefixes().map(str::to_owned).collect();
    for prefix in prefixes {
        match s3::list_buckets(&s3_home, &prefix).await {
            Ok(buckets) => {
                for (name, region) in buckets {
                    let role = app.config.bucket_role(&name).unwrap_or("scan");
                    add(name, region, role);
                }
            }
            Err(e) => resources.push(single(
                ResourceType::S3Bucket,
                &format!("{prefix}*"),
                ControlResult::new("scan", Status::Failed, format!("cannot list buckets: {e}")),
            )),
        }
    }
    match rekognition::project_output_buckets(&app.clients.rekognition(home)).await {
        Ok(buckets) => {
            for name in buckets
                .into_iter()
                .filter(|b| event::check_bucket_name(b).is_ok())
            {
                add(name, None, "output");
            }
        }
        // "When the role allows it": a sweep without Rekognition read access still runs.
        Err(e) => info!(error = %e, "Custom Labels output buckets not listed"),
    }
    found
}

/// Lists guarded buckets (or takes `only`), resolves their regions and guards them with
/// bounded concurrency; a bucket not started before the deadline is reported unfinished.
pub async fn sweep(
    app: &App,
    only: &[String],
    account: &str,
    deadline: Instant,
    unfinished: &mut Vec<String>,
    progress: &dyn Progress,
) -> Vec<Resource> {
    let home = app
        .clients
        .home_region()
        .unwrap_or_else(|| "us-east-1".to_owned());
    let swept = sweep_in(app, only, account, &home, None, deadline, progress).await;
    unfinished.extend(
        swept
            .not_started
            .iter()
            .map(|name| format!("bucket {name}: not started before the deadline")),
    );
    swept.resources
}

/// What a sweep did, and the buckets it did not start before the deadline.
pub struct Swept {
    pub resources: Vec<Resource>,
    pub not_started: Vec<String>,
}

/// A sweep listed from `home`. With `only_region`, buckets in other Regions are left to
/// the work item of their own Region (an organization sweep is one item per Region).
pub async fn sweep_in(
    app: &App,
    only: &[String],
    account: &str,
    home: &str,
    only_region: Option<&str>,
    deadline: Instant,
    progress: &dyn Progress,
) -> Swept {
    let home = home.to_owned();
    let mut resources = Vec::new();
    let mut found = candidates(app, only, &home, &mut resources).await;
    if let Some(region) = only_region {
        found.retain(|c| c.region.as_deref().is_none_or(|r| r == region));
    }
    progress.total(found.len());
    let home_region = home.as_str();
    // The slowest bucket so far: a bucket is started only if one as slow would still reach
    // its writes before the deadline margin, so the rest is left whole (for a re-queued
    // work item or the next run) instead of read and then cut off before its fixes.
    let slowest = &std::sync::atomic::AtomicU64::new(0);
    let mut stream = futures::stream::iter(found.into_iter().map(|c| async move {
        let reserve = Duration::from_millis(slowest.load(std::sync::atomic::Ordering::Relaxed));
        if Instant::now() + DEADLINE_MARGIN + reserve >= deadline {
            return Err(c.name);
        }
        let began = Instant::now();
        let region = match c.region {
            Some(region) => region,
            None => match app.bucket_region(home_region, &c.name, account).await {
                Ok(region) => region,
                Err(e) => {
                    let status = if e.code.as_deref() == Some("NoSuchBucket") {
                        Status::Skipped
                    } else {
                        Status::Failed
                    };
                    return Ok(Some(single(
                        ResourceType::S3Bucket,
                        &c.name,
                        ControlResult::new(
                            "scan",
                            status,
                            format!("cannot resolve the bucket's region: {e}"),
                        ),
                    )));
                }
            },
        };
        let target = BucketTarget {
            name: c.name,
            region,
            role: c.role,
            audit_only: false,
            fresh: false,
            users: Vec::new(),
            after_grace: false,
        };
        if only_region.is_some_and(|r| r != target.region) {
            return Ok(None);
        }
        let key = app.remediation_key(&target.region).await;
        let resource = guard_bucket(app, &target, &key, account, deadline).await;
        slowest.fetch_max(
            began.elapsed().as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(Some(resource))
    }))
    .buffer_unordered(app.config.scan_concurrency);
    let mut not_started = Vec::new();
    while let Some(result) = stream.next().await {
        match result {
            Ok(Some(resource)) => {
                progress.done(&resource.id);
                resources.push(resource);
            }
            Ok(None) => {}
            Err(name) => {
                progress.done(&name);
                not_started.push(name);
            }
        }
    }
    resources.sort_by(|a, b| a.id.cmp(&b.id));
    not_started.sort();
    Swept {
        resources,
        not_started,
    }
}
