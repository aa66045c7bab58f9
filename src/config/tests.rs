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
    ] {
        let err = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
        assert!(err.to_string().starts_with(name), "{err}");
    }
}

#[test]
fn every_default_the_book_shows_is_the_default() {
    for (name, agrees) in shown_defaults_agree() {
        assert!(
            agrees,
            "{name}: the shown default is not what its rule gives"
        );
    }
    assert_eq!(shown_defaults_agree().len(), VARIABLES.len());
}

#[test]
fn errors_name_the_variable_the_value_and_the_rule() {
    for (name, value, error) in [
        (
            "GUARD_MODE",
            " fix ",
            r#"GUARD_MODE="fix" is invalid: expected remediate or audit"#,
        ),
        (
            "GUARD_ACCOUNTS_EXCLUDE",
            "111122223333, 12345",
            r#"GUARD_ACCOUNTS_EXCLUDE="12345" is invalid: expected comma-separated 12-digit account ids"#,
        ),
        (
            "GUARD_OPT_OUT_SERVICES",
            " , ",
            r#"GUARD_OPT_OUT_SERVICES="," is invalid: expected service names such as rekognition"#,
        ),
        (
            "GUARD_HISTORY_DAYS",
            "0",
            r#"GUARD_HISTORY_DAYS="0" is invalid: expected a whole number of days from 1 to 3650"#,
        ),
        (
            "GUARD_SCHEDULER_ROLE_ARN",
            "role/x",
            r#"GUARD_SCHEDULER_ROLE_ARN="role/x" is invalid: expected an ARN"#,
        ),
    ] {
        let err = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
        assert_eq!(err.to_string(), error);
    }
    // Blank is unset: the default, unchecked.
    let blank = Config::from_vars(&vars(&[("GUARD_SCAN_CONCURRENCY", "  ")])).unwrap();
    assert_eq!(blank.scan_concurrency, 16);
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
    let e = Config::from_vars(&vars(&[("GUARD_REENCRYPT", "batch")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "GUARD_REENCRYPT=\"batch\" is invalid: needs GUARD_REENCRYPT_ROLE_ARN (the Batch Operations job role)"
    );
    for (name, value) in [
        ("GUARD_REENCRYPT", "direct"),
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
