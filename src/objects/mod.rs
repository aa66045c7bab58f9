//! Objects already in a bucket (issue 26): what encryption each object was written with,
//! which of them `UpdateObjectEncryption` can bring to the bucket's key, and the S3 Batch
//! Operations job that does it at scale. Pure: plain data in, plain data out; the SDK
//! lives in `aws::objects` and `aws::s3control`, the commands in `cli::objects`.
//!
//! What the API can change, from the S3 API Reference (`UpdateObjectEncryption`): source
//! objects under SSE-S3 or SSE-KMS only ("Source objects that are unencrypted, or encrypted
//! with either dual-layer server-side encryption with KMS keys (DSSE-KMS) or server-side
//! encryption with customer-provided keys (SSE-C) aren't supported"), to SSE-KMS only, named
//! by its key ARN, a key of the bucket owner's account. Objects it cannot change are listed,
//! never copied.

pub mod inventory;
pub mod job;

use serde::Serialize;
use std::collections::BTreeMap;

/// How one object (version) is encrypted, as `HeadObject` answers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encryption {
    /// No server-side encryption (written before S3 encrypted every new object).
    None,
    /// SSE-S3 (`AES256`).
    SseS3,
    /// SSE-KMS under the AWS managed key `aws/s3` (its ARN, when known).
    AwsManaged(Option<String>),
    /// SSE-KMS under a customer key (its ARN as S3 reports it).
    Kms(String),
    /// DSSE-KMS (`aws:kms:dsse`), with its key.
    Dsse(Option<String>),
    /// SSE-C: `HeadObject` needs the customer's key, and answers 400 without it.
    SseC,
}

impl Encryption {
    /// From `HeadObject`'s `ServerSideEncryption`, `SSEKMSKeyId` and
    /// `SSECustomerAlgorithm`; `aws_s3` is the ARN of the account's `aws/s3` key, when known.
    pub fn from_head(
        sse: Option<&str>,
        kms_key: Option<&str>,
        customer_algorithm: Option<&str>,
        aws_s3: Option<&str>,
    ) -> Self {
        if customer_algorithm.is_some_and(|a| !a.is_empty()) {
            return Encryption::SseC;
        }
        let key = kms_key.filter(|k| !k.is_empty()).map(str::to_owned);
        match sse {
            None | Some("") => Encryption::None,
            Some("AES256") => Encryption::SseS3,
            Some("aws:kms:dsse") => Encryption::Dsse(key),
            Some(_) => match key {
                None => Encryption::AwsManaged(aws_s3.map(str::to_owned)),
                Some(k) if aws_s3.is_some_and(|a| same_key(a, &k)) || is_aws_s3_alias(&k) => {
                    Encryption::AwsManaged(Some(k))
                }
                Some(k) => Encryption::Kms(k),
            },
        }
    }

    /// The label a count is kept under: `none`, `sse-s3`, `aws/s3`, `sse-kms`, `dsse-kms`, `sse-c`.
    pub fn kind(&self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::SseS3 => "sse-s3",
            Encryption::AwsManaged(_) => "aws/s3",
            Encryption::Kms(_) => "sse-kms",
            Encryption::Dsse(_) => "dsse-kms",
            Encryption::SseC => "sse-c",
        }
    }

    /// The KMS key, for the kinds that have one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Encryption::AwsManaged(k) | Encryption::Dsse(k) => k.as_deref(),
            Encryption::Kms(k) => Some(k),
            _ => None,
        }
    }
}

fn is_aws_s3_alias(key: &str) -> bool {
    key == "alias/aws/s3" || key.ends_with(":alias/aws/s3")
}

/// Whether two ways of naming a key name the same key: equal, or one is the other's id
/// (`arn:…:key/ID` against `ID`). Aliases are resolved before they get here.
pub fn same_key(a: &str, b: &str) -> bool {
    let id = |k: &str| k.rsplit_once(":key/").map_or(k, |(_, id)| id).to_owned();
    a == b || id(a) == id(b)
}

/// One object (version) as listed, with its encryption once read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Object {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub size: i64,
}

/// Objects and bytes under one encryption.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub objects: u64,
    pub bytes: u64,
}

/// An object whose encryption could not be read, or that could not be changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub error: String,
}

/// Counts by encryption: the output of `objects`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub by: BTreeMap<Encryption, Count>,
    pub unread: Vec<Failure>,
}

impl Tally {
    pub fn add(&mut self, object: &Object, encryption: Encryption) {
        let count = self.by.entry(encryption).or_default();
        count.objects += 1;
        count.bytes += u64::try_from(object.size).unwrap_or(0);
    }

    pub fn objects(&self) -> u64 {
        self.by.values().map(|c| c.objects).sum::<u64>() + self.unread.len() as u64
    }

    pub fn bytes(&self) -> u64 {
        self.by.values().map(|c| c.bytes).sum()
    }

    /// Every KMS key (customer or `aws/s3`) objects were found under, other than `target`.
    pub fn other_keys(&self, target: &str) -> Vec<String> {
        self.by
            .keys()
            .filter(|e| matches!(e, Encryption::Kms(_) | Encryption::AwsManaged(_)))
            .filter_map(Encryption::key)
            .filter(|k| !same_key(k, target))
            .map(str::to_owned)
            .collect()
    }
}

/// Where the counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `ListObjectsV2` (or `ListObjectVersions`) and one `HeadObject` per object.
    ListAndHead,
    /// The bucket's S3 Inventory (its latest CSV manifest).
    Inventory,
}

/// The `objects` answer, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Census {
    pub bucket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `current` or `all` (every version, with `--all-versions`).
    pub versions: &'static str,
    pub source: Source,
    /// Stopped at `--max`: the counts are a sample of the bucket, not all of it.
    pub sampled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    pub objects: u64,
    pub bytes: u64,
    pub by_encryption: Vec<Row>,
    /// Objects whose encryption could not be read.
    pub unread: Vec<Failure>,
    /// The `aws/s3` key's ARN, when it could be read (objects under it count as `aws/s3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_s3_key: Option<String>,
    /// AWS requests this command sent.
    pub requests: u64,
}

/// One line of the census.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub encryption: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    pub objects: u64,
    pub bytes: u64,
    /// Whether `UpdateObjectEncryption` can change objects under this encryption.
    pub updatable: bool,
}

impl Census {
    pub fn rows(tally: &Tally) -> Vec<Row> {
        tally
            .by
            .iter()
            .map(|(e, c)| Row {
                encryption: e.kind(),
                kms_key: e.key().map(str::to_owned),
                objects: c.objects,
                bytes: c.bytes,
                updatable: unsupported(e).is_none(),
            })
            .collect()
    }

    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "bucket {}{}: {} objects, {} ({} versions, {}{})",
            self.bucket,
            self.prefix
                .as_deref()
                .map(|p| format!(" prefix {p}"))
                .unwrap_or_default(),
            self.objects,
            human_bytes(self.bytes),
            self.versions,
            match self.source {
                Source::ListAndHead => "list + head",
                Source::Inventory => "S3 Inventory",
            },
            if self.sampled {
                format!("; SAMPLE: stopped at --max {}", self.max.unwrap_or(0))
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            out,
            "{:<10} {:>10} {:>12}  {:<9} KMS KEY",
            "ENCRYPTION", "OBJECTS", "BYTES", "UPDATABLE"
        );
        for row in &self.by_encryption {
            let _ = writeln!(
                out,
                "{:<10} {:>10} {:>12}  {:<9} {}",
                row.encryption,
                row.objects,
                human_bytes(row.bytes),
                if row.updatable { "yes" } else { "no" },
                row.kms_key.as_deref().unwrap_or("-")
            );
        }
        for f in &self.unread {
            let _ = writeln!(out, "unread {}: {}", f.key, f.error);
        }
        out
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Why `UpdateObjectEncryption` cannot change an object under `e`, or `None` when it can.
pub fn unsupported(e: &Encryption) -> Option<&'static str> {
    match e {
        Encryption::None => Some(
            "unencrypted: UpdateObjectEncryption changes only SSE-S3 and SSE-KMS objects (copy it to encrypt it)",
        ),
        Encryption::Dsse(_) => {
            Some("DSSE-KMS: UpdateObjectEncryption changes only SSE-S3 and SSE-KMS objects")
        }
        Encryption::SseC => Some(
            "SSE-C: UpdateObjectEncryption changes only SSE-S3 and SSE-KMS objects (only the key's holder can re-encrypt it)",
        ),
        Encryption::SseS3 | Encryption::AwsManaged(_) | Encryption::Kms(_) => None,
    }
}

/// The key every object should be under: an ARN (the API takes nothing else), and
/// whether to use an S3 Bucket Key (the `sse-kms` control's target state: yes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub key_arn: String,
    pub bucket_key: bool,
}

/// What to do with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already under the target key.
    Keep,
    /// One `UpdateObjectEncryption` to the target key.
    Update,
    /// The API cannot change it: listed with the reason, never copied.
    Unsupported(&'static str),
}

pub fn action(e: &Encryption, target: &Target) -> Action {
    if let Some(reason) = unsupported(e) {
        return Action::Unsupported(reason);
    }
    match e.key() {
        Some(k) if same_key(k, &target.key_arn) => Action::Keep,
        _ => Action::Update,
    }
}

/// The objects a re-encryption would change, keep and leave (unsupported), per object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub update: Vec<(Object, Encryption)>,
    pub keep: u64,
    pub unsupported: Vec<(Object, Encryption, &'static str)>,
}

pub fn changes(objects: Vec<(Object, Encryption)>, target: &Target) -> Changes {
    let mut out = Changes::default();
    for (object, e) in objects {
        match action(&e, target) {
            Action::Keep => out.keep += 1,
            Action::Update => out.update.push((object, e)),
            Action::Unsupported(reason) => out.unsupported.push((object, e, reason)),
        }
    }
    out
}

/// How to re-encrypt a bucket: one call per object, or a Batch Operations job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Path {
    Direct,
    Batch,
}

/// Direct up to `direct_max` objects, unless `--batch`; `listed` is how many were listed
/// before the listing stopped (it stops one past `direct_max`).
pub fn path(listed: u64, direct_max: u64, batch: bool) -> Path {
    if batch || listed > direct_max {
        Path::Batch
    } else {
        Path::Direct
    }
}

/// The bucket's target key from its default encryption (`SSEAlgorithm`, `KMSMasterKeyID`)
/// or `--key`: `Ok(None)` means "the `aws/s3` key" (to be resolved to its ARN), `Err`
/// says why there is no target.
pub fn target_key(
    flag: Option<&str>,
    algorithm: Option<&str>,
    default_key: Option<&str>,
) -> Result<Option<String>, String> {
    if let Some(k) = flag {
        return Ok(Some(k.to_owned()));
    }
    match algorithm {
        Some("aws:kms") => Ok(default_key.filter(|k| !k.is_empty()).map(str::to_owned)),
        Some("aws:kms:dsse") => Err(
            "the bucket's default encryption is DSSE-KMS, which UpdateObjectEncryption cannot write: pass --key"
                .to_owned(),
        ),
        Some(other) => Err(format!(
            "the bucket's default encryption is {other}, not SSE-KMS: UpdateObjectEncryption writes SSE-KMS only; fix the bucket first (rekognition-guard scan --bucket) or pass --key"
        )),
        None => Err(
            "the bucket has no default encryption to take the key from: pass --key".to_owned(),
        ),
    }
}

/// The outcome of a direct re-encryption, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub bucket: String,
    pub path: Path,
    pub dry_run: bool,
    pub target: Target,
    pub listed: u64,
    pub kept: u64,
    /// Updated (or, with `--dry-run`, that would be).
    pub updated: u64,
    pub would_update: Vec<Object>,
    pub unsupported: Vec<Failure>,
    pub failed: Vec<Failure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<job::JobRequest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub requests: u64,
}

impl Summary {
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let verb = if self.dry_run {
            "would update"
        } else {
            "updated"
        };
        let _ = writeln!(
            out,
            "bucket {} -> {}{} ({}{})",
            self.bucket,
            self.target.key_arn,
            if self.target.bucket_key {
                " with an S3 Bucket Key"
            } else {
                ""
            },
            match self.path {
                Path::Direct => "one UpdateObjectEncryption per object",
                Path::Batch => "S3 Batch Operations job",
            },
            if self.dry_run { ", dry run" } else { "" }
        );
        match self.path {
            Path::Direct => {
                let _ = writeln!(
                    out,
                    "listed {}, already under the key {}, {verb} {}, cannot be changed {}, failed {}",
                    self.listed,
                    self.kept,
                    if self.dry_run {
                        self.would_update.len() as u64
                    } else {
                        self.updated
                    },
                    self.unsupported.len(),
                    self.failed.len()
                );
            }
            Path::Batch => {
                let _ = writeln!(
                    out,
                    "job {}",
                    self.job_id.as_deref().unwrap_or(if self.dry_run {
                        "(not created: dry run)"
                    } else {
                        "(not created)"
                    })
                );
            }
        }
        if self.dry_run {
            for o in &self.would_update {
                let _ = writeln!(out, "would update {}", o.key);
            }
        }
        for f in &self.unsupported {
            let _ = writeln!(out, "cannot change {}: {}", f.key, f.error);
        }
        for f in &self.failed {
            let _ = writeln!(out, "FAILED {}: {}", f.key, f.error);
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests;
