//! Configuration: the only place that reads the environment.
//!
//! The same variables configure the Lambda and the CLI (DESIGN.md, "Configuration").
//! Invalid values are a configuration error (exit code 2), found before any AWS call.
//!
//! Every variable is one row of the `variables!` table below: its `Config` field, its
//! name, its default (and how the book shows it) and the rule a set value must pass.
//! The struct, its `Default`, [`Config::from_vars`] and [`VARIABLES`] are made from the
//! table; a test (`config/docs.rs`) holds the book's configuration page,
//! `docs/src/configuration.md`, to it. Adding a variable is adding a row here and a row
//! there.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
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

/// What the Lambda's report log line is (`GUARD_REPORT_FORMAT`); the CLI's `--format` wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// The report JSON (DESIGN.md, "Report").
    Json,
    /// One OCSF Compliance Finding per control result.
    Ocsf,
}

/// A variable as the book's configuration table shows it (a row of [`VARIABLES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// The default as the book writes it: a value in backticks, `unset`, `empty`, or
    /// words where the default is not a value ("the function's Region").
    pub shown: &'static str,
}

/// Turns the table below into `Config`, its `Default`, `Config::from_vars` and
/// [`VARIABLES`], so that a variable is declared once. Rows are read in their order and
/// the first value a rule refuses is the error; an unset, empty or blank variable takes
/// its default without being checked.
macro_rules! variables {
    (
    // Fields no variable sets (the CLI's flags, documents read at start), with their default.
    @not_from_the_environment {
        $( $(#[$idoc:meta])* $ifield:ident: $ity:ty = $idefault:expr, )*
    }
    $(
        $(#[$doc:meta])*
        $field:ident: $ty:ty {
            var: $name:literal,
            default: $default:expr,
            shown: $shown:literal,
            rule: $rule:expr $(,)?
        }
    )*) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct Config {
            $( $(#[$doc])* pub $field: $ty, )*
            $( $(#[$idoc])* pub $ifield: $ity, )*
        }

        impl Default for Config {
            fn default() -> Self {
                Self { $( $field: $default, )* $( $ifield: $idefault, )* }
            }
        }

        /// Every variable, in the order they are read.
        pub const VARIABLES: &[Variable] = &[$( Variable { name: $name, shown: $shown }, )*];

        impl Config {
            /// Reads configuration from a map of variables, so tests need not touch the
            /// process environment.
            pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
                let config = Self {
                    $( $field: match set(vars, $name) {
                        None => $default,
                        Some(value) => ($rule)(value).map_err(|r| r.of($name, value))?,
                    }, )*
                    $( $ifield: $idefault, )*
                };
                cross_checks(&config)?;
                Ok(config)
            }
        }

        /// Whether each default the book shows as a value is the default its rule gives.
        #[cfg(test)]
        fn shown_defaults_agree() -> Vec<(&'static str, bool)> {
            vec![$(
                ($name, {
                    let default: $ty = $default;
                    shown_agrees($shown, &default, |v| ($rule)(v).ok())
                }),
            )*]
        }
    };
}

// The configuration, one row per variable: the `Config` field and its type, the variable,
// the default (typed, and as the book's table shows it), and the rule a set value must
// pass. A test holds docs/src/configuration.md to these rows.
variables! {
    @not_from_the_environment {
        /// `--dry-run` and `plan`: nothing is written, whatever `GUARD_MODE` or a scope rule says.
        dry_run: bool = false,
        /// The scope rules document, once read (`--rules FILE`, or the SSM parameter
        /// `GUARD_SCOPE_RULES` at start); empty: `GUARD_MODE` decides.
        rules: std::sync::Arc<crate::scope::Rules> = std::sync::Arc::default(),
    }
    /// `remediate` applies fixes and verifies them; `audit` writes nothing.
    mode: Mode {
        var: "GUARD_MODE", default: Mode::Remediate, shown: "`remediate`",
        rule: choice(&[("remediate", Mode::Remediate), ("audit", Mode::Audit)], "expected remediate or audit"),
    }
    /// Key for SSE-KMS remediation (id, ARN, alias or alias ARN); `None`: the `aws/s3` key.
    kms_key_id: Option<String> {
        var: "GUARD_KMS_KEY_ID", default: None, shown: "unset",
        rule: optional(text(is_name_or_arn, "not a key id, ARN or alias")),
    }
    /// The SNS topic alerts go to; `None`: alerts are only logged.
    alert_topic_arn: Option<String> {
        var: "GUARD_ALERT_TOPIC_ARN", default: None, shown: "unset",
        rule: optional(text(is_topic_arn, "expected arn:<partition>:sns:<region>:<account>:<topic>")),
    }
    /// The prefix of the buckets the Custom Labels console creates.
    console_bucket_prefix: String {
        var: "GUARD_CONSOLE_BUCKET_PREFIX", default: "custom-labels-console-".to_owned(),
        shown: "`custom-labels-console-`",
        rule: plain,
    }
    /// More prefixes of guarded buckets.
    bucket_prefixes: Vec<String> {
        var: "GUARD_BUCKET_PREFIXES", default: Vec::new(), shown: "empty",
        rule: plain_list,
    }
    /// The tag key that exempts a bucket.
    exempt_tag: String {
        var: "GUARD_EXEMPT_TAG", default: "rekognition-guard:exempt".to_owned(),
        shown: "`rekognition-guard:exempt`",
        rule: plain,
    }
    /// e.g. `1.2`: also deny requests below this TLS version.
    min_tls_version: Option<String> {
        var: "GUARD_MIN_TLS_VERSION", default: None, shown: "unset",
        rule: optional(text(|v| matches!(v, "1.0" | "1.1" | "1.2" | "1.3"), "expected 1.0, 1.1, 1.2 or 1.3")),
    }
    /// How long a warm function trusts its opt-out verdict.
    opt_out_cache: Duration {
        var: "GUARD_OPT_OUT_CACHE_SECONDS", default: Duration::from_secs(900), shown: "`900`",
        rule: seconds(0..=u64::MAX, "expected a whole number of seconds"),
    }
    /// The AI services whose opt-out is checked.
    opt_out_services: Vec<String> {
        var: "GUARD_OPT_OUT_SERVICES", default: vec!["rekognition".to_owned()], shown: "`rekognition`",
        rule: at_least_one(plain_list, "expected service names such as rekognition"),
    }
    /// Whether a Rekognition resource without a customer managed key is a medium finding.
    require_cmk: bool {
        var: "GUARD_REQUIRE_CMK", default: true, shown: "`true`",
        rule: choice(&[("true", true), ("false", false)], "expected true or false"),
    }
    /// Buckets guarded at once in a sweep.
    scan_concurrency: usize {
        var: "GUARD_SCAN_CONCURRENCY", default: 16, shown: "`16`",
        rule: number(1..=256, "expected a number from 1 to 256"),
    }
    /// `account` (guard the account this runs in) or `organization` (a guard account).
    scope: Scope {
        var: "GUARD_SCOPE", default: Scope::Account, shown: "`account`",
        rule: choice(&[("account", Scope::Account), ("organization", Scope::Organization)], "expected account or organization"),
    }
    /// Role assumed in member accounts (organization scope).
    member_role_name: String {
        var: "GUARD_MEMBER_ROLE_NAME", default: "RekognitionGuardMember".to_owned(),
        shown: "`RekognitionGuardMember`",
        rule: text(is_role_name, "expected an IAM role name (1-64 of A-Z a-z 0-9 +=,.@_-)"),
    }
    /// The ExternalId the member role requires.
    member_external_id: Option<String> {
        var: "GUARD_MEMBER_EXTERNAL_ID", default: None, shown: "unset",
        rule: optional(text(is_external_id, "expected 2-1224 of A-Z a-z 0-9 +=,.@:/_-")),
    }
    /// Accounts left alone (organization scope).
    accounts_exclude: Vec<String> {
        var: "GUARD_ACCOUNTS_EXCLUDE", default: Vec::new(), shown: "empty",
        rule: list(is_account_id, "expected comma-separated 12-digit account ids"),
    }
    /// OUs left alone, with every OU and account below them.
    ous_exclude: Vec<String> {
        var: "GUARD_OUS_EXCLUDE", default: Vec::new(), shown: "empty",
        rule: list(is_ou_id, "expected comma-separated OU ids (ou-xxxx-xxxxxxxx)"),
    }
    /// Regions an organization sweep covers; empty: the function's own.
    regions: Vec<String> {
        var: "GUARD_REGIONS", default: Vec::new(), shown: "the function's Region",
        rule: list(crate::region::is_region, "expected comma-separated Region names such as eu-west-1"),
    }
    /// The queue the function consumes; the organization planner sends work items there.
    work_queue_url: Option<String> {
        var: "GUARD_WORK_QUEUE_URL", default: None, shown: "unset",
        rule: optional(text(|v| v.starts_with("https://") || v.starts_with("http://"), "expected an SQS queue URL")),
    }
    /// Accounts × Regions swept at once by `scan --org`.
    org_concurrency: usize {
        var: "GUARD_ORG_CONCURRENCY", default: 8, shown: "`8`",
        rule: number(1..=64, "expected a number from 1 to 64"),
    }
    /// Which customer managed keys meet `sse-kms`.
    kms_key_policy: KeyPolicy {
        var: "GUARD_KMS_KEY_POLICY", default: KeyPolicy::CustomerManaged, shown: "`customer-managed`",
        rule: choice(
            &[("customer-managed", KeyPolicy::CustomerManaged), ("configured-only", KeyPolicy::ConfiguredOnly)],
            "expected customer-managed or configured-only",
        ),
    }
    /// Hold or apply public-access fixes on public buckets.
    public_access: PublicAccess {
        var: "GUARD_PUBLIC_ACCESS", default: PublicAccess::Hold, shown: "`hold`",
        rule: choice(&[("hold", PublicAccess::Hold), ("block", PublicAccess::Block)], "expected hold or block"),
    }
    /// `when-not-enforced`: leave a bucket's own Block Public Access flags alone when the
    /// account-level configuration or the organization S3 policy already enforces all four.
    bucket_bpa: Layered {
        var: "GUARD_BUCKET_BPA", default: Layered::Always, shown: "`always`",
        rule: choice(&[("always", Layered::Always), ("when-not-enforced", Layered::WhenNotEnforced)], "expected always or when-not-enforced"),
    }
    /// `when-not-enforced`: a bucket below an RCP that denies plain HTTP is TLS-only without a
    /// statement of its own.
    tls: Layered {
        var: "GUARD_TLS", default: Layered::Always, shown: "`always`",
        rule: choice(&[("always", Layered::Always), ("when-not-enforced", Layered::WhenNotEnforced)], "expected always or when-not-enforced"),
    }
    /// Remove deleted principals' unique ids (`AROA…`) from a policy before writing it (S3
    /// refuses to have them put back), reporting each.
    drop_stale_principals: bool {
        var: "GUARD_DROP_STALE_PRINCIPALS", default: false, shown: "`false`",
        rule: choice(&[("true", true), ("false", false)], "expected true or false"),
    }
    /// How long a warm function trusts a liveness output bucket it verified compliant.
    recheck: Duration {
        var: "GUARD_RECHECK_SECONDS", default: Duration::from_secs(300), shown: "`300`",
        rule: seconds(0..=86_400, "expected a whole number of seconds from 0 to 86400"),
    }
    /// The CLI's change record without a state table (JSON lines).
    history_file: PathBuf {
        var: "GUARD_HISTORY_FILE", default: "rekognition-guard-history.jsonl".into(),
        shown: "`rekognition-guard-history.jsonl`",
        rule: path,
    }
    /// How long the state table keeps a change (its TTL), in days.
    history_days: u32 {
        var: "GUARD_HISTORY_DAYS", default: 400, shown: "`400`",
        rule: number(1..=3650, "expected a whole number of days from 1 to 3650"),
    }
    /// The SSM parameter (name or ARN) holding the scope rules document (`crate::scope`);
    /// the CLI's `--rules FILE` takes precedence.
    scope_rules_parameter: Option<String> {
        var: "GUARD_SCOPE_RULES", default: None, shown: "unset",
        rule: optional(text(is_name_or_arn, "expected an SSM parameter name or ARN")),
    }
    /// The EventBridge Scheduler group of notify-then-remediate's one-time schedules.
    schedule_group: String {
        var: "GUARD_SCHEDULE_GROUP", default: "rekognition-guard".to_owned(), shown: "`rekognition-guard`",
        rule: text(is_schedule_group, "expected 1-64 of A-Z a-z 0-9 . _ -"),
    }
    /// The role EventBridge Scheduler assumes to invoke the target.
    scheduler_role_arn: Option<String> {
        var: "GUARD_SCHEDULER_ROLE_ARN", default: None, shown: "unset",
        rule: optional(text(is_arn, "expected an ARN")),
    }
    /// What a schedule invokes (the function, or its queue); unset in Lambda: the invoked
    /// function's own ARN.
    schedule_target_arn: Option<String> {
        var: "GUARD_SCHEDULE_TARGET_ARN", default: None, shown: "unset",
        rule: optional(text(is_arn, "expected an ARN")),
    }
    /// Wildcard names (`*`, `?`) of Rekognition output buckets that drift events guard
    /// beyond the prefixes: the same list scopes the role's S3 permissions and the rules.
    output_bucket_patterns: Vec<String> {
        var: "GUARD_OUTPUT_BUCKET_PATTERNS", default: Vec::new(), shown: "empty",
        rule: list(is_bucket_pattern, "expected bucket-name patterns (lowercase letters, digits, dots, hyphens, * and ?)"),
    }
    /// DynamoDB table for state that outlives an invocation (drift restoration counts, the
    /// change record); `None`: counts live in the warm process only.
    state_table: Option<String> {
        var: "GUARD_STATE_TABLE", default: None, shown: "unset",
        rule: optional(text(is_table_name, "expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .) or ARN")),
    }
    /// `on`: import one ASFF finding per resource and control.
    security_hub: bool {
        var: "GUARD_SECURITY_HUB", default: false, shown: "`off`",
        rule: choice(&[("on", true), ("off", false)], "expected on or off"),
    }
    /// `None` when unset (the CLI then picks by terminal).
    report_format: Option<ReportFormat> {
        var: "GUARD_REPORT_FORMAT", default: None, shown: "unset",
        rule: optional(choice(&[("json", ReportFormat::Json), ("ocsf", ReportFormat::Ocsf)], "expected json or ocsf")),
    }
    /// `batch`: after an encryption remediation, start an S3 Batch Operations job that
    /// re-encrypts the bucket's existing objects (needs `GUARD_REENCRYPT_ROLE_ARN`).
    reencrypt: Reencrypt {
        var: "GUARD_REENCRYPT", default: Reencrypt::Off, shown: "`off`",
        rule: choice(&[("off", Reencrypt::Off), ("batch", Reencrypt::Batch)], "expected off or batch"),
    }
    /// The role S3 Batch Operations assumes for those jobs.
    reencrypt_role_arn: Option<String> {
        var: "GUARD_REENCRYPT_ROLE_ARN", default: None, shown: "unset",
        rule: optional(text(is_role_arn, "expected an IAM role ARN (arn:aws:iam::123456789012:role/NAME)")),
    }
    /// `s3://bucket/prefix` for the jobs' completion reports (unset:
    /// [`REENCRYPT_REPORT_PREFIX`] in the bucket re-encrypted).
    reencrypt_report: Option<String> {
        var: "GUARD_REENCRYPT_REPORT", default: None, shown: "unset",
        rule: optional(text(is_s3_prefix, "expected s3://BUCKET/PREFIX")),
    }
}

/// Whether a bucket-level fix is written when a layer above the bucket (the account, an
/// organization policy) already enforces the control (`GUARD_BUCKET_BPA`, `GUARD_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layered {
    /// Always written: Security Hub and Config score the bucket's own settings.
    #[default]
    Always,
    /// Only where nothing above the bucket enforces it.
    WhenNotEnforced,
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

/// What one variable's rule cannot see: a value that needs another variable.
fn cross_checks(c: &Config) -> Result<(), ConfigError> {
    if c.reencrypt == Reencrypt::Batch && c.reencrypt_role_arn.is_none() {
        return Err(ConfigError::Invalid {
            name: "GUARD_REENCRYPT",
            value: "batch".to_owned(),
            reason: "needs GUARD_REENCRYPT_ROLE_ARN (the Batch Operations job role)",
        });
    }
    Ok(())
}

fn is_s3_prefix(s: &str) -> bool {
    s.strip_prefix("s3://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Account,
    Organization,
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

// Rules: what the table's `rule:` column is made of. Each takes the trimmed, non-empty
// value and gives the field's value, or refuses it with the reason the error shows.

/// Why a rule refused a value: the reason, and the item at fault when the value is a list.
#[derive(Debug)]
struct Refusal {
    reason: &'static str,
    item: Option<String>,
}

impl Refusal {
    fn because(reason: &'static str) -> Self {
        Self { reason, item: None }
    }

    /// The error for variable `name` set to `value`: it names the list item at fault.
    fn of(self, name: &'static str, value: &str) -> ConfigError {
        ConfigError::Invalid {
            name,
            value: self.item.unwrap_or_else(|| value.to_owned()),
            reason: self.reason,
        }
    }
}

/// The variable's value, trimmed; `None` when unset, empty or blank.
fn set<'a>(vars: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// One of the listed words, each standing for its value.
fn choice<T: Copy>(
    words: &'static [(&'static str, T)],
    reason: &'static str,
) -> impl Fn(&str) -> Result<T, Refusal> {
    move |v| {
        words
            .iter()
            .find(|(word, _)| *word == v)
            .map(|(_, value)| *value)
            .ok_or(Refusal::because(reason))
    }
}

/// A whole number within `range`.
fn number<T: FromStr + PartialOrd>(
    range: RangeInclusive<T>,
    reason: &'static str,
) -> impl Fn(&str) -> Result<T, Refusal> {
    move |v| {
        v.parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or(Refusal::because(reason))
    }
}

/// A whole number of seconds within `range`.
fn seconds(
    range: RangeInclusive<u64>,
    reason: &'static str,
) -> impl Fn(&str) -> Result<Duration, Refusal> {
    let whole = number(range, reason);
    move |v| whole(v).map(Duration::from_secs)
}

/// Any text.
fn plain(v: &str) -> Result<String, Refusal> {
    Ok(v.to_owned())
}

/// A file path.
fn path(v: &str) -> Result<PathBuf, Refusal> {
    Ok(v.into())
}

/// Text that `valid` accepts.
fn text(valid: fn(&str) -> bool, reason: &'static str) -> impl Fn(&str) -> Result<String, Refusal> {
    move |v| {
        valid(v)
            .then(|| v.to_owned())
            .ok_or(Refusal::because(reason))
    }
}

/// Comma-separated items, blanks dropped.
fn plain_list(v: &str) -> Result<Vec<String>, Refusal> {
    Ok(split_list(v))
}

/// Comma-separated items that `valid` accepts each; the error names the first refused.
fn list(
    valid: fn(&str) -> bool,
    reason: &'static str,
) -> impl Fn(&str) -> Result<Vec<String>, Refusal> {
    move |v| {
        let items = split_list(v);
        match items.iter().find(|item| !valid(item)) {
            Some(bad) => Err(Refusal {
                reason,
                item: Some(bad.clone()),
            }),
            None => Ok(items),
        }
    }
}

/// A list with at least one item (`,` alone is refused, not read as the default).
fn at_least_one(
    rule: impl Fn(&str) -> Result<Vec<String>, Refusal>,
    reason: &'static str,
) -> impl Fn(&str) -> Result<Vec<String>, Refusal> {
    move |v| {
        rule(v).and_then(|items| {
            if items.is_empty() {
                Err(Refusal::because(reason))
            } else {
                Ok(items)
            }
        })
    }
}

/// A field that is `None` when unset: a set value must pass `rule`.
fn optional<T>(
    rule: impl Fn(&str) -> Result<T, Refusal>,
) -> impl Fn(&str) -> Result<Option<T>, Refusal> {
    move |v| rule(v).map(Some)
}

/// Whether a default shown as a value (`` `900` ``) is what `parse` makes of it, and one
/// shown as `unset` or `empty` is none; words ("the function's Region") are not checked.
#[cfg(test)]
fn shown_agrees<T: PartialEq + std::fmt::Debug>(
    shown: &str,
    default: &T,
    parse: impl Fn(&str) -> Option<T>,
) -> bool {
    match shown {
        "unset" => format!("{default:?}") == "None",
        "empty" => format!("{default:?}") == "[]",
        _ => match shown.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
            Some(value) => parse(value).as_ref() == Some(default),
            None => true,
        },
    }
}

// Validators: the `valid` of `text` and `list`.

/// A key id, ARN or alias, or an SSM parameter name or ARN: no whitespace, at most 2048.
fn is_name_or_arn(s: &str) -> bool {
    !s.chars().any(char::is_whitespace) && s.len() <= 2048
}

fn is_topic_arn(s: &str) -> bool {
    crate::aws::sns::topic_region(s).is_some()
}

fn is_arn(s: &str) -> bool {
    s.starts_with("arn:") && !s.chars().any(char::is_whitespace)
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

fn is_schedule_group(g: &str) -> bool {
    (1..=64).contains(&g.len())
        && g.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
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

/// An IAM role ARN (`arn:<partition>:iam::<account>:role/<path/name>`).
pub fn is_role_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if crate::region::is_partition(partition)
            && is_account_id(account)
            && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty() && n.len() <= 512))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod docs;
