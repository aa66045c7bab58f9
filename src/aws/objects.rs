//! S3 adapter for objects already in a bucket: list them (current versions or every
//! version), read each one's encryption (`HeadObject`), change it (`UpdateObjectEncryption`),
//! read an S3 Inventory delivery and a Batch Operations completion report. Every call
//! passes `ExpectedBucketOwner`. Plain data in and out (`crate::objects`).

use super::AwsError;
use crate::objects::{Count, Encryption, Object, Target, inventory, job};
use aws_sdk_s3::Client;
use aws_sdk_s3::types::{ObjectEncryption, SsekmsEncryption};
use futures::StreamExt as _;
use std::collections::BTreeMap;

/// The same client with adaptive retries: a re-encryption of thousands of objects slows
/// down on throttling (`SlowDown`) instead of failing objects.
pub fn adaptive(client: &Client) -> Client {
    let conf = client
        .config()
        .to_builder()
        .retry_config(aws_config::retry::RetryConfig::adaptive())
        .build();
    Client::from_conf(conf)
}

/// Lists up to `max` objects under `prefix` (every version with `all_versions`, delete
/// markers left out); the flag says whether more were left unlisted.
pub async fn list(
    client: &Client,
    bucket: &str,
    owner: &str,
    prefix: Option<&str>,
    all_versions: bool,
    max: Option<u64>,
) -> Result<(Vec<Object>, bool), AwsError> {
    let mut out = Vec::new();
    let full = |out: &Vec<Object>| max.is_some_and(|m| out.len() as u64 >= m);
    if all_versions {
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = client
                .list_object_versions()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .set_prefix(prefix.map(str::to_owned))
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListObjectVersions", e))?;
            for v in page.versions() {
                if full(&out) {
                    return Ok((out, true));
                }
                out.push(Object {
                    key: v.key().unwrap_or_default().to_owned(),
                    version_id: v.version_id().map(str::to_owned),
                    size: v.size().unwrap_or(0),
                });
            }
            if page.is_truncated() != Some(true) {
                return Ok((out, false));
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                return Ok((out, false));
            }
        }
    }
    let mut token = None::<String>;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .set_prefix(prefix.map(str::to_owned))
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
        for o in page.contents() {
            if full(&out) {
                return Ok((out, true));
            }
            out.push(Object {
                key: o.key().unwrap_or_default().to_owned(),
                version_id: None,
                size: o.size().unwrap_or(0),
            });
        }
        token = page.next_continuation_token().map(str::to_owned);
        if page.is_truncated() != Some(true) || token.is_none() {
            return Ok((out, false));
        }
    }
}

/// One object's encryption. A 400 without a code is how `HeadObject` answers for an SSE-C
/// object asked without its key.
pub async fn head(
    client: &Client,
    bucket: &str,
    owner: &str,
    object: &Object,
    aws_s3: Option<&str>,
) -> Result<Encryption, AwsError> {
    let out = client
        .head_object()
        .bucket(bucket)
        .key(&object.key)
        .set_version_id(object.version_id.clone())
        .expected_bucket_owner(owner)
        .send()
        .await;
    match out {
        Ok(o) => Ok(Encryption::from_head(
            o.server_side_encryption().map(|s| s.as_str()),
            o.ssekms_key_id(),
            o.sse_customer_algorithm(),
            aws_s3,
        )),
        Err(e) => {
            let e = AwsError::from_sdk("HeadObject", e);
            if e.status == Some(400) && e.code.as_deref().is_none_or(|c| c == "BadRequest") {
                Ok(Encryption::SseC)
            } else {
                Err(e)
            }
        }
    }
}

/// Every object's encryption, `concurrency` at a time, in listing order; `done` is
/// called once per object (a progress bar).
pub async fn heads(
    client: &Client,
    bucket: &str,
    owner: &str,
    objects: Vec<Object>,
    concurrency: usize,
    aws_s3: Option<&str>,
    done: &(dyn Fn() + Sync),
) -> Vec<(Object, Result<Encryption, AwsError>)> {
    futures::stream::iter(objects)
        .map(|o| async move {
            let r = head(client, bucket, owner, &o, aws_s3).await;
            done();
            (o, r)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

/// Brings one object (version) to the target key, without copying it.
pub async fn update(
    client: &Client,
    bucket: &str,
    owner: &str,
    object: &Object,
    target: &Target,
) -> Result<(), AwsError> {
    let sse = SsekmsEncryption::builder()
        .kms_key_arn(&target.key_arn)
        .bucket_key_enabled(target.bucket_key)
        .build()
        .map_err(|e| AwsError::build("UpdateObjectEncryption", e))?;
    client
        .update_object_encryption()
        .bucket(bucket)
        .key(&object.key)
        .set_version_id(object.version_id.clone())
        .expected_bucket_owner(owner)
        .object_encryption(ObjectEncryption::Ssekms(sse))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UpdateObjectEncryption", e))?;
    Ok(())
}

/// Updates every object, `concurrency` at a time; the results in the objects' order.
pub async fn updates(
    client: &Client,
    bucket: &str,
    owner: &str,
    objects: Vec<Object>,
    target: &Target,
    concurrency: usize,
    done: &(dyn Fn() + Sync),
) -> Vec<(Object, Result<(), AwsError>)> {
    futures::stream::iter(objects)
        .map(|o| async move {
            let r = update(client, bucket, owner, &o, target).await;
            if let Err(e) = &r {
                tracing::warn!(bucket, key = %o.key, error = %e, "object not re-encrypted");
            }
            done();
            (o, r)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

async fn get_text(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", e))?;
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::new("GetObject", format!("{key}: body not read: {e}")))?;
    Ok(body.into_bytes().to_vec())
}

fn gunzip(key: &str, bytes: Vec<u8>) -> Result<String, AwsError> {
    use std::io::Read as _;
    if key.ends_with(".gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .map_err(|e| AwsError::new("GetObject", format!("{key}: not gzip text: {e}")))?;
        Ok(text)
    } else {
        String::from_utf8(bytes)
            .map_err(|e| AwsError::new("GetObject", format!("{key}: not text: {e}")))
    }
}

/// Where a bucket's S3 Inventory delivers: the first enabled CSV configuration that
/// includes `EncryptionStatus`, as (destination bucket, the configuration's folder).
pub async fn inventory_location(
    client: &Client,
    bucket: &str,
    owner: &str,
    all_versions: bool,
) -> Result<Option<(String, String)>, AwsError> {
    let out = client
        .list_bucket_inventory_configurations()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListBucketInventoryConfigurations", e))?;
    let config = out.inventory_configuration_list().iter().find(|c| {
        c.is_enabled()
            && c.optional_fields()
                .iter()
                .any(|f| f.as_str() == "EncryptionStatus")
            && (!all_versions || c.included_object_versions().as_str() == "All")
            && c.destination()
                .and_then(|d| d.s3_bucket_destination())
                .is_some_and(|d| d.format().as_str() == "CSV")
    });
    Ok(config.and_then(|c| {
        let d = c.destination()?.s3_bucket_destination()?;
        let dest = d
            .bucket()
            .rsplit(":::")
            .next()
            .unwrap_or_default()
            .to_owned();
        let prefix = d
            .prefix()
            .filter(|p| !p.is_empty())
            .map(|p| format!("{}/", p.trim_end_matches('/')))
            .unwrap_or_default();
        Some((dest, format!("{prefix}{bucket}/{}/", c.id())))
    }))
}

/// Counts the newest delivery of the inventory at `location` by encryption; returns the
/// counts and the manifest read.
pub async fn inventory_counts(
    client: &Client,
    location: &(String, String),
    prefix: Option<&str>,
    current_only: bool,
) -> Result<(BTreeMap<Encryption, Count>, String), AwsError> {
    let (dest, folder) = location;
    let listed = client
        .list_objects_v2()
        .bucket(dest)
        .prefix(folder)
        .delimiter("/")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
    let folders: Vec<String> = listed
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix().map(str::to_owned))
        .collect();
    let Some(newest) = inventory::newest(&folders) else {
        return Err(AwsError::new(
            "ListObjectsV2",
            format!("no inventory delivered yet under s3://{dest}/{folder}"),
        ));
    };
    let manifest_key = format!("{newest}manifest.json");
    let text = gunzip(&manifest_key, get_text(client, dest, &manifest_key).await?)?;
    let manifest = inventory::parse_manifest(&text)
        .map_err(|e| AwsError::new("GetObject", format!("{manifest_key}: {e}")))?;
    let cols = inventory::columns(&manifest.file_schema)
        .map_err(|e| AwsError::new("GetObject", format!("{manifest_key}: {e}")))?;
    let mut by = BTreeMap::new();
    for file in &manifest.files {
        let text = gunzip(&file.key, get_text(client, dest, &file.key).await?)?;
        inventory::count_csv(&text, cols, prefix, current_only, &mut by);
    }
    Ok((by, format!("s3://{dest}/{manifest_key}")))
}

/// A finished job's completion report, counted (`<prefix>/job-<id>/manifest.json`).
pub async fn report_counts(
    client: &Client,
    bucket: &str,
    prefix: &str,
    job_id: &str,
) -> Result<job::ReportCounts, AwsError> {
    let folder = if prefix.is_empty() {
        format!("job-{job_id}/")
    } else {
        format!("{}/job-{job_id}/", prefix.trim_end_matches('/'))
    };
    let key = format!("{folder}manifest.json");
    let text = gunzip(&key, get_text(client, bucket, &key).await?)?;
    let manifest = job::parse_report_manifest(&text)
        .map_err(|e| AwsError::new("GetObject", format!("{key}: {e}")))?;
    let mut counts = job::ReportCounts::default();
    for file in &manifest.results {
        let text = gunzip(
            &file.key,
            get_text(
                client,
                file.bucket.rsplit(":::").next().unwrap_or(&file.bucket),
                &file.key,
            )
            .await?,
        )?;
        job::count_report_csv(&text, &mut counts);
    }
    Ok(counts)
}
