//! Field readers shared by the trigger families: lenient lookups, and the syntax of the
//! names AWS accepts (buckets, keys, Regions), so a forged value is never acted on.

use crate::region::{is_region, partition};
use serde_json::{Map, Value};

pub(super) fn str_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// CloudTrail writes lowerCamelCase (`outputConfig`); the API uses PascalCase
/// (`OutputConfig`). Accept both.
pub(super) fn get_ci<'a>(map: &'a Map<String, Value>, camel: &str) -> Option<&'a Value> {
    map.get(camel).or_else(|| {
        let mut chars = camel.chars();
        let pascal: String = chars
            .next()
            .map(|c| c.to_ascii_uppercase())
            .into_iter()
            .chain(chars)
            .collect();
        map.get(&pascal)
    })
}

pub(super) fn optional_str(
    map: &Map<String, Value>,
    camel: &str,
) -> Result<Option<String>, String> {
    match get_ci(map, camel) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() <= 2048 && !s.chars().any(char::is_whitespace) => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(format!("{camel} is not a valid key identifier")),
    }
}

/// A KMS key as the Rekognition API accepts it: a key id, an alias name, or a key or
/// alias ARN of the event's own partition. The API refuses anything else (the event
/// would carry an `errorCode`), so an event naming it is corrupt or forged: not acted on.
pub(super) fn key_id(
    map: &Map<String, Value>,
    camel: &str,
    region: &str,
) -> Result<Option<String>, String> {
    let Some(key) = optional_str(map, camel)? else {
        return Ok(None);
    };
    if is_key_id(&key, region) {
        Ok(Some(key))
    } else {
        Err(format!(
            "{camel} {:?} is not a KMS key id, alias or ARN in partition {}",
            key.chars().take(80).collect::<String>(),
            partition(region)
        ))
    }
}

pub(super) fn is_key_id(key: &str, region: &str) -> bool {
    let id = |s: &str| {
        (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let alias = |s: &str| {
        (1..=256).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    };
    if let Some(name) = key.strip_prefix("alias/") {
        return alias(name);
    }
    let Some(arn) = key.strip_prefix("arn:") else {
        return id(key);
    };
    let parts: Vec<&str> = arn.splitn(5, ':').collect();
    let [arn_partition, service, key_region, account, resource] = parts[..] else {
        return false;
    };
    arn_partition == partition(region)
        && service == "kms"
        && is_region(key_region)
        && partition(key_region) == arn_partition
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (resource.strip_prefix("key/").is_some_and(id)
            || resource.strip_prefix("alias/").is_some_and(alias))
}

/// Why a directory bucket (S3 Express One Zone) is left alone.
pub const DIRECTORY_BUCKET: &str = "directory bucket: not used by Rekognition";

/// S3's bucket naming rules (general purpose buckets). A name that breaks them cannot
/// exist, so acting on it could only be a mistake or an injection attempt.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let shown: String = name.chars().take(80).collect();
    let bad = |why: &str| Err(format!("invalid bucket name {shown:?}: {why}"));
    if name.ends_with("--x-s3") {
        return Err(DIRECTORY_BUCKET.to_owned());
    }
    if !(3..=63).contains(&name.len()) {
        return bad("must be 3 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return bad("must not contain two adjacent dots");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return bad("must not be formatted as an IP address");
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return bad("reserved prefix");
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        return bad("reserved suffix");
    }
    Ok(())
}

/// A bucket named by a **successful** Rekognition call exists, so S3's legacy rules
/// apply: buckets made in us-east-1 before March 2018 may hold uppercase letters and
/// underscores, and Rekognition accepts `[0-9A-Za-z.\-_]{3,255}`. Still refused: what
/// could escape a path or a log line (`/`, `..`, control characters), and directory
/// buckets.
pub fn check_existing_bucket_name(name: &str) -> Result<(), String> {
    if check_bucket_name(name).is_ok() {
        return Ok(());
    }
    if name.ends_with("--x-s3") {
        return Err(DIRECTORY_BUCKET.to_owned());
    }
    let shown: String = name.chars().take(80).collect();
    let bad = |why: &str| Err(format!("invalid bucket name {shown:?}: {why}"));
    if !(3..=255).contains(&name.len()) {
        return bad("must be 3 to 255 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return bad("only letters, digits, dots, hyphens and underscores are allowed");
    }
    if name.contains("..") {
        return bad("must not contain two adjacent dots");
    }
    Ok(())
}

/// The value of a string field, telling "hidden by CloudTrail" from a value.
pub(super) fn hidden_or_str(value: Option<&Value>) -> Option<Result<&str, ()>> {
    match value? {
        Value::String(s) if s == super::HIDDEN => Some(Err(())),
        Value::String(s) => Some(Ok(s)),
        _ => None,
    }
}
