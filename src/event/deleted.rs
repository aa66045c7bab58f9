//! `DeleteBucket` (aws.s3): a bucket is gone. Nothing is evaluated or written; the
//! report names the bucket with role `deleted`, and the Security Hub sink re-imports its
//! findings with `RecordState` `ARCHIVED`. Every valid bucket name is accepted, not only
//! the guarded prefixes: an output bucket of any name may have findings.

use super::fields::get_ci;
use super::{BucketTarget, Plan, PlanResult, TriggerKind, check_bucket_name};
use serde_json::{Map, Value};

pub const EVENT_NAME: &str = "DeleteBucket";
/// The report's role for the bucket.
pub const ROLE: &str = "deleted";

pub(super) fn plan(params: &Map<String, Value>, region: &str) -> PlanResult {
    let name = get_ci(params, "bucketName")
        .and_then(Value::as_str)
        .ok_or("requestParameters.bucketName missing or not a string")?;
    check_bucket_name(name)?;
    Ok((
        TriggerKind::BucketDeleted,
        Plan::BucketDeleted(BucketTarget {
            name: name.to_owned(),
            // DeleteBucket is sent to the bucket's own Regional endpoint.
            region: region.to_owned(),
            role: ROLE,
            audit_only: true,
            fresh: false,
            users: Vec::new(),
            after_grace: false,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::event::{Plan, TriggerKind, parse};
    use serde_json::json;

    fn delete(params: serde_json::Value) -> serde_json::Value {
        json!({"version": "0", "id": "d1", "detail-type": "AWS API Call via CloudTrail",
               "source": "aws.s3", "account": "123456789012", "region": "eu-west-1",
               "detail": {"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket",
                          "awsRegion": "eu-west-1", "requestParameters": params}})
    }

    #[test]
    fn a_deleted_bucket_is_planned_in_its_region() {
        let p = parse(
            &delete(json!({"bucketName": "any-output-bucket"})),
            &Config::default(),
        )
        .unwrap();
        assert_eq!(p.trigger.kind, TriggerKind::BucketDeleted);
        let Plan::BucketDeleted(b) = p.plan else {
            panic!("not a deleted bucket: {:?}", p.plan)
        };
        assert_eq!(
            (b.name.as_str(), b.region.as_str(), b.role),
            ("any-output-bucket", "eu-west-1", "deleted")
        );
    }

    #[test]
    fn bad_names_and_failed_calls_are_ignored() {
        for params in [
            json!({}),
            json!({"bucketName": "../x"}),
            json!({"bucketName": 3}),
        ] {
            let p = parse(&delete(params.clone()), &Config::default()).unwrap();
            assert_eq!(p.plan, Plan::Ignore, "{params}");
        }
        let mut e = delete(json!({"bucketName": "b-1-2"}));
        e["detail"]["errorCode"] = json!("BucketNotEmpty");
        assert_eq!(parse(&e, &Config::default()).unwrap().plan, Plan::Ignore);
    }

    #[test]
    fn our_own_security_hub_calls_never_trigger_work() {
        let e = json!({"version": "0", "id": "s1", "detail-type": "AWS API Call via CloudTrail",
               "source": "aws.securityhub", "account": "123456789012", "region": "us-east-1",
               "detail": {"eventSource": "securityhub.amazonaws.com", "eventName": "BatchImportFindings",
                          "awsRegion": "us-east-1", "requestParameters": {}}});
        let p = parse(&e, &Config::default()).unwrap();
        assert_eq!(p.plan, Plan::Ignore);
        let imported = json!({"version": "0", "id": "s2", "detail-type": "Security Hub Findings - Imported",
               "source": "aws.securityhub", "account": "123456789012", "region": "us-east-1",
               "detail": {"findings": []}});
        assert_eq!(
            parse(&imported, &Config::default()).unwrap().plan,
            Plan::Ignore
        );
    }
}
