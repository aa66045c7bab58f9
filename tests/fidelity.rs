//! The function against what S3 refuses and keeps, through the fidelity layer
//! (tests/s3_fidelity.py) that every test binary's emulator sits behind. A fault proxy with no
//! rules is chained in front only to read which requests the function sent; every state is
//! read back through the layer, as S3 would answer it.
//!
//! - a remediated bucket still blocks SSE-C, and the function's PutBucketEncryption carried
//!   what it read (DESIGN "Do no harm": writes carry `BlockedEncryptionTypes`);
//! - a policy holding a deleted role's unique id (seeded on moto itself: S3 shows it, but
//!   refuses to have it put) is not put back, and nothing is lost;
//! - a policy whose merge would pass S3's 20 KB is refused by the function before S3 refuses it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::proxy::Proxy;
use common::{REGION, statements};
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::Config;
use rekognition_guard::handler;
use rekognition_guard::report::{Report, Status};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn run_via(proxy: &Proxy, bucket: &str) -> Report {
    let conf = common::sdk_config_with_endpoint(&proxy.endpoint).await;
    let app = common::app(Config::default(), Clients::new(conf));
    handler::handle(
        &app,
        &common::console_event(bucket),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap()
}

fn result(report: &Report, bucket: &str, control: &str) -> (Status, String) {
    report
        .results()
        .find(|(r, c)| r.id == bucket && c.control == control)
        .map(|(_, c)| (c.status, c.detail.clone()))
        .unwrap_or_else(|| panic!("no {control} result for {bucket}: {report:#?}"))
}

/// The layer's entries for `operation` on `bucket` in a chained proxy's log.
fn sent(proxy: &Proxy, operation: &str, bucket: &str) -> Vec<Value> {
    proxy
        .log()
        .into_iter()
        .filter(|e| {
            e["operation"] == operation
                && e["path"].as_str().map(|p| p.trim_matches('/')) == Some(bucket)
        })
        .collect()
}

#[tokio::test]
async fn a_remediated_bucket_still_blocks_sse_c_and_the_write_carried_it() {
    let bucket = common::console_bucket("fidelity-ssec-").await;
    let s3 = common::s3(REGION).await;
    assert_eq!(
        common::blocked_encryption_types(&s3, &bucket).await,
        ["SSE-C"]
    );
    let proxy = Proxy::start(&common::moto().endpoint);

    let report = run_via(&proxy, &bucket).await;
    assert_eq!(
        result(&report, &bucket, "sse-kms").0,
        Status::Remediated,
        "{report:#?}"
    );
    assert_eq!(
        common::read_encryption(&s3, &bucket).await.map(|e| e.0),
        Some("aws:kms".to_owned())
    );
    assert_eq!(
        common::blocked_encryption_types(&s3, &bucket).await,
        ["SSE-C"]
    );
    let puts = sent(&proxy, "PutBucketEncryption", &bucket);
    assert!(!puts.is_empty(), "no PutBucketEncryption sent");
    assert!(
        puts.iter()
            .all(|e| e["blocked_encryption_types_sent"] == true),
        "every PutBucketEncryption carries the BlockedEncryptionTypes it read: {puts:#?}"
    );
}

#[tokio::test]
async fn a_deleted_roles_unique_id_is_never_put_back_and_nothing_is_lost() {
    let bucket = common::console_bucket("fidelity-aroa-").await;
    // What S3 shows once the role named in a statement is deleted: its unique id.
    let original = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "TrainingRole", "Effect": "Allow", "Principal": {"AWS": "AROA1234567890EXAMPLE"},
         "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]});
    common::s3_raw(REGION)
        .await
        .put_bucket_policy()
        .bucket(&bucket)
        .policy(original.to_string())
        .send()
        .await
        .unwrap();
    let proxy = Proxy::start(&common::moto().endpoint);

    let report = run_via(&proxy, &bucket).await;
    let (tls, detail) = result(&report, &bucket, "tls-only");
    assert_ne!(tls, Status::Remediated, "{report:#?}");
    let s3 = common::s3(REGION).await;
    assert_eq!(
        common::bucket_policy(&s3, &bucket).await,
        Some(original),
        "the policy is as it was"
    );
    // Whatever the function decided, S3 never had to refuse a put of it.
    let refused: Vec<Value> = sent(&proxy, "PutBucketPolicy", &bucket)
        .into_iter()
        .filter(|e| e["status"] != 204 && e["status"] != 200)
        .collect();
    assert!(
        refused.is_empty(),
        "PutBucketPolicy refused by S3 ({refused:#?}); tls-only: {tls:?} {detail}"
    );
    // The other controls still do their job.
    assert_eq!(
        result(&report, &bucket, "sse-kms").0,
        Status::Remediated,
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_merge_past_20_kb_is_refused_before_s3_refuses_it() {
    let bucket = common::console_bucket("fidelity-big-").await;
    let vpces: Vec<String> = (0..1000).map(|i| format!("vpce-{i:017x}")).collect();
    let mut original = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "OnlyFromVpces", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": format!("arn:aws:s3:::{bucket}/*"),
         "Condition": {"StringNotEquals": {"aws:SourceVpce": vpces}}}]});
    // Just under 20 KB minified: S3 holds it; one more statement does not fit.
    while original.to_string().len() > 20 * 1024 - 40 {
        original["Statement"][0]["Condition"]["StringNotEquals"]["aws:SourceVpce"]
            .as_array_mut()
            .unwrap()
            .pop();
    }
    let s3 = common::s3(REGION).await;
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(original.to_string())
        .send()
        .await
        .unwrap();
    let proxy = Proxy::start(&common::moto().endpoint);

    let report = run_via(&proxy, &bucket).await;
    let (tls, detail) = result(&report, &bucket, "tls-only");
    assert_ne!(tls, Status::Remediated, "{report:#?}");
    assert_eq!(
        common::bucket_policy(&s3, &bucket)
            .await
            .map(|p| statements(&p).len()),
        Some(1)
    );
    let refused: Vec<Value> = sent(&proxy, "PutBucketPolicy", &bucket)
        .into_iter()
        .filter(|e| e["status"] != 204 && e["status"] != 200)
        .collect();
    assert!(
        refused.is_empty(),
        "PutBucketPolicy refused by S3 ({refused:#?}); tls-only: {tls:?} {detail}"
    );
}
