//! SDK clients, built once per process from the standard configuration chain and kept
//! per region. `AWS_ENDPOINT_URL` points every client at one endpoint (a local
//! emulator); S3 then needs path-style addressing, which no environment variable sets.

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counts the HTTP requests every client sends (each retry attempt counts), and the
/// S3 writes among them, for logs, metrics and the benchmark.
#[derive(Debug, Default)]
pub struct RequestCounter {
    requests: AtomicU64,
    s3_writes: AtomicU64,
}

impl RequestCounter {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn s3_writes(&self) -> u64 {
        self.s3_writes.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone)]
struct Counting {
    counter: Arc<RequestCounter>,
    s3: bool,
}

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.counter.requests.fetch_add(1, Ordering::Relaxed);
        if self.s3 && !matches!(context.request().method(), "GET" | "HEAD") {
            self.counter.s3_writes.fetch_add(1, Ordering::Relaxed);
        }
        super::denied::note_request(context.request(), cfg);
        Ok(())
    }

    /// A denied answer carries what the request was about (see `aws::denied`).
    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        super::denied::annotate_response(context.response_mut(), cfg);
        Ok(())
    }
}

/// With one configured endpoint (a local emulator), S3 Control's requests go to that endpoint
/// as it is: the SDK's endpoint rules put the account id in front of its host
/// (`123456789012.127.0.0.1`), which resolves nowhere; the account is in the
/// `x-amz-account-id` header all the same. The counterpart of S3's path-style addressing.
#[derive(Debug, Clone)]
struct AccountInHeaderOnly(String);

impl Intercept for AccountInHeaderOnly {
    fn name(&self) -> &'static str {
        "AccountInHeaderOnly"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().to_owned();
        let Some(rest) = uri.split_once("://").map(|(_, rest)| rest) else {
            return Ok(());
        };
        let configured = self.0.split_once("://").map_or(self.0.as_str(), |(_, r)| r);
        let configured = configured.trim_end_matches('/');
        if let Some((prefix, tail)) = rest.split_once('.')
            && prefix.len() == 12
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && tail.starts_with(configured)
        {
            let scheme = uri.split_once("://").map_or("http", |(s, _)| s);
            request.set_uri(format!("{scheme}://{tail}"))?;
        }
        Ok(())
    }
}

/// The SDK's default HTTPS client (hyper; rustls with aws-lc; proxy from the environment),
/// except that a connector, and with it the system's TLS roots, is built on its first
/// request instead of while the configuration loads: start-up (Lambda's init) does not pay
/// for it, and a client of a service the event never calls costs nothing.
#[derive(Debug, Clone)]
struct LazyHttps(SharedHttpClient);

impl LazyHttps {
    fn new() -> Self {
        use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
        LazyHttps(
            Builder::new().build_with_connector_fn(|settings, components| {
                let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ));
                conn.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    conn.set_sleep_impl(components.sleep_impl());
                }
                conn.set_proxy_config(Some(ProxyConfig::from_env()));
                conn.build()
            }),
        )
    }
}

impl HttpClient for LazyHttps {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Deferred {
            client: self.0.clone(),
            settings: settings.clone(),
            components: components.clone(),
        })
    }
}

/// A connector asked for only when a request is sent (the client caches it from then on).
#[derive(Debug)]
struct Deferred {
    client: SharedHttpClient,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
}

impl HttpConnector for Deferred {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.client
            .http_connector(&self.settings, &self.components)
            .call(request)
    }
}

/// Every client the function uses, created lazily per region and reused while warm.
#[derive(Debug)]
pub struct Clients {
    base: SdkConfig,
    counter: Arc<RequestCounter>,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    kms: Mutex<HashMap<String, aws_sdk_kms::Client>>,
    sns: Mutex<HashMap<String, aws_sdk_sns::Client>>,
    /// A Rekognition client to use in every Region (tests: moto lacks the calls).
    rekognition_override: Option<aws_sdk_rekognition::Client>,
    /// An S3 Control client to use in every Region (tests: moto has no Batch Operations jobs).
    s3control_override: Option<aws_sdk_s3control::Client>,
    /// The S3 client that sends `UpdateObjectEncryption` (tests: moto rewrites the body).
    object_writer_override: Option<aws_sdk_s3::Client>,
}

/// Bounds every call so a hung endpoint cannot hold an invocation: the SDK's standard
/// retries (throttling, 5xx, timeouts) still apply inside these limits.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

impl Clients {
    /// The standard chain: environment, profile, container/instance credentials.
    pub async fn from_env() -> Self {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(LazyHttps::new())
            .timeout_config(timeouts())
            .load()
            .await;
        Self::new(conf)
    }

    pub fn new(base: SdkConfig) -> Self {
        Self::with_counter(base, Arc::default())
    }

    fn with_counter(base: SdkConfig, counter: Arc<RequestCounter>) -> Self {
        Self {
            base,
            counter,
            s3: Mutex::default(),
            kms: Mutex::default(),
            sns: Mutex::default(),
            rekognition_override: None,
            s3control_override: None,
            object_writer_override: None,
        }
    }

    /// The same configuration acting with other credentials (a member account's role):
    /// requests are counted with this set's, and throttling slows the client down
    /// (adaptive retries) instead of failing a sweep.
    pub fn for_credentials(&self, credentials: aws_sdk_sts::config::Credentials) -> Clients {
        let base = self
            .base
            .to_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .retry_config(aws_config::retry::RetryConfig::adaptive())
            .build();
        Self::with_counter(base, Arc::clone(&self.counter))
    }

    /// Another set on the same configuration, counter and test overrides: for a second
    /// `App` with another configuration (a read-only safety evaluation) in one process.
    pub fn sibling(&self) -> Clients {
        Self {
            rekognition_override: self.rekognition_override.clone(),
            s3control_override: self.s3control_override.clone(),
            object_writer_override: self.object_writer_override.clone(),
            ..Self::with_counter(self.base.clone(), Arc::clone(&self.counter))
        }
    }

    /// Sends every Rekognition call to `client` (an `aws-smithy-mocks` client in tests,
    /// for the calls the emulator lacks); the other services keep the standard chain.
    pub fn with_rekognition(mut self, client: aws_sdk_rekognition::Client) -> Self {
        self.rekognition_override = Some(client);
        self
    }

    /// Sends every S3 Control call to `client` (an `aws-smithy-mocks` client in tests).
    pub fn with_s3control(mut self, client: aws_sdk_s3control::Client) -> Self {
        self.s3control_override = Some(client);
        self
    }

    /// Sends `UpdateObjectEncryption` to `client`; reads still go to `s3` (tests: moto
    /// answers the call but rewrites the object's body, which S3 never does).
    pub fn with_object_writer(mut self, client: aws_sdk_s3::Client) -> Self {
        self.object_writer_override = Some(client);
        self
    }

    pub fn counter(&self) -> &RequestCounter {
        &self.counter
    }

    /// The region of the standard configuration (the Lambda's own).
    pub fn home_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    fn counting(&self, s3: bool) -> Counting {
        Counting {
            counter: Arc::clone(&self.counter),
            s3,
        }
    }

    fn cached<C: Clone>(
        map: &Mutex<HashMap<String, C>>,
        region: &str,
        build: impl FnOnce() -> C,
    ) -> C {
        let mut map = map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(region.to_owned()).or_insert_with(build).clone()
    }

    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        Self::cached(&self.s3, region, || {
            let conf = aws_sdk_s3::config::Builder::from(&self.base)
                .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                .force_path_style(self.base.endpoint_url().is_some())
                .interceptor(self.counting(true))
                .build();
            aws_sdk_s3::Client::from_conf(conf)
        })
    }

    /// The client that changes objects' encryption (`aws::objects::update`).
    pub fn object_writer(&self, region: &str) -> aws_sdk_s3::Client {
        match &self.object_writer_override {
            Some(client) => client.clone(),
            None => self.s3(region),
        }
    }

    /// S3 Control (Batch Operations jobs) in `region`.
    pub fn s3control(&self, region: &str) -> aws_sdk_s3control::Client {
        if let Some(client) = &self.s3control_override {
            return client.clone();
        }
        let mut conf = aws_sdk_s3control::config::Builder::from(&self.base)
            .region(aws_sdk_s3control::config::Region::new(region.to_owned()))
            .interceptor(self.counting(false));
        if let Some(endpoint) = self.base.endpoint_url() {
            conf = conf.interceptor(AccountInHeaderOnly(endpoint.to_owned()));
        }
        aws_sdk_s3control::Client::from_conf(conf.build())
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        Self::cached(&self.kms, region, || {
            let conf = aws_sdk_kms::config::Builder::from(&self.base)
                .region(aws_sdk_kms::config::Region::new(region.to_owned()))
                .interceptor(self.counting(false))
                .build();
            aws_sdk_kms::Client::from_conf(conf)
        })
    }

    pub fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        Self::cached(&self.sns, region, || {
            let conf = aws_sdk_sns::config::Builder::from(&self.base)
                .region(aws_sdk_sns::config::Region::new(region.to_owned()))
                .interceptor(self.counting(false))
                .build();
            aws_sdk_sns::Client::from_conf(conf)
        })
    }

    pub fn rekognition(&self, region: &str) -> aws_sdk_rekognition::Client {
        if let Some(client) = &self.rekognition_override {
            return client.clone();
        }
        let conf = aws_sdk_rekognition::config::Builder::from(&self.base)
            .region(aws_sdk_rekognition::config::Region::new(region.to_owned()))
            .interceptor(self.counting(false))
            .retry_classifier(super::HtmlServerErrorIsFinal)
            .build();
        aws_sdk_rekognition::Client::from_conf(conf)
    }

    /// DynamoDB in the function's own region: the state table lives beside the function.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::config::Builder::from(&self.base)
            .interceptor(self.counting(false))
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    /// Security Hub in `region`. Throttling (10 `BatchImportFindings` calls per second per
    /// account and Region) gets more attempts than the default three; the sink also paces.
    pub fn securityhub(&self, region: &str) -> aws_sdk_securityhub::Client {
        let retry = aws_config::retry::RetryConfig::standard()
            .with_max_attempts(6)
            .with_initial_backoff(Duration::from_millis(200));
        let conf = aws_sdk_securityhub::config::Builder::from(&self.base)
            .region(aws_sdk_securityhub::config::Region::new(region.to_owned()))
            .retry_config(retry)
            .interceptor(self.counting(false))
            .build();
        aws_sdk_securityhub::Client::from_conf(conf)
    }

    /// Organizations is a global service; one client.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        let conf = aws_sdk_organizations::config::Builder::from(&self.base)
            .interceptor(self.counting(false))
            .build();
        aws_sdk_organizations::Client::from_conf(conf)
    }

    /// STS in one Region: tokens from the global endpoint fail in opt-in Regions.
    pub fn sts_in(&self, region: &str) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.base)
            .region(aws_sdk_sts::config::Region::new(region.to_owned()))
            .interceptor(self.counting(false))
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    pub fn sqs(&self, region: &str) -> aws_sdk_sqs::Client {
        let conf = aws_sdk_sqs::config::Builder::from(&self.base)
            .region(aws_sdk_sqs::config::Region::new(region.to_owned()))
            .interceptor(self.counting(false))
            .build();
        aws_sdk_sqs::Client::from_conf(conf)
    }

    /// SSM Parameter Store in the function's own Region (the scope rules parameter).
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        let conf = aws_sdk_ssm::config::Builder::from(&self.base)
            .interceptor(self.counting(false))
            .build();
        aws_sdk_ssm::Client::from_conf(conf)
    }

    /// EventBridge Scheduler in the function's own Region (notify-then-remediate).
    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        let conf = aws_sdk_scheduler::config::Builder::from(&self.base)
            .interceptor(self.counting(false))
            .build();
        aws_sdk_scheduler::Client::from_conf(conf)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.base)
            .interceptor(self.counting(false))
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }
}
