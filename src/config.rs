//! Configuration: the only place that reads the environment.
//!
//! The same variables configure the Lambda and the CLI (DESIGN.md, "Configuration").
//! Invalid values are a configuration error (exit code 2), found before any AWS call.

use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Apply fixes and verify them.
    Remediate,
    /// Write nothing; report `would-remediate`.
    Audit,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Remediate => "remediate",
            Mode::Audit => "audit",
        }
    }
}

/// Which customer managed keys meet `sse-kms` on a bucket (`GUARD_KMS_KEY_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Any valid customer key (symmetric, `ENCRYPT_DECRYPT`, enabled): another team's
    /// key is compliant.
    CustomerManaged,
    /// Only `GUARD_KMS_KEY_ID`: another customer key is kept, and reported.
    ConfiguredOnly,
}

/// What to do with Block Public Access and the TLS deny on a bucket that serves a website
/// or public readers (`GUARD_PUBLIC_ACCESS`). Console buckets are never legitimately
/// public: there both are always applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAccess {
    /// Hold both fixes, with a high alert (the default: a site or a public dataset stays up).
    Hold,
    /// Apply both: the public access is cut on purpose.
    Block,
}

/// What to do with a bucket's existing objects after its encryption was remediated
/// (`GUARD_REENCRYPT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reencrypt {
    /// Nothing: default encryption protects new objects only (the default).
    #[default]
    Off,
    /// Start an S3 Batch Operations job that brings them to the bucket's new key.
    Batch,
}

/// Where a re-encryption job's completion report goes when `GUARD_REENCRYPT_REPORT` is unset:
/// this prefix in the bucket itself.
pub const REENCRYPT_REPORT_PREFIX: &str = "rekognition-guard-reencrypt-reports";

/// What the Lambda's report log line is (`GUARD_REPORT_FORMAT`); the CLI's `--format` wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// The report JSON (DESIGN.md, "Report").
    Json,
    /// One OCSF Compliance Finding per control result.
    Ocsf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub mode: Mode,
    /// Key for SSE-KMS remediation (id, ARN, alias or alias ARN); `None`: the `aws/s3` key.
    pub kms_key_id: Option<String>,
    pub alert_topic_arn: Option<String>,
    pub console_bucket_prefix: String,
    pub bucket_prefixes: Vec<String>,
    pub exempt_tag: String,
    /// e.g. `1.2`: also deny requests below this TLS version.
    pub min_tls_version: Option<String>,
    pub opt_out_cache: Duration,
    pub opt_out_services: Vec<String>,
    /// Whether a Rekognition resource without a customer managed key is a medium finding.
    pub require_cmk: bool,
    pub scan_concurrency: usize,
    /// `GUARD_SECURITY_HUB=on`: import one ASFF finding per resource and control.
    pub security_hub: bool,
    /// `GUARD_REPORT_FORMAT`: `None` when unset (the CLI then picks by terminal).
    pub report_format: Option<ReportFormat>,
    /// Wildcard names (`*`, `?`) of Rekognition output buckets that drift events guard
    /// beyond the prefixes: the same list scopes the role's S3 permissions and the rules.
    pub output_bucket_patterns: Vec<String>,
    /// DynamoDB table for state that outlives an invocation (drift restoration counts);
    /// `None`: counts live in the warm process only.
    pub state_table: Option<String>,
    /// `account` (guard the account this runs in) or `organization` (a guard account).
    pub scope: Scope,
    /// Role assumed in member accounts (organization scope).
    pub member_role_name: String,
    pub member_external_id: Option<String>,
    /// Accounts left alone (organization scope).
    pub accounts_exclude: Vec<String>,
    /// OUs left alone, with every OU and account below them.
    pub ous_exclude: Vec<String>,
    /// Regions an organization sweep covers; empty: the function's own.
    pub regions: Vec<String>,
    /// The queue the function consumes; the organization planner sends work items there.
    pub work_queue_url: Option<String>,
    /// Accounts × Regions swept at once by `scan --org`.
    pub org_concurrency: usize,
    /// Which customer managed keys meet `sse-kms` (`GUARD_KMS_KEY_POLICY`).
    pub kms_key_policy: KeyPolicy,
    /// `GUARD_PUBLIC_ACCESS`: hold or apply public-access fixes on public buckets.
    pub public_access: PublicAccess,
    /// `GUARD_DROP_STALE_PRINCIPALS`: remove deleted principals' unique ids (`AROA…`) from a
    /// policy before writing it (S3 refuses to have them put back), reporting each.
    pub drop_stale_principals: bool,
    /// How long a warm function trusts a liveness output bucket it verified compliant.
    pub recheck: Duration,
    /// `GUARD_HISTORY_FILE`: the CLI's change record without a state table (JSON lines).
    pub history_file: std::path::PathBuf,
    /// `GUARD_HISTORY_DAYS`: how long the state table keeps a change (its TTL).
    pub history_days: u32,
    /// `GUARD_REENCRYPT`: re-encrypt existing objects after an encryption remediation.
    pub reencrypt: Reencrypt,
    /// `GUARD_REENCRYPT_ROLE_ARN`: the role S3 Batch Operations assumes for those jobs.
    pub reencrypt_role_arn: Option<String>,
    /// `GUARD_REENCRYPT_REPORT`: `s3://bucket/prefix` for the jobs' completion reports
    /// (unset: [`REENCRYPT_REPORT_PREFIX`] in the bucket re-encrypted).
    pub reencrypt_report: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Account,
    Organization,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Remediate,
            kms_key_id: None,
            alert_topic_arn: None,
            console_bucket_prefix: "custom-labels-console-".to_owned(),
            bucket_prefixes: Vec::new(),
            exempt_tag: "rekognition-guard:exempt".to_owned(),
            min_tls_version: None,
            opt_out_cache: Duration::from_secs(900),
            opt_out_services: vec!["rekognition".to_owned()],
            require_cmk: true,
            scan_concurrency: 16,
            output_bucket_patterns: Vec::new(),
            state_table: None,
            scope: Scope::Account,
            member_role_name: "RekognitionGuardMember".to_owned(),
            member_external_id: None,
            accounts_exclude: Vec::new(),
            ous_exclude: Vec::new(),
            regions: Vec::new(),
            work_queue_url: None,
            org_concurrency: 8,
            kms_key_policy: KeyPolicy::CustomerManaged,
            public_access: PublicAccess::Hold,
            drop_stale_principals: false,
            recheck: Duration::from_secs(300),
            history_file: "rekognition-guard-history.jsonl".into(),
            history_days: 400,
            security_hub: false,
            reencrypt: Reencrypt::Off,
            reencrypt_role_arn: None,
            reencrypt_report: None,
            report_format: None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Reads configuration from a map of variables, so tests need not touch the process environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let invalid =
            |name: &'static str, value: &str, reason: &'static str| ConfigError::Invalid {
                name,
                value: value.to_owned(),
                reason,
            };
        let defaults = Config::default();

        let mode = match get("GUARD_MODE").as_deref() {
            None | Some("remediate") => Mode::Remediate,
            Some("audit") => Mode::Audit,
            Some(other) => {
                return Err(invalid("GUARD_MODE", other, "expected remediate or audit"));
            }
        };
        let kms_key_id = get("GUARD_KMS_KEY_ID");
        if let Some(key) = &kms_key_id
            && (key.chars().any(char::is_whitespace) || key.len() > 2048)
        {
            return Err(invalid(
                "GUARD_KMS_KEY_ID",
                key,
                "not a key id, ARN or alias",
            ));
        }
        let alert_topic_arn = get("GUARD_ALERT_TOPIC_ARN");
        if let Some(arn) = &alert_topic_arn
            && crate::aws::sns::topic_region(arn).is_none()
        {
            return Err(invalid(
                "GUARD_ALERT_TOPIC_ARN",
                arn,
                "expected arn:<partition>:sns:<region>:<account>:<topic>",
            ));
        }
        let console_bucket_prefix =
            get("GUARD_CONSOLE_BUCKET_PREFIX").unwrap_or(defaults.console_bucket_prefix);
        let bucket_prefixes = get("GUARD_BUCKET_PREFIXES")
            .map(|v| split_list(&v))
            .unwrap_or_default();
        let exempt_tag = get("GUARD_EXEMPT_TAG").unwrap_or(defaults.exempt_tag);
        let min_tls_version = match get("GUARD_MIN_TLS_VERSION") {
            None => None,
            Some(v) if matches!(v.as_str(), "1.0" | "1.1" | "1.2" | "1.3") => Some(v),
            Some(v) => {
                return Err(invalid(
                    "GUARD_MIN_TLS_VERSION",
                    &v,
                    "expected 1.0, 1.1, 1.2 or 1.3",
                ));
            }
        };
        let opt_out_cache = match get("GUARD_OPT_OUT_CACHE_SECONDS") {
            None => defaults.opt_out_cache,
            Some(v) => Duration::from_secs(v.parse().map_err(|_| {
                invalid(
                    "GUARD_OPT_OUT_CACHE_SECONDS",
                    &v,
                    "expected a whole number of seconds",
                )
            })?),
        };
        let opt_out_services = match get("GUARD_OPT_OUT_SERVICES") {
            None => defaults.opt_out_services,
            Some(v) => {
                let services = split_list(&v);
                if services.is_empty() {
                    return Err(invalid(
                        "GUARD_OPT_OUT_SERVICES",
                        &v,
                        "expected service names such as rekognition",
                    ));
                }
                services
            }
        };
        let require_cmk = match get("GUARD_REQUIRE_CMK").as_deref() {
            None => true,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(invalid(
                    "GUARD_REQUIRE_CMK",
                    other,
                    "expected true or false",
                ));
            }
        };
        let scan_concurrency = match get("GUARD_SCAN_CONCURRENCY") {
            None => defaults.scan_concurrency,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "GUARD_SCAN_CONCURRENCY",
                        &v,
                        "expected a number from 1 to 256",
                    ));
                }
            },
        };
        let scope = match get("GUARD_SCOPE").as_deref() {
            None | Some("account") => Scope::Account,
            Some("organization") => Scope::Organization,
            Some(other) => {
                return Err(invalid(
                    "GUARD_SCOPE",
                    other,
                    "expected account or organization",
                ));
            }
        };
        let member_role_name = get("GUARD_MEMBER_ROLE_NAME").unwrap_or(defaults.member_role_name);
        if !is_role_name(&member_role_name) {
            return Err(invalid(
                "GUARD_MEMBER_ROLE_NAME",
                &member_role_name,
                "expected an IAM role name (1-64 of A-Z a-z 0-9 +=,.@_-)",
            ));
        }
        let member_external_id = get("GUARD_MEMBER_EXTERNAL_ID");
        if let Some(id) = &member_external_id
            && !is_external_id(id)
        {
            return Err(invalid(
                "GUARD_MEMBER_EXTERNAL_ID",
                id,
                "expected 2-1224 of A-Z a-z 0-9 +=,.@:/_-",
            ));
        }
        let accounts_exclude = get("GUARD_ACCOUNTS_EXCLUDE")
            .map(|v| split_list(&v))
            .unwrap_or_default();
        if let Some(bad) = accounts_exclude.iter().find(|a| !is_account_id(a)) {
            return Err(invalid(
                "GUARD_ACCOUNTS_EXCLUDE",
                bad,
                "expected comma-separated 12-digit account ids",
            ));
        }
        let ous_exclude = get("GUARD_OUS_EXCLUDE")
            .map(|v| split_list(&v))
            .unwrap_or_default();
        if let Some(bad) = ous_exclude.iter().find(|o| !is_ou_id(o)) {
            return Err(invalid(
                "GUARD_OUS_EXCLUDE",
                bad,
                "expected comma-separated OU ids (ou-xxxx-xxxxxxxx)",
            ));
        }
        let regions = get("GUARD_REGIONS")
            .map(|v| split_list(&v))
            .unwrap_or_default();
        if let Some(bad) = regions.iter().find(|r| !crate::region::is_region(r)) {
            return Err(invalid(
                "GUARD_REGIONS",
                bad,
                "expected comma-separated Region names such as eu-west-1",
            ));
        }
        let work_queue_url = get("GUARD_WORK_QUEUE_URL");
        if let Some(url) = &work_queue_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(invalid(
                "GUARD_WORK_QUEUE_URL",
                url,
                "expected an SQS queue URL",
            ));
        }
        let org_concurrency = match get("GUARD_ORG_CONCURRENCY") {
            None => defaults.org_concurrency,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "GUARD_ORG_CONCURRENCY",
                        &v,
                        "expected a number from 1 to 64",
                    ));
                }
            },
        };
        let kms_key_policy = match get("GUARD_KMS_KEY_POLICY").as_deref() {
            None | Some("customer-managed") => KeyPolicy::CustomerManaged,
            Some("configured-only") => KeyPolicy::ConfiguredOnly,
            Some(other) => {
                return Err(invalid(
                    "GUARD_KMS_KEY_POLICY",
                    other,
                    "expected customer-managed or configured-only",
                ));
            }
        };
        let public_access = match get("GUARD_PUBLIC_ACCESS").as_deref() {
            None | Some("hold") => PublicAccess::Hold,
            Some("block") => PublicAccess::Block,
            Some(other) => {
                return Err(invalid(
                    "GUARD_PUBLIC_ACCESS",
                    other,
                    "expected hold or block",
                ));
            }
        };
        let drop_stale_principals = match get("GUARD_DROP_STALE_PRINCIPALS").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(invalid(
                    "GUARD_DROP_STALE_PRINCIPALS",
                    other,
                    "expected true or false",
                ));
            }
        };
        let recheck = match get("GUARD_RECHECK_SECONDS") {
            None => defaults.recheck,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n <= 86_400 => Duration::from_secs(n),
                _ => {
                    return Err(invalid(
                        "GUARD_RECHECK_SECONDS",
                        &v,
                        "expected a whole number of seconds from 0 to 86400",
                    ));
                }
            },
        };
        let history_file = get("GUARD_HISTORY_FILE")
            .map_or(defaults.history_file.clone(), std::path::PathBuf::from);
        let history_days = match get("GUARD_HISTORY_DAYS") {
            None => defaults.history_days,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=3650).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "GUARD_HISTORY_DAYS",
                        &v,
                        "expected a whole number of days from 1 to 3650",
                    ));
                }
            },
        };
        let output_bucket_patterns = get("GUARD_OUTPUT_BUCKET_PATTERNS")
            .map(|v| split_list(&v))
            .unwrap_or_default();
        if let Some(bad) = output_bucket_patterns
            .iter()
            .find(|p| !is_bucket_pattern(p))
        {
            return Err(invalid(
                "GUARD_OUTPUT_BUCKET_PATTERNS",
                bad,
                "expected bucket-name patterns (lowercase letters, digits, dots, hyphens, * and ?)",
            ));
        }
        let state_table = get("GUARD_STATE_TABLE");
        if let Some(table) = &state_table
            && !is_table_name(table)
        {
            return Err(invalid(
                "GUARD_STATE_TABLE",
                table,
                "expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .) or ARN",
            ));
        }
        let security_hub = match get("GUARD_SECURITY_HUB").as_deref() {
            None | Some("off") => false,
            Some("on") => true,
            Some(other) => {
                return Err(invalid("GUARD_SECURITY_HUB", other, "expected on or off"));
            }
        };
        let reencrypt = match get("GUARD_REENCRYPT").as_deref() {
            None | Some("off") => Reencrypt::Off,
            Some("batch") => Reencrypt::Batch,
            Some(other) => return Err(invalid("GUARD_REENCRYPT", other, "expected off or batch")),
        };
        let reencrypt_role_arn = get("GUARD_REENCRYPT_ROLE_ARN");
        if let Some(role) = reencrypt_role_arn.as_deref()
            && !is_role_arn(role)
        {
            return Err(invalid(
                "GUARD_REENCRYPT_ROLE_ARN",
                role,
                "expected an IAM role ARN (arn:aws:iam::123456789012:role/NAME)",
            ));
        }
        if reencrypt == Reencrypt::Batch && reencrypt_role_arn.is_none() {
            return Err(invalid(
                "GUARD_REENCRYPT",
                "batch",
                "needs GUARD_REENCRYPT_ROLE_ARN (the Batch Operations job role)",
            ));
        }
        let reencrypt_report = get("GUARD_REENCRYPT_REPORT");
        if let Some(report) = reencrypt_report.as_deref()
            && !report
                .strip_prefix("s3://")
                .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        {
            return Err(invalid(
                "GUARD_REENCRYPT_REPORT",
                report,
                "expected s3://BUCKET/PREFIX",
            ));
        }
        let report_format = match get("GUARD_REPORT_FORMAT").as_deref() {
            None => None,
            Some("json") => Some(ReportFormat::Json),
            Some("ocsf") => Some(ReportFormat::Ocsf),
            Some(other) => {
                return Err(invalid(
                    "GUARD_REPORT_FORMAT",
                    other,
                    "expected json or ocsf",
                ));
            }
        };
        Ok(Self {
            mode,
            kms_key_id,
            alert_topic_arn,
            console_bucket_prefix,
            bucket_prefixes,
            exempt_tag,
            min_tls_version,
            opt_out_cache,
            opt_out_services,
            require_cmk,
            scan_concurrency,
            scope,
            member_role_name,
            member_external_id,
            accounts_exclude,
            ous_exclude,
            regions,
            work_queue_url,
            org_concurrency,
            kms_key_policy,
            public_access,
            drop_stale_principals,
            recheck,
            history_file,
            history_days,
            output_bucket_patterns,
            state_table,
            security_hub,
            report_format,
            reencrypt,
            reencrypt_role_arn,
            reencrypt_report,
        })
    }

    /// Every prefix a `CreateBucket` or a scan guards, the console's first.
    pub fn guarded_prefixes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.console_bucket_prefix.as_str())
            .chain(self.bucket_prefixes.iter().map(String::as_str))
    }

    /// The role a guarded bucket plays, or `None` when no prefix matches.
    pub fn bucket_role(&self, bucket: &str) -> Option<&'static str> {
        if bucket.starts_with(&self.console_bucket_prefix) {
            Some("console")
        } else if self.bucket_prefixes.iter().any(|p| bucket.starts_with(p)) {
            Some("guarded-prefix")
        } else {
            None
        }
    }
}

/// An IAM role ARN in any partition: `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`.
pub fn is_role_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if crate::region::is_partition(partition)
            && is_account_id(account)
            && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty() && n.len() <= 512))
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `ou-` + the root's 4–32 characters + `-` + 8–32 characters (Organizations' pattern).
pub fn is_ou_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("ou-") else {
        return false;
    };
    let lower_alnum = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    match rest.split_once('-') {
        Some((root, id)) => {
            (4..=32).contains(&root.len())
                && (8..=32).contains(&id.len())
                && lower_alnum(root)
                && lower_alnum(id)
        }
        None => false,
    }
}

fn is_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

fn is_external_id(s: &str) -> bool {
    (2..=1224).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&b))
}

impl Config {
    /// The role of a bucket a drift event names: a guarded prefix's, or `output` when it
    /// matches `GUARD_OUTPUT_BUCKET_PATTERNS`; `None` when the bucket is not guarded.
    pub fn drift_bucket_role(&self, bucket: &str) -> Option<&'static str> {
        self.bucket_role(bucket).or_else(|| {
            self.output_bucket_patterns
                .iter()
                .any(|p| wildcard_match(p, bucket))
                .then_some("output")
        })
    }
}

/// IAM-style wildcards: `*` any run of characters (none included), `?` exactly one.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Greedy with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn is_bucket_pattern(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 63
        && p.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'*' | b'?')
        })
}

fn is_table_name(t: &str) -> bool {
    let name = t
        .strip_prefix("arn:")
        .and_then(|arn| arn.rsplit_once(":table/"))
        .map_or(t, |(_, name)| name);
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_the_design() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.mode, Mode::Remediate);
        assert_eq!(c.console_bucket_prefix, "custom-labels-console-");
        assert_eq!(c.exempt_tag, "rekognition-guard:exempt");
        assert_eq!(c.opt_out_cache, Duration::from_secs(900));
    }

    #[test]
    fn parses_every_variable() {
        let c = Config::from_vars(&vars(&[
            ("GUARD_MODE", "audit"),
            ("GUARD_KMS_KEY_ID", "alias/guard"),
            (
                "GUARD_ALERT_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:123456789012:alerts",
            ),
            ("GUARD_BUCKET_PREFIXES", " acme-rek-, ,ml-data- "),
            ("GUARD_MIN_TLS_VERSION", "1.2"),
            ("GUARD_OPT_OUT_CACHE_SECONDS", "60"),
            ("GUARD_OPT_OUT_SERVICES", "rekognition,textract"),
            ("GUARD_REQUIRE_CMK", "false"),
            ("GUARD_SCAN_CONCURRENCY", "4"),
            ("GUARD_KMS_KEY_POLICY", "configured-only"),
            ("GUARD_RECHECK_SECONDS", "30"),
            ("GUARD_OUTPUT_BUCKET_PATTERNS", "acme-*-output, ml-??-out"),
            ("GUARD_STATE_TABLE", "rekognition-guard-state"),
            ("GUARD_MEMBER_ROLE_NAME", "GuardMember"),
            ("GUARD_SECURITY_HUB", "on"),
            ("GUARD_REPORT_FORMAT", "ocsf"),
        ]))
        .unwrap();
        assert_eq!(c.mode, Mode::Audit);
        assert_eq!(c.kms_key_id.as_deref(), Some("alias/guard"));
        assert_eq!(c.bucket_prefixes, vec!["acme-rek-", "ml-data-"]);
        assert_eq!(c.min_tls_version.as_deref(), Some("1.2"));
        assert_eq!(c.opt_out_cache, Duration::from_secs(60));
        assert_eq!(c.opt_out_services, vec!["rekognition", "textract"]);
        assert!(!c.require_cmk);
        assert_eq!(c.scan_concurrency, 4);
        assert_eq!(c.kms_key_policy, KeyPolicy::ConfiguredOnly);
        assert_eq!(c.recheck, Duration::from_secs(30));
        assert!(c.security_hub);
        assert_eq!(c.report_format, Some(ReportFormat::Ocsf));
        assert_eq!(c.bucket_role("ml-data-x"), Some("guarded-prefix"));
        assert_eq!(c.bucket_role("custom-labels-console-x"), Some("console"));
        assert_eq!(c.bucket_role("other"), None);
        assert_eq!(c.output_bucket_patterns, vec!["acme-*-output", "ml-??-out"]);
        assert_eq!(c.state_table.as_deref(), Some("rekognition-guard-state"));
        assert_eq!(c.member_role_name, "GuardMember");
        assert_eq!(c.drift_bucket_role("acme-eu-output"), Some("output"));
        assert_eq!(c.drift_bucket_role("ml-ab-out"), Some("output"));
        assert_eq!(c.drift_bucket_role("ml-abc-out"), None);
        assert_eq!(c.drift_bucket_role("ml-data-x"), Some("guarded-prefix"));
    }

    #[test]
    fn wildcards() {
        for (p, n, want) in [
            ("acme-*-output", "acme-eu-output", true),
            ("acme-*-output", "acme--output", true),
            ("acme-*-output", "acme-output", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*", "", true),
            ("?", "", false),
            ("ab?", "abc", true),
            ("ab?", "abcd", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("*-out", "x-out-out", true),
        ] {
            assert_eq!(wildcard_match(p, n), want, "{p} {n}");
        }
    }

    #[test]
    fn organization_scope_variables() {
        let c = Config::from_vars(&vars(&[
            ("GUARD_SCOPE", "organization"),
            ("GUARD_MEMBER_ROLE_NAME", "GuardMember"),
            ("GUARD_MEMBER_EXTERNAL_ID", "o-abc123:guard"),
            ("GUARD_ACCOUNTS_EXCLUDE", "111122223333, 444455556666"),
            ("GUARD_OUS_EXCLUDE", "ou-ab12-cdef3456"),
            ("GUARD_REGIONS", "us-east-1,eu-west-1"),
            (
                "GUARD_WORK_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/work",
            ),
            ("GUARD_ORG_CONCURRENCY", "4"),
        ]))
        .unwrap();
        assert_eq!(c.scope, Scope::Organization);
        assert_eq!(c.member_role_name, "GuardMember");
        assert_eq!(c.member_external_id.as_deref(), Some("o-abc123:guard"));
        assert_eq!(c.accounts_exclude, ["111122223333", "444455556666"]);
        assert_eq!(c.ous_exclude, ["ou-ab12-cdef3456"]);
        assert_eq!(c.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(c.org_concurrency, 4);
        let d = Config::default();
        assert_eq!(
            (d.scope, d.member_role_name.as_str()),
            (Scope::Account, "RekognitionGuardMember")
        );
    }

    #[test]
    fn rejects_bad_values_with_the_variable_name() {
        for (name, value) in [
            ("GUARD_MODE", "fix"),
            ("GUARD_MIN_TLS_VERSION", "TLSv1.2"),
            ("GUARD_OPT_OUT_CACHE_SECONDS", "-1"),
            ("GUARD_ALERT_TOPIC_ARN", "alerts"),
            ("GUARD_REQUIRE_CMK", "yes"),
            ("GUARD_SCAN_CONCURRENCY", "0"),
            ("GUARD_KMS_KEY_ID", "alias/a b"),
            ("GUARD_SCOPE", "org"),
            ("GUARD_MEMBER_ROLE_NAME", "role/with/path"),
            ("GUARD_MEMBER_EXTERNAL_ID", "x"),
            ("GUARD_ACCOUNTS_EXCLUDE", "111122223333,12345"),
            ("GUARD_OUS_EXCLUDE", "r-abcd"),
            ("GUARD_REGIONS", "us-east-1,mars-1"),
            ("GUARD_WORK_QUEUE_URL", "queue"),
            ("GUARD_ORG_CONCURRENCY", "0"),
            ("GUARD_KMS_KEY_POLICY", "any"),
            ("GUARD_RECHECK_SECONDS", "5m"),
            ("GUARD_OUTPUT_BUCKET_PATTERNS", "acme-*,Bad_Name"),
            ("GUARD_STATE_TABLE", "a b"),
            ("GUARD_SECURITY_HUB", "true"),
            ("GUARD_REPORT_FORMAT", "asff"),
            ("GUARD_REENCRYPT", "direct"),
            ("GUARD_REENCRYPT", "batch"),
            ("GUARD_REENCRYPT_ROLE_ARN", "arn:aws:iam::123:role/x"),
            (
                "GUARD_REENCRYPT_ROLE_ARN",
                "arn:aws:iam::123456789012:user/x",
            ),
            ("GUARD_REENCRYPT_REPORT", "bucket/prefix"),
        ] {
            let err = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn reencrypt_is_off_by_default_and_batch_needs_its_role() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.reencrypt, Reencrypt::Off);
        let role = "arn:aws:iam::123456789012:role/service-role/guard-batch";
        let c = Config::from_vars(&vars(&[
            ("GUARD_REENCRYPT", "batch"),
            ("GUARD_REENCRYPT_ROLE_ARN", role),
            ("GUARD_REENCRYPT_REPORT", "s3://reports/guard"),
        ]))
        .unwrap();
        assert_eq!(c.reencrypt, Reencrypt::Batch);
        assert_eq!(c.reencrypt_role_arn.as_deref(), Some(role));
        assert_eq!(c.reencrypt_report.as_deref(), Some("s3://reports/guard"));
        assert!(is_role_arn("arn:aws-us-gov:iam::123456789012:role/r"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
    }
}
