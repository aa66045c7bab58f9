//! Intake tests: samples from events/ and hand-built records.

use super::fields::is_key_id;
use super::*;
use serde_json::json;

fn cfg() -> Config {
    Config {
        bucket_prefixes: vec!["acme-ml-".into()],
        ..Config::default()
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn create_bucket(params: Value) -> Value {
    json!({"version": "0", "id": "e1", "detail-type": CLOUDTRAIL_DETAIL_TYPE,
           "source": "aws.s3", "account": "123456789012", "region": "us-east-1",
           "detail": {"eventSource": "s3.amazonaws.com", "eventName": "CreateBucket",
                      "awsRegion": "us-east-1", "requestParameters": params,
                      "userIdentity": {"sessionContext": {"sessionIssuer": {}}}}})
}

fn rekognition_of(p: &Parsed) -> &RekognitionPlan {
    match &p.plan {
        Plan::Rekognition(r) => r,
        other => panic!(
            "expected a Rekognition plan, got {other:?}: {:?}",
            p.trigger
        ),
    }
}

fn bucket_of(p: &Parsed) -> &BucketTarget {
    match &p.plan {
        Plan::Bucket(b) => b,
        other => panic!("expected a bucket plan, got {other:?}"),
    }
}

#[test]
fn console_sample_is_a_guarded_bucket() {
    let p = parse(&sample("create-bucket-console.json"), &cfg()).unwrap();
    assert_eq!(p.trigger.kind, TriggerKind::BucketCreated);
    assert_eq!(p.trigger.event_name.as_deref(), Some("CreateBucket"));
    assert_eq!(p.trigger.account.as_deref(), Some("123456789012"));
    let b = bucket_of(&p);
    assert_eq!(b.name, "custom-labels-console-us-east-1-3f9a1c2b7d");
    assert_eq!((b.region.as_str(), b.role), ("us-east-1", "console"));
}

#[test]
fn location_constraint_sets_the_region() {
    let p = parse(&sample("create-bucket-eu-west-1.json"), &cfg()).unwrap();
    assert_eq!(bucket_of(&p).region, "eu-west-1");
    let p = parse(
        &create_bucket(json!({"bucketName": "acme-ml-x",
            "CreateBucketConfiguration": {"LocationConstraint": "EU"}})),
        &cfg(),
    )
    .unwrap();
    assert_eq!(bucket_of(&p).region, "eu-west-1");
    assert_eq!(bucket_of(&p).role, "guarded-prefix");
}

#[test]
fn failed_and_unguarded_calls_are_ignored_with_a_reason() {
    for (file, needle) in [
        ("create-bucket-failed.json", "BucketAlreadyOwnedByYou"),
        ("create-bucket-unguarded.json", "matches neither"),
    ] {
        let p = parse(&sample(file), &cfg()).unwrap();
        assert_eq!(p.trigger.kind, TriggerKind::Ignored, "{file}");
        assert_eq!(p.plan, Plan::Ignore);
        let reason = p.trigger.ignored_reason.unwrap();
        assert!(reason.contains(needle), "{file}: {reason}");
    }
}

#[test]
fn ignored_content_cases() {
    let cases = [
        (json!(null), "requestParameters"),
        (json!({}), "bucketName"),
        (json!({"bucketName": 7}), "bucketName"),
        (
            json!({"bucketName": "custom-labels-console-../x"}),
            "invalid bucket name",
        ),
        (
            json!({"bucketName": "custom-labels-console-*"}),
            "invalid bucket name",
        ),
        (
            json!({"bucketName": "arn:aws:s3:::custom-labels-console-x"}),
            "invalid bucket name",
        ),
        (
            json!({"bucketName": "Custom-Labels-Console-X"}),
            "invalid bucket name",
        ),
        (
            json!({"bucketName": "custom-labels-console-x",
                "CreateBucketConfiguration": {"LocationConstraint": "../../etc"}}),
            "LocationConstraint",
        ),
        (
            json!({"bucketName": "custom-labels-console-x",
                "CreateBucketConfiguration": {"LocationConstraint": "cn-north-1"}}),
            "partition aws-cn",
        ),
    ];
    for (params, needle) in cases {
        let p = parse(&create_bucket(params.clone()), &cfg()).unwrap();
        let reason = p.trigger.ignored_reason.unwrap_or_default();
        assert!(reason.contains(needle), "{params}: {reason}");
        assert_eq!(p.plan, Plan::Ignore);
    }
}

#[test]
fn not_eventbridge_is_an_error() {
    for raw in [
        &b"not json"[..],
        b"",
        b"[]",
        b"{}",
        b"{\"detail-type\": 1}",
        b"{\"detail-type\": \"x\", \"source\": \"y\", \"detail\": []}",
    ] {
        assert!(
            parse_bytes(raw, &cfg()).is_err(),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn unknown_event_names_are_ignored() {
    let mut e = create_bucket(json!({"bucketName": "custom-labels-console-x"}));
    e["detail"]["eventName"] = json!("PutBucketAcl");
    let p = parse(&e, &cfg()).unwrap();
    assert!(p.trigger.ignored_reason.unwrap().contains("PutBucketAcl"));
}

#[test]
fn project_version_both_casings() {
    let p = parse(&sample("create-project-version.json"), &cfg()).unwrap();
    let plan = rekognition_of(&p);
    let output = plan.output.value().unwrap();
    assert_eq!(output.name, "custom-labels-console-us-east-1-3f9a1c2b7d");
    assert_eq!(output.role, "output");
    assert!(plan.kms_key_id.value().unwrap().starts_with("arn:aws:kms:"));
    assert_eq!(plan.inputs.len(), 1);
    assert!(plan.inputs[0].audit_only);

    let mut e = sample("create-project-version.json");
    e["detail"]["requestParameters"] = json!({
        "ProjectArn": "arn:aws:rekognition:us-east-1:123456789012:project/p/1",
        "VersionName": "v1",
        "OutputConfig": {"S3Bucket": "pascal-bucket", "S3KeyPrefix": "out/"},
        "KmsKeyId": "alias/k",
        "TrainingData": {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": "src-a", "Name": "m"}}}]},
        "TestingData": {"AutoCreate": true}
    });
    e["detail"]["responseElements"] = json!({"ProjectVersionArn":
        "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v1/1700000000000"});
    let p = parse(&e, &cfg()).unwrap();
    let plan = rekognition_of(&p);
    assert_eq!(plan.output.value().unwrap().name, "pascal-bucket");
    assert_eq!(plan.kms_key_id.value().map(String::as_str), Some("alias/k"));
    assert_eq!(plan.inputs[0].name, "src-a");
    assert_eq!(
        plan.id, "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v1/1700000000000",
        "the PascalCase ARN of older records"
    );
}

#[test]
fn project_version_without_output_config_is_ignored() {
    let mut e = sample("create-project-version.json");
    e["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("outputConfig");
    let p = parse(&e, &cfg()).unwrap();
    assert!(p.trigger.ignored_reason.unwrap().contains("outputConfig"));
}

#[test]
fn stream_processor_fields() {
    let p = parse(&sample("create-stream-processor-data-sharing.json"), &cfg()).unwrap();
    assert_eq!(p.trigger.kind, TriggerKind::StreamProcessorCreated);
    let plan = rekognition_of(&p);
    assert_eq!(plan.output.value().unwrap().role, "stream-output");
    assert_eq!(plan.kms_key_id, Field::Absent);
    assert_eq!(plan.data_sharing_opt_in, Some(Field::Value(true)));
}

#[test]
fn scheduled_event_is_a_scan() {
    let p = parse(&sample("scheduled-scan.json"), &cfg()).unwrap();
    assert_eq!(p.trigger.kind, TriggerKind::ScheduledScan);
    assert_eq!(p.plan, Plan::Scan);
}

#[test]
fn identity_fields_must_be_strings() {
    let good = create_bucket(json!({"bucketName": "custom-labels-console-x"}));
    assert_eq!(
        parse(&good, &cfg()).unwrap().trigger.kind,
        TriggerKind::BucketCreated
    );
    let mut no_account = good.clone();
    no_account.as_object_mut().unwrap().remove("account");
    for (event, needle) in [
        (
            {
                let mut e = good.clone();
                e["account"] = json!(123456789012_u64);
                e
            },
            "account is a number",
        ),
        (
            {
                let mut e = good.clone();
                e["detail"]["awsRegion"] = json!(1);
                e
            },
            "detail.awsRegion is a number",
        ),
        (
            {
                let mut e = good.clone();
                e["detail"]["recipientAccountId"] = json!({"id": "123456789012"});
                e
            },
            "recipientAccountId is an object",
        ),
        (no_account, "names no account"),
    ] {
        let p = parse(&event, &cfg()).unwrap();
        assert_eq!(p.plan, Plan::Ignore, "{needle}");
        let reason = p.trigger.ignored_reason.unwrap();
        assert!(reason.contains(needle), "{reason}");
    }
}

#[test]
fn key_ids() {
    for ok in [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        "alias/rekognition",
        "alias/aws/s3",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:eu-west-1:210987654321:alias/shared",
    ] {
        assert!(is_key_id(ok, "us-east-1"), "{ok}");
    }
    assert!(is_key_id(
        "arn:aws-cn:kms:cn-north-1:123456789012:key/k",
        "cn-northwest-1"
    ));
    for bad in [
        "*",
        "alias/",
        "alias/x y",
        "arn:aws-cn:kms:cn-north-1:123456789012:key/k",
        "arn:aws:kms:cn-north-1:123456789012:key/k",
        "arn:aws:s3:::bucket",
        "arn:aws:kms:us-east-1:1234:key/k",
        "arn:aws:kms:us-east-1:123456789012:key/../../x",
        "key/../x",
    ] {
        assert!(!is_key_id(bad, "us-east-1"), "{bad}");
    }
}

#[test]
fn kind_names_match_the_report() {
    for kind in [
        TriggerKind::BucketCreated,
        TriggerKind::ProjectVersionCreated,
        TriggerKind::StreamProcessorCreated,
        TriggerKind::ScheduledScan,
        TriggerKind::ManualScan,
        TriggerKind::OptOutCheck,
        TriggerKind::Ignored,
        TriggerKind::ConfigurationChanged,
        TriggerKind::BucketDeleted,
        TriggerKind::ProjectVersionCopied,
        TriggerKind::DatasetCreated,
        TriggerKind::MediaAnalysisJobStarted,
        TriggerKind::FaceLivenessSessionCreated,
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
}

/// Every sample looks like a record AWS writes (issue 14): an `AssumedRole` identity has a
/// populated `sessionIssuer`, console `CreateBucket` carries `x-amz-object-ownership` and
/// `Host`, and a successful Rekognition create carries its `responseElements`.
#[test]
fn samples_look_like_the_records_aws_writes() {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut rekognition_creates = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let detail = &event["detail"];
        let identity = &detail["userIdentity"];
        if identity["type"] == "AssumedRole" {
            let issuer = &identity["sessionContext"]["sessionIssuer"];
            assert_eq!(issuer["type"], "Role", "{name}: {issuer}");
            assert!(
                issuer["arn"].as_str().is_some_and(|a| a.contains(":role/")),
                "{name}: {issuer}"
            );
            let role = issuer["userName"].as_str().unwrap();
            assert!(
                identity["arn"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("assumed-role/{role}/")),
                "{name}: the session is of the issuer's role"
            );
        }
        let failed = !detail["errorCode"].is_null();
        if detail["eventName"] == "CreateBucket" {
            let params = &detail["requestParameters"];
            assert!(params["Host"].is_string(), "{name}");
            assert!(params["x-amz-object-ownership"].is_string(), "{name}");
        }
        let creates = ["Create", "Start", "Copy"]
            .iter()
            .any(|verb| detail["eventName"].as_str().unwrap_or("").starts_with(verb));
        if event["source"] == "aws.rekognition" && !failed && creates {
            rekognition_creates += 1;
            assert!(
                detail["responseElements"].is_object(),
                "{name}: a successful create has responseElements"
            );
            let parsed = parse(&event, &cfg()).unwrap();
            assert_eq!(parsed.trigger.ignored_reason, None, "{name}");
            let plan = rekognition_of(&parsed);
            assert_eq!(
                plan.name, None,
                "{name}: the id comes from responseElements"
            );
        }
    }
    assert!(
        rekognition_creates >= 10,
        "samples for every Rekognition trigger"
    );
}

/// A `datasetArn` that is not `project/<p>/dataset/<type>/<created>` is not reported as the
/// dataset's ARN: the project and the dataset type stand for it (found by the fuzzer).
#[test]
fn dataset_id_is_a_dataset_arn_or_the_project_and_type() {
    let mut event = sample("create-dataset.json");
    let parsed = parse(&event, &cfg()).unwrap();
    let plan = rekognition_of(&parsed);
    assert_eq!(
        plan.id,
        "arn:aws:rekognition:us-east-1:123456789012:project/defect-detection/dataset/train/1732093400000"
    );
    assert_eq!(plan.name, None);

    for bad in [
        "arn:aws:rekognition:us-east-1:123456789012:project/defect-detection/dataset/trainA1732093400000",
        "arn:aws:rekognition:us-east-1:123456789012:project/defect-detection/dataset/train/1/2",
        "arn:aws:rekognition:us-east-1:123456789012:project/defect-detection/version/v1/1732093400000",
    ] {
        event["detail"]["responseElements"]["datasetArn"] = json!(bad);
        let parsed = parse(&event, &cfg()).unwrap();
        let plan = rekognition_of(&parsed);
        assert_eq!(
            plan.id,
            "arn:aws:rekognition:us-east-1:123456789012:project/defect-detection/1732093311000",
            "{bad}"
        );
        assert_eq!(plan.name.as_deref(), Some("TRAIN"), "{bad}");
    }
}
