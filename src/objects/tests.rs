#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::inventory::{self, split_csv};
use super::job::{self, Filter, JobInputs};
use super::*;

const K1: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111";
const K2: &str = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222";
const AWS_S3: &str = "arn:aws:kms:us-east-1:123456789012:key/33333333-3333-3333-3333-333333333333";

/// `HeadObject`'s ServerSideEncryption, SSEKMSKeyId, SSECustomerAlgorithm, and the answer.
type HeadCase<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Encryption,
);

fn target() -> Target {
    Target {
        key_arn: K1.to_owned(),
        bucket_key: true,
    }
}

fn obj(key: &str, size: i64) -> Object {
    Object {
        key: key.to_owned(),
        version_id: None,
        size,
    }
}

#[test]
fn head_answers_classify() {
    let cases: &[HeadCase] = &[
        (None, None, None, Encryption::None),
        (Some("AES256"), None, None, Encryption::SseS3),
        (Some("aws:kms"), Some(K1), None, Encryption::Kms(K1.into())),
        (
            Some("aws:kms"),
            Some(AWS_S3),
            None,
            Encryption::AwsManaged(Some(AWS_S3.into())),
        ),
        (
            Some("aws:kms"),
            None,
            None,
            Encryption::AwsManaged(Some(AWS_S3.into())),
        ),
        (
            Some("aws:kms:dsse"),
            Some(K2),
            None,
            Encryption::Dsse(Some(K2.into())),
        ),
        (Some("AES256"), None, Some("AES256"), Encryption::SseC),
        (None, None, Some("AES256"), Encryption::SseC),
    ];
    for (sse, key, c, want) in cases {
        assert_eq!(
            &Encryption::from_head(*sse, *key, *c, Some(AWS_S3)),
            want,
            "{sse:?} {key:?} {c:?}"
        );
    }
    // The aws/s3 key named by its id only still counts as aws/s3.
    assert_eq!(
        Encryption::from_head(
            Some("aws:kms"),
            Some("33333333-3333-3333-3333-333333333333"),
            None,
            Some(AWS_S3)
        )
        .kind(),
        "aws/s3"
    );
    // Unknown aws/s3 ARN: a key is a customer key as far as we can tell.
    assert_eq!(
        Encryption::from_head(Some("aws:kms"), Some(AWS_S3), None, None).kind(),
        "sse-kms"
    );
}

#[test]
fn actions_follow_the_api_and_the_target() {
    let t = target();
    assert_eq!(action(&Encryption::SseS3, &t), Action::Update);
    assert_eq!(action(&Encryption::Kms(K2.into()), &t), Action::Update);
    assert_eq!(
        action(&Encryption::AwsManaged(Some(AWS_S3.into())), &t),
        Action::Update
    );
    assert_eq!(action(&Encryption::Kms(K1.into()), &t), Action::Keep);
    // The same key named by id.
    assert_eq!(
        action(
            &Encryption::Kms("11111111-1111-1111-1111-111111111111".into()),
            &t
        ),
        Action::Keep
    );
    for e in [
        Encryption::None,
        Encryption::SseC,
        Encryption::Dsse(Some(K1.into())),
    ] {
        assert!(
            matches!(action(&e, &t), Action::Unsupported(_)),
            "{e:?} cannot be changed by the API"
        );
    }
}

#[test]
fn changes_split_fifty_sse_s3_and_a_few_under_the_key() {
    let mut objects: Vec<(Object, Encryption)> = (0..50)
        .map(|i| (obj(&format!("images/{i}.jpg"), 100), Encryption::SseS3))
        .collect();
    objects.extend((0..3).map(|i| (obj(&format!("k/{i}"), 1), Encryption::Kms(K1.into()))));
    objects.push((obj("other", 1), Encryption::Kms(K2.into())));
    objects.push((obj("plain", 1), Encryption::None));
    let c = changes(objects, &target());
    assert_eq!(c.update.len(), 51);
    assert_eq!(c.keep, 3);
    assert_eq!(c.unsupported.len(), 1);
    assert_eq!(c.unsupported[0].0.key, "plain");
}

#[test]
fn tally_counts_objects_and_bytes_and_other_keys() {
    let mut t = Tally::default();
    for i in 0..50 {
        t.add(&obj(&i.to_string(), 10), Encryption::SseS3);
    }
    t.add(&obj("a", 5), Encryption::Kms(K1.into()));
    t.add(&obj("b", 7), Encryption::Kms(K2.into()));
    t.add(&obj("c", 7), Encryption::AwsManaged(Some(AWS_S3.into())));
    assert_eq!(t.objects(), 53);
    assert_eq!(t.bytes(), 519);
    let mut others = t.other_keys(K1);
    others.sort();
    assert_eq!(others, vec![K2.to_owned(), AWS_S3.to_owned()]);
    let rows = Census::rows(&t);
    let sse_s3 = rows.iter().find(|r| r.encryption == "sse-s3").unwrap();
    assert_eq!(
        (sse_s3.objects, sse_s3.bytes, sse_s3.updatable),
        (50, 500, true)
    );
}

#[test]
fn path_is_direct_up_to_the_limit() {
    assert_eq!(path(10, 10, false), Path::Direct);
    assert_eq!(path(11, 10, false), Path::Batch);
    assert_eq!(path(1, 10, true), Path::Batch);
}

#[test]
fn target_key_from_flag_or_bucket_default() {
    assert_eq!(
        target_key(Some(K2), Some("AES256"), None),
        Ok(Some(K2.to_owned()))
    );
    assert_eq!(
        target_key(None, Some("aws:kms"), Some(K1)),
        Ok(Some(K1.to_owned()))
    );
    assert_eq!(target_key(None, Some("aws:kms"), None), Ok(None));
    assert!(
        target_key(None, Some("AES256"), None)
            .unwrap_err()
            .contains("--key")
    );
    assert!(target_key(None, Some("aws:kms:dsse"), Some(K1)).is_err());
    assert!(target_key(None, None, None).is_err());
}

#[test]
fn job_filter_lists_sse_s3_and_each_other_key_once() {
    let f = job::filter(&target(), &[K2.into(), K1.into(), K2.into(), AWS_S3.into()]);
    assert_eq!(
        f,
        vec![
            Filter::SseS3,
            Filter::SseKms { key_arn: K2.into() },
            Filter::SseKms {
                key_arn: AWS_S3.into()
            },
        ]
    );
}

#[test]
fn job_request_is_deterministic_per_seed() {
    let t = target();
    let inputs = JobInputs {
        account: "123456789012",
        partition: "aws",
        bucket: "b",
        prefix: Some("images/"),
        target: &t,
        other_keys: &[],
        report_bucket: "reports",
        report_prefix: "guard",
        role_arn: "arn:aws:iam::123456789012:role/r",
        token_seed: "event-1",
    };
    let a = job::request(&inputs);
    assert_eq!(a.bucket_arn, "arn:aws:s3:::b");
    assert_eq!(a.report_bucket_arn, "arn:aws:s3:::reports");
    assert_eq!(a.prefix.as_deref(), Some("images/"));
    assert!(a.description.starts_with(job::DESCRIPTION_PREFIX));
    assert_eq!(a.client_token.len(), 48);
    assert_eq!(a, job::request(&inputs), "same inputs, same token");
    let b = job::request(&JobInputs {
        token_seed: "event-2",
        ..inputs
    });
    assert_ne!(a.client_token, b.client_token);
}

#[test]
fn report_location_takes_an_s3_url_or_a_prefix() {
    assert_eq!(
        job::report_location("s3://reports/guard/jobs/", "b"),
        Ok(("reports".into(), "guard/jobs".into()))
    );
    assert_eq!(
        job::report_location("guard-reports", "b"),
        Ok(("b".into(), "guard-reports".into()))
    );
    assert!(job::report_location("s3:///x", "b").is_err());
}

#[test]
fn completion_report_counts() {
    let manifest = r#"{"Format":"Report_CSV_20180820","ReportCreationDate":"2026-01-01T00:00:00Z",
      "Results":[{"TaskExecutionStatus":"succeeded","Bucket":"r","MD5Checksum":"x","Key":"p/job-1/results/a.csv"},
                 {"TaskExecutionStatus":"failed","Bucket":"r","MD5Checksum":"y","Key":"p/job-1/results/b.csv"}],
      "ReportSchema":"Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"}"#;
    let m = job::parse_report_manifest(manifest).unwrap();
    assert_eq!(m.results.len(), 2);
    assert_eq!(m.results[1].task_execution_status, "failed");
    let mut c = job::ReportCounts::default();
    job::count_report_csv(
        "b,a.jpg,,succeeded,,200,Successful\nb,c.jpg,,failed,AccessDenied,403,\"Object Lock, governance\"\nb,d.jpg,,failed,AccessDenied,403,x\n",
        &mut c,
    );
    assert_eq!((c.succeeded, c.failed), (1, 2));
    assert_eq!(c.by_error.get("AccessDenied"), Some(&2));
    assert!(job::parse_report_manifest("nope").is_err());
}

#[test]
fn csv_fields_with_quotes() {
    assert_eq!(
        split_csv("a,\"b,c\",\"d\"\"e\",,"),
        vec!["a", "b,c", "d\"e", "", ""]
    );
    assert_eq!(split_csv("x"), vec!["x"]);
}

#[test]
fn inventory_rows_are_counted_by_encryption() {
    let m = inventory::parse_manifest(
        r#"{"sourceBucket":"b","destinationBucket":"arn:aws:s3:::inv","version":"2016-11-30",
        "fileFormat":"CSV","fileSchema":"Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, EncryptionStatus",
        "files":[{"key":"inv/b/cfg/data/1.csv.gz","size":1,"MD5checksum":"x"}]}"#,
    )
    .unwrap();
    assert_eq!(m.files.len(), 1);
    let cols = inventory::columns(&m.file_schema).unwrap();
    let csv = "\"b\",\"images/a+b.jpg\",\"v1\",\"true\",\"false\",\"10\",\"SSE-S3\"\n\
               \"b\",\"images/c%2Bd.jpg\",\"v2\",\"false\",\"false\",\"20\",\"SSE-S3\"\n\
               \"b\",\"images/e.jpg\",\"v3\",\"true\",\"true\",\"0\",\"SSE-S3\"\n\
               \"b\",\"other/f.jpg\",\"v4\",\"true\",\"false\",\"5\",\"SSE-KMS\"\n\
               \"b\",\"images/g.jpg\",\"v5\",\"true\",\"false\",\"7\",\"NOT-SSE\"\n";
    let mut by = std::collections::BTreeMap::new();
    assert_eq!(inventory::count_csv(csv, cols, None, true, &mut by), 3);
    assert_eq!(by[&Encryption::SseS3].objects, 1);
    assert_eq!(by[&Encryption::None].bytes, 7);
    let mut all = std::collections::BTreeMap::new();
    assert_eq!(
        inventory::count_csv(csv, cols, Some("images/"), false, &mut all),
        3
    );
    assert_eq!(all[&Encryption::SseS3].bytes, 30);
    assert!(inventory::columns("Bucket, Key, Size").is_err());
    assert!(
        inventory::parse_manifest(r#"{"fileFormat":"Parquet","fileSchema":"x","files":[]}"#)
            .is_err()
    );
    assert_eq!(inventory::decode_key("a+b%2Fc%zz"), "a b/c%zz");
}

#[test]
fn newest_inventory_delivery() {
    let folders = vec![
        "inv/b/cfg/2026-01-02T01-00Z/".to_owned(),
        "inv/b/cfg/data/".to_owned(),
        "inv/b/cfg/2026-01-09T01-00Z/".to_owned(),
        "inv/b/cfg/hive/".to_owned(),
    ];
    assert_eq!(
        inventory::newest(&folders).map(String::as_str),
        Some("inv/b/cfg/2026-01-09T01-00Z/")
    );
}

#[test]
fn census_table_says_it_sampled() {
    let mut t = Tally::default();
    t.add(&obj("a", 2048), Encryption::SseS3);
    let c = Census {
        bucket: "b".into(),
        prefix: None,
        versions: "current",
        source: Source::ListAndHead,
        sampled: true,
        max: Some(1),
        objects: t.objects(),
        bytes: t.bytes(),
        by_encryption: Census::rows(&t),
        unread: vec![],
        aws_s3_key: None,
        requests: 2,
    };
    let table = c.to_table();
    assert!(table.contains("SAMPLE: stopped at --max 1"), "{table}");
    assert!(table.contains("2.0 KiB"), "{table}");
}
