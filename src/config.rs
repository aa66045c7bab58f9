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
            security_hub: false,
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
        let security_hub = match get("GUARD_SECURITY_HUB").as_deref() {
            None | Some("off") => false,
            Some("on") => true,
            Some(other) => {
                return Err(invalid("GUARD_SECURITY_HUB", other, "expected on or off"));
            }
        };
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
            security_hub,
            report_format,
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
        assert!(c.security_hub);
        assert_eq!(c.report_format, Some(ReportFormat::Ocsf));
        assert_eq!(c.bucket_role("ml-data-x"), Some("guarded-prefix"));
        assert_eq!(c.bucket_role("custom-labels-console-x"), Some("console"));
        assert_eq!(c.bucket_role("other"), None);
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
            ("GUARD_SECURITY_HUB", "true"),
            ("GUARD_REPORT_FORMAT", "asff"),
        ] {
            let err = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }
}
