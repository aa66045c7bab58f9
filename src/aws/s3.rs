//! S3 adapter: read a bucket's tags, default encryption, Block Public Access and
//! policy; put the desired state. "Not configured" answers become `None`.
//!
//! Every call passes `ExpectedBucketOwner`, so a bucket name that belongs to another
//! account is refused by S3 itself instead of being read or written.

use super::AwsError;
use crate::controls::EncryptionFix;
use crate::controls::public_access_block::PublicAccessBlock;
use crate::controls::sse_kms::Encryption;
use crate::dependents::{Acl, Grant, Grantee, Replication};
use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BlockedEncryptionTypes, EncryptionType, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    SseKmsEncryptedObjectsStatus,
};
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long, and for which answers, to retry S3's races around a bucket created a
/// moment ago (eventual consistency and the creator's own configuration calls).
#[derive(Debug, Clone, Copy)]
pub struct Race {
    pub until: Instant,
    /// The bucket was just created: `NoSuchBucket` may be a race too, not an answer.
    pub fresh: bool,
}

impl Race {
    fn retries(&self, code: &str) -> bool {
        matches!(code, "OperationAborted" | "ConditionalRequestConflict")
            || (self.fresh && code == "NoSuchBucket")
    }
}

/// Retries `op` while S3 answers with a race code, with exponential backoff, until
/// `race.until`. The SDK's own retries (throttling, 5xx) happen inside each attempt.
pub async fn race_retry<T, F, Fut>(race: Race, mut op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match op().await {
            Err(e)
                if e.code.as_deref().is_some_and(|c| race.retries(c))
                    && Instant::now() + delay < race.until =>
            {
                tracing::debug!(operation = e.operation, code = ?e.code, delay_ms = delay.as_millis() as u64, "retrying a fresh-bucket race");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

fn not_configured<T, E>(
    result: Result<T, aws_sdk_s3::error::SdkError<E>>,
    operation: &'static str,
    codes: &[&str],
) -> Result<Option<T>, AwsError>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(AwsError::from_sdk(operation, e)),
    }
}

pub async fn read_tags(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    match take_early::<Vec<(String, String)>>(Read::Tags, bucket, owner).await {
        Some(answer) => answer,
        None => fetch_tags(client, bucket, owner).await,
    }
}

async fn fetch_tags(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    let out = client
        .get_bucket_tagging()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await;
    Ok(not_configured(
        out,
        "GetBucketTagging",
        &["NoSuchTagSet", "NoSuchTagSetError"],
    )?
    .map(|o| {
        o.tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect()
    })
    .unwrap_or_default())
}

pub async fn read_encryption(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<Encryption>, AwsError> {
    match take_early::<Option<Encryption>>(Read::Encryption, bucket, owner).await {
        Some(answer) => answer,
        None => fetch_encryption(client, bucket, owner).await,
    }
}

async fn fetch_encryption(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<Encryption>, AwsError> {
    let out = client
        .get_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await;
    let Some(out) = not_configured(
        out,
        "GetBucketEncryption",
        &["ServerSideEncryptionConfigurationNotFoundError"],
    )?
    else {
        return Ok(None);
    };
    let rule = out
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first());
    Ok(rule.and_then(|rule| {
        rule.apply_server_side_encryption_by_default()
            .map(|d| Encryption {
                algorithm: d.sse_algorithm().as_str().to_owned(),
                kms_key_id: d
                    .kms_master_key_id()
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
                bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
                blocked_encryption_types: rule
                    .blocked_encryption_types()
                    .map(|b| {
                        b.encryption_type()
                            .iter()
                            .map(|t| t.as_str().to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
    }))
}

pub async fn read_public_access_block(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<PublicAccessBlock>, AwsError> {
    match take_early::<Option<PublicAccessBlock>>(Read::PublicAccessBlock, bucket, owner).await {
        Some(answer) => answer,
        None => fetch_public_access_block(client, bucket, owner).await,
    }
}

async fn fetch_public_access_block(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<PublicAccessBlock>, AwsError> {
    let out = client
        .get_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await;
    Ok(not_configured(
        out,
        "GetPublicAccessBlock",
        &["NoSuchPublicAccessBlockConfiguration"],
    )?
    .and_then(|o| {
        o.public_access_block_configuration()
            .map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })
    }))
}

pub async fn read_policy(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<String>, AwsError> {
    match take_early::<Option<String>>(Read::Policy, bucket, owner).await {
        Some(answer) => answer,
        None => fetch_policy(client, bucket, owner).await,
    }
}

async fn fetch_policy(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<String>, AwsError> {
    let out = client
        .get_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await;
    Ok(
        not_configured(out, "GetBucketPolicy", &["NoSuchBucketPolicy"])?
            .and_then(|o| o.policy().map(str::to_owned)),
    )
}

/// The four reads a bucket's evaluation starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Read {
    Tags,
    Encryption,
    PublicAccessBlock,
    Policy,
    Acl,
    Replication,
    Website,
}

type EarlyKey = (Read, String, String);
type EarlyAnswer = tokio::task::JoinHandle<Box<dyn Any + Send>>;

/// Reads started early (see [`EarlyReads`]), by operation, bucket and expected owner, and
/// the buckets (with owner) some live `EarlyReads` holds.
#[derive(Default)]
struct Early {
    answers: HashMap<EarlyKey, EarlyAnswer>,
    held: std::collections::HashSet<(String, String)>,
}

static EARLY: LazyLock<Mutex<Early>> = LazyLock::new(Mutex::default);

/// A bucket's first reads, started before the function knows its own account (while STS
/// answers) with the account the event names as `ExpectedBucketOwner`. Reads only: each
/// answer is taken once, by the first read of the same operation, bucket and owner (so a
/// verify read after a write always goes to S3, and a read for another owner never sees
/// it); whatever was not taken is aborted and forgotten when this is dropped. While one
/// is alive no other starts for the same bucket and owner, so a concurrent invocation's
/// early read can never stand in for this one's verify read.
#[derive(Debug)]
pub struct EarlyReads {
    held: Option<(String, String)>,
    keys: Vec<EarlyKey>,
}

impl EarlyReads {
    /// Starts the reads of `bucket`: tags and encryption, and with `all` Block Public
    /// Access, the policy and who uses the bucket (ACL, replication, website)
    /// too: what the bucket's evaluation reads first.
    pub fn start(client: &Client, bucket: &str, owner: &str, all: bool) -> EarlyReads {
        let reads: &[Read] = if all {
            &[
                Read::Tags,
                Read::Encryption,
                Read::PublicAccessBlock,
                Read::Policy,
                Read::Acl,
                Read::Replication,
                Read::Website,
            ]
        } else {
            &[Read::Tags, Read::Encryption]
        };
        let mut early = EARLY.lock().unwrap_or_else(PoisonError::into_inner);
        let held = (bucket.to_owned(), owner.to_owned());
        if !early.held.insert(held.clone()) {
            return EarlyReads {
                held: None,
                keys: Vec::new(),
            };
        }
        let mut keys = Vec::new();
        for &read in reads {
            let (client, b, o) = (client.clone(), bucket.to_owned(), owner.to_owned());
            let task = tokio::spawn(async move {
                let answer: Box<dyn Any + Send> = match read {
                    Read::Tags => Box::new(fetch_tags(&client, &b, &o).await),
                    Read::Encryption => Box::new(fetch_encryption(&client, &b, &o).await),
                    Read::PublicAccessBlock => {
                        Box::new(fetch_public_access_block(&client, &b, &o).await)
                    }
                    Read::Policy => Box::new(fetch_policy(&client, &b, &o).await),
                    Read::Acl => Box::new(fetch_acl(&client, &b, &o).await),
                    Read::Replication => Box::new(fetch_replication(&client, &b, &o).await),
                    Read::Website => Box::new(fetch_website(&client, &b, &o).await),
                };
                answer
            });
            let key = (read, bucket.to_owned(), owner.to_owned());
            early.answers.insert(key.clone(), task);
            keys.push(key);
        }
        EarlyReads {
            held: Some(held),
            keys,
        }
    }
}

impl Drop for EarlyReads {
    fn drop(&mut self) {
        let mut early = EARLY.lock().unwrap_or_else(PoisonError::into_inner);
        for key in &self.keys {
            if let Some(task) = early.answers.remove(key) {
                task.abort();
            }
        }
        if let Some(held) = &self.held {
            early.held.remove(held);
        }
    }
}

/// The early answer of this read, if one was started and not taken yet.
async fn take_early<T: 'static>(
    read: Read,
    bucket: &str,
    owner: &str,
) -> Option<Result<T, AwsError>> {
    let task = {
        let mut early = EARLY.lock().unwrap_or_else(PoisonError::into_inner);
        if early.answers.is_empty() {
            return None;
        }
        early
            .answers
            .remove(&(read, bucket.to_owned(), owner.to_owned()))?
    };
    // A task that panicked or was aborted gives no answer: the read goes to S3 itself.
    let answer = task.await.ok()?;
    answer.downcast::<Result<T, AwsError>>().ok().map(|b| *b)
}

pub async fn put_encryption(
    client: &Client,
    bucket: &str,
    owner: &str,
    fix: &EncryptionFix,
) -> Result<(), AwsError> {
    const OP: &str = "PutBucketEncryption";
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(fix.algorithm.as_str()))
        .set_kms_master_key_id(fix.kms_key_id.clone())
        .build()
        .map_err(|e| AwsError::build(OP, e))?;
    // A put replaces the whole configuration: what was blocked stays blocked.
    let blocked = (!fix.blocked_encryption_types.is_empty()).then(|| {
        BlockedEncryptionTypes::builder()
            .set_encryption_type(Some(
                fix.blocked_encryption_types
                    .iter()
                    .map(|t| EncryptionType::from(t.as_str()))
                    .collect(),
            ))
            .build()
    });
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(fix.bucket_key_enabled)
        .set_blocked_encryption_types(blocked)
        .build();
    let conf = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| AwsError::build(OP, e))?;
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .server_side_encryption_configuration(conf)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(OP, e))?;
    Ok(())
}

pub async fn put_public_access_block(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<(), AwsError> {
    put_public_access_block_flags(client, bucket, owner, PublicAccessBlock::ALL).await
}

/// Puts these four flags (`undo` puts back the recorded ones).
pub async fn put_public_access_block_flags(
    client: &Client,
    bucket: &str,
    owner: &str,
    all: PublicAccessBlock,
) -> Result<(), AwsError> {
    client
        .put_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(all.block_public_acls)
                .ignore_public_acls(all.ignore_public_acls)
                .block_public_policy(all.block_public_policy)
                .restrict_public_buckets(all.restrict_public_buckets)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", e))?;
    Ok(())
}

pub async fn put_policy(
    client: &Client,
    bucket: &str,
    owner: &str,
    document: &str,
) -> Result<(), AwsError> {
    client
        .put_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .policy(document)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutBucketPolicy", e))?;
    Ok(())
}

/// Removes the default encryption configuration (`undo` of a bucket that had none read:
/// S3 then applies its own default, SSE-S3; an emulator may leave none).
pub async fn delete_encryption(client: &Client, bucket: &str, owner: &str) -> Result<(), AwsError> {
    client
        .delete_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteBucketEncryption", e))?;
    Ok(())
}

pub async fn delete_public_access_block(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<(), AwsError> {
    client
        .delete_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeletePublicAccessBlock", e))?;
    Ok(())
}

pub async fn delete_policy(client: &Client, bucket: &str, owner: &str) -> Result<(), AwsError> {
    client
        .delete_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteBucketPolicy", e))?;
    Ok(())
}

/// Buckets whose names start with `prefix` (paginated, server-side filter), with their
/// region when S3 says it (`BucketRegion`), which saves a `GetBucketLocation` each.
pub async fn list_buckets(
    client: &Client,
    prefix: &str,
) -> Result<Vec<(String, Option<String>)>, AwsError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_buckets()
            .prefix(prefix)
            .max_buckets(1000)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListBuckets", e))?;
        // Filter again: not every S3 implementation honours the prefix parameter.
        names.extend(out.buckets().iter().filter_map(|b| {
            let name = b.name().filter(|n| n.starts_with(prefix))?;
            let region = b.bucket_region().filter(|r| crate::region::is_region(r));
            Some((name.to_owned(), region.map(str::to_owned)))
        }));
        match out.continuation_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(names),
        }
    }
}

/// A bucket's region (`GetBucketLocation`; an empty constraint means us-east-1).
pub async fn bucket_region(client: &Client, bucket: &str, owner: &str) -> Result<String, AwsError> {
    let out = client
        .get_bucket_location()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetBucketLocation", e))?;
    Ok(match out.location_constraint().map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(r) => r.to_owned(),
    })
}

// ---- who depends on the bucket (read with its first reads; see `crate::dependents`) ----

/// The bucket ACL (`GetBucketAcl`).
async fn fetch_acl(client: &Client, bucket: &str, owner: &str) -> Result<Acl, AwsError> {
    let out = client
        .get_bucket_acl()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetBucketAcl", e))?;
    let grants = out
        .grants()
        .iter()
        .filter_map(|g| {
            let grantee = g.grantee()?;
            let who = if let Some(uri) = grantee.uri() {
                Grantee::Group(uri.to_owned())
            } else if let Some(id) = grantee.id() {
                Grantee::CanonicalUser(id.to_owned())
            } else {
                Grantee::Email(grantee.email_address()?.to_owned())
            };
            Some(Grant {
                grantee: who,
                permission: g.permission()?.as_str().to_owned(),
            })
        })
        .collect();
    Ok(Acl {
        owner: out.owner().and_then(|o| o.id()).map(str::to_owned),
        grants,
    })
}

/// The replication configuration, when this bucket is a replication source.
async fn fetch_replication(
    client: &Client,
    bucket: &str,
    owner: &str,
) -> Result<Option<Replication>, AwsError> {
    let out = client
        .get_bucket_replication()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await;
    Ok(not_configured(
        out,
        "GetBucketReplication",
        &["ReplicationConfigurationNotFoundError"],
    )?
    .and_then(|o| {
        o.replication_configuration().map(|c| Replication {
            role: c.role().to_owned(),
            rules: c
                .rules()
                .iter()
                .map(|r| {
                    let enabled = r.status().as_str() == "Enabled";
                    let kms = r
                        .source_selection_criteria()
                        .and_then(|s| s.sse_kms_encrypted_objects())
                        .is_some_and(|k| k.status() == &SseKmsEncryptedObjectsStatus::Enabled);
                    (enabled, kms)
                })
                .collect(),
        })
    }))
}

/// Whether the bucket hosts a static website (`GetBucketWebsite`).
async fn fetch_website(client: &Client, bucket: &str, owner: &str) -> Result<bool, AwsError> {
    let out = client
        .get_bucket_website()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await;
    Ok(not_configured(out, "GetBucketWebsite", &["NoSuchWebsiteConfiguration"])?.is_some())
}

/// How the bucket is used, as read (each `Err` on its own: one unreadable fact is reported
/// by name, and no fix is applied without it).
#[derive(Debug)]
pub struct UsageFacts {
    /// Under `BucketOwnerEnforced` S3 keeps a bucket ACL that grants the owner only (it
    /// refuses the setting while other grants exist: `InvalidBucketAclWithObjectOwnership`,
    /// S3 User Guide, "Disabling ACLs"), so the grants alone tell who the ACL lets in and
    /// the ownership setting need not be read.
    pub acl: Result<Acl, AwsError>,
    pub replication: Result<Option<Replication>, AwsError>,
    pub website: Result<bool, AwsError>,
}

/// Reads the three usage facts concurrently (the early answers when they were started).
///
/// Each read matches `take_early` before building its fetch, as `read_tags` does: a
/// helper taking the fetch future as an argument holds both futures at once, and in
/// debug builds that overflowed a test thread's stack (tried, measured, reverted).
pub async fn read_usage(client: &Client, bucket: &str, owner: &str, race: Race) -> UsageFacts {
    let acl = race_retry(race, || async {
        match take_early::<Acl>(Read::Acl, bucket, owner).await {
            Some(answer) => answer,
            None => fetch_acl(client, bucket, owner).await,
        }
    });
    let replication = race_retry(race, || async {
        match take_early::<Option<Replication>>(Read::Replication, bucket, owner).await {
            Some(answer) => answer,
            None => fetch_replication(client, bucket, owner).await,
        }
    });
    let website = race_retry(race, || async {
        match take_early::<bool>(Read::Website, bucket, owner).await {
            Some(answer) => answer,
            None => fetch_website(client, bucket, owner).await,
        }
    });
    let (acl, replication, website) = tokio::join!(acl, replication, website);
    UsageFacts {
        acl,
        replication,
        website,
    }
}
