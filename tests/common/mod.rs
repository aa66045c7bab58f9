//! Test harness: one `moto_server` per test binary on a free 127.0.0.1 port, behind the S3
//! fidelity layer (tests/s3_fidelity.py through `fault_proxy.py --fidelity`), plus SDK
//! clients pointed at the layer. moto accepts what S3 refuses (a public policy under
//! BlockPublicPolicy, a policy over 20 KB, a deleted role's unique id) and leaves out what S3
//! does (default encryption of a new bucket, blocked SSE-C): the layer answers as S3 does, so a
//! test that passes here does not pass only because the emulator is lenient.
//!
//! Both processes die with the test process: moto is started under a shell that waits on our
//! stdin pipe and kills moto when the pipe closes; the layer exits when its stdin closes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod org;
pub mod proxy;

pub const ACCOUNT: &str = "123456789012";

/// The function in process, its change record in a scratch file of this test process
/// (never `rekognition-guard-history.jsonl` in the source tree).
pub fn app(
    mut config: rekognition_guard::config::Config,
    clients: rekognition_guard::aws::clients::Clients,
) -> rekognition_guard::handler::App {
    config.history_file = history_file();
    rekognition_guard::handler::App::new(config, clients)
}

/// This test process's change record file.
pub fn history_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "rekognition-guard-test-history-{}.jsonl",
        std::process::id()
    ))
}
pub const REGION: &str = "us-east-1";

pub struct Moto {
    /// The S3 fidelity layer in front of moto: point clients (and fault proxies) here.
    pub endpoint: String,
    /// moto itself, behind no layer: for seeding a state real S3 can hold but no longer
    /// accepts (a deleted role's `AROA…` principal, a bucket from before default encryption).
    pub raw_endpoint: String,
    /// moto's port.
    pub port: u16,
    _child: Child,
    _stdin: Mutex<Option<ChildStdin>>,
    _fidelity: proxy::Proxy,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Python that runs moto; `MOTO_PYTHON` overrides (the Makefile sets it to its venv).
fn python() -> String {
    std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The shared emulator for this test binary, started on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(Moto::start)
}

impl Moto {
    /// A private emulator, for tests that need state no other test may see
    /// (an organization, say). Stopped when dropped.
    pub fn start() -> Moto {
        let port = free_port();
        let script = format!(
            "{py} -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; \
             read _; kill $pid",
            py = python()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .spawn()
            .expect("start moto_server (pip install 'moto[server]')");
        let stdin = child.stdin.take().expect("moto stdin");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let raw_endpoint = format!("http://127.0.0.1:{port}");
        let fidelity = proxy::Proxy::start_fidelity(&raw_endpoint);
        Moto {
            endpoint: fidelity.endpoint.clone(),
            raw_endpoint,
            port,
            _child: child,
            _stdin: Mutex::new(Some(stdin)),
            _fidelity: fidelity,
        }
    }

    /// Environment for a child process of the built binary, isolated from the
    /// developer's own AWS configuration.
    pub fn env(&self) -> Vec<(String, String)> {
        env_for(&self.endpoint)
    }
}

/// Environment that points the built binary at `endpoint` with test credentials and
/// none of the developer's own AWS configuration.
pub fn env_for(endpoint: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".into(), endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_REGION".into(), REGION.into()),
        ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin makes the wrapper shell kill moto.
        if let Ok(mut stdin) = self._stdin.lock() {
            stdin.take();
        }
        let _ = self._child.wait();
    }
}

/// An SDK configuration pointed at the shared emulator, for seeding and reading back state.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_for(moto()).await
}

pub async fn sdk_config_for(moto: &Moto) -> aws_config::SdkConfig {
    sdk_config_with_endpoint(&moto.endpoint).await
}

/// An SDK configuration pointed at any local endpoint (moto, or a fault proxy in front of it).
pub async fn sdk_config_with_endpoint(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

pub async fn s3(region: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config().await)
        .region(aws_sdk_s3::config::Region::new(region.to_owned()))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An S3 client on moto itself, past the fidelity layer: for seeding what S3 holds but no
/// longer accepts. Never for reading back what the function did.
pub async fn s3_raw(region: &str) -> aws_sdk_s3::Client {
    let conf =
        aws_sdk_s3::config::Builder::from(&sdk_config_with_endpoint(&moto().raw_endpoint).await)
            .region(aws_sdk_s3::config::Region::new(region.to_owned()))
            .force_path_style(true)
            .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub async fn kms(region: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::config::Builder::from(&sdk_config().await)
        .region(aws_sdk_kms::config::Region::new(region.to_owned()))
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

pub async fn organizations() -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(&sdk_config().await)
}

/// A bucket name unique to this test process and call.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config().await)
}

/// An SNS topic with an SQS queue subscribed, raw delivery off (as e-mail gets it).
/// Returns the topic ARN and the queue URL.
pub async fn topic_with_queue() -> (String, String) {
    topic_with_queue_in(&sdk_config().await).await
}

/// [`topic_with_queue`] on the emulator `conf` points at.
pub async fn topic_with_queue_in(conf: &aws_config::SdkConfig) -> (String, String) {
    let name = unique("alerts-");
    let sns = aws_sdk_sns::Client::new(conf);
    let topic = sns
        .create_topic()
        .name(&name)
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let sqs = aws_sdk_sqs::Client::new(conf);
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(arn)
        .send()
        .await
        .unwrap();
    (topic, url)
}

/// Every SNS envelope waiting in the queue (JSON bodies), removing them.
pub async fn drain(queue_url: &str) -> Vec<serde_json::Value> {
    drain_in(&sdk_config().await, queue_url).await
}

/// [`drain`] on the emulator `conf` points at.
pub async fn drain_in(conf: &aws_config::SdkConfig, queue_url: &str) -> Vec<serde_json::Value> {
    let sqs = aws_sdk_sqs::Client::new(conf);
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            return out;
        }
        for m in got.messages() {
            out.push(serde_json::from_str(m.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// A new, empty bucket with the console prefix (unique to this call), in `REGION`.
pub async fn console_bucket(tag: &str) -> String {
    let name = unique(&format!("custom-labels-console-us-east-1-{tag}"));
    s3(REGION)
        .await
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    name
}

/// A sample event from `events/`.
pub fn sample(name: &str) -> serde_json::Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The console `CreateBucket` sample, for another bucket.
pub fn console_event(bucket: &str) -> serde_json::Value {
    let mut e = sample("create-bucket-console.json");
    e["detail"]["requestParameters"]["bucketName"] = serde_json::json!(bucket);
    e
}

/// A KMS key of the given spec (`ENCRYPT_DECRYPT`), by ARN.
pub async fn create_key(spec: &str) -> String {
    create_key_with(spec, None).await
}

/// A KMS key of the given spec (`ENCRYPT_DECRYPT`) with this key policy (`None`: the
/// default, the account's root delegation), by ARN.
pub async fn create_key_with(spec: &str, policy: Option<&serde_json::Value>) -> String {
    kms(REGION)
        .await
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::from(spec))
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .set_policy(policy.map(|p| p.to_string()))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned()
}

/// Seeds a bucket policy (the whole document).
pub async fn put_policy(s3: &aws_sdk_s3::Client, bucket: &str, policy: &serde_json::Value) {
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
}

/// Seeds a bucket's default encryption.
pub async fn put_encryption(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    alg: &str,
    key: Option<&str>,
    bucket_key: bool,
) {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(alg))
        .set_kms_master_key_id(key.map(str::to_owned))
        .build()
        .unwrap();
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(bucket_key)
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// The default encryption S3 gives every new bucket ("SSE-S3 as the base level of encryption
/// for every bucket"), as [`read_encryption`] reads it back: a bucket nothing was written to.
pub fn new_bucket_encryption() -> Option<(String, Option<String>, Option<bool>)> {
    Some(("AES256".to_owned(), None, Some(false)))
}

/// A bucket's default encryption read back: (algorithm, key, bucket key), `None` if unset.
pub async fn read_encryption(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Option<(String, Option<String>, Option<bool>)> {
    let out = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    let rule = out
        .server_side_encryption_configuration()?
        .rules()
        .first()?
        .clone();
    let d = rule.apply_server_side_encryption_by_default()?;
    Some((
        d.sse_algorithm().as_str().to_owned(),
        d.kms_master_key_id().map(str::to_owned),
        rule.bucket_key_enabled(),
    ))
}

// ---- read-backs: what a bucket holds now, as a user would check it ----------------------

/// The encryption types the bucket blocks (`["SSE-C"]` for a bucket created since April 2026,
/// `["NONE"]` once unblocked), read with `GetBucketEncryption` through the fidelity layer;
/// empty when the bucket has no configuration or blocks nothing.
pub async fn blocked_encryption_types(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let Ok(out) = s3.get_bucket_encryption().bucket(bucket).send().await else {
        return vec![];
    };
    out.server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.blocked_encryption_types())
        .flat_map(|b| b.encryption_type().iter().map(|t| t.as_str().to_owned()))
        .collect()
}

/// The four Block Public Access flags, if the bucket has a configuration.
pub async fn public_access_block(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<[bool; 4]> {
    let out = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    let c = out.public_access_block_configuration()?;
    Some([
        c.block_public_acls()?,
        c.ignore_public_acls()?,
        c.block_public_policy()?,
        c.restrict_public_buckets()?,
    ])
}

/// The bucket policy, parsed, if the bucket has one.
pub async fn bucket_policy(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<serde_json::Value> {
    let out = s3.get_bucket_policy().bucket(bucket).send().await.ok()?;
    serde_json::from_str(out.policy()?).ok()
}

/// A policy's statements (one statement may stand alone, not in a list).
pub fn statements(policy: &serde_json::Value) -> Vec<serde_json::Value> {
    match &policy["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Null => vec![],
        one => vec![one.clone()],
    }
}
