//! The resolution table: which rule decides, and exceptions in and out of force.

use super::*;

const SANDBOX: &str = "ou-ab12-sandbox1";
const NESTED: &str = "ou-ab12-nested01";
const PROD: &str = "ou-ab12-prod0001";

fn rules(text: &str) -> Rules {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn subject<'a>(ous: &'a [String], tags: &'a [(String, String)], control: &'a str) -> Subject<'a> {
    Subject {
        account: "111122223333",
        ous,
        region: "us-east-1",
        tags,
        bucket: "ml-legacy-data",
        control,
    }
}

fn ous(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn no_rule_is_guard_mode() {
    let d = resolve(
        &Rules::default(),
        &subject(&[], &[], "sse-kms"),
        Mode::Audit,
    );
    assert_eq!(d.mode, RuleMode::Audit);
    assert_eq!(d.decided_by, "GUARD_MODE=audit");
}

#[test]
fn the_nearest_ou_wins_and_any_ancestor_counts() {
    let r = rules(&format!(
        r#"{{"rules": [{{"ou": "{SANDBOX}", "mode": "audit"}}, {{"ou": "{NESTED}", "mode": "remediate"}}]}}"#
    ));
    let path = ous(&["r-ab12", SANDBOX, NESTED]);
    let d = resolve(&r, &subject(&path, &[], "sse-kms"), Mode::Audit);
    assert_eq!(d.mode, RuleMode::Remediate);
    assert!(
        d.decided_by.starts_with("rules[1] (ou ou-ab12-nested01"),
        "{}",
        d.decided_by
    );
    // Directly in the sandbox OU, or deeper below it without a rule of its own.
    let d = resolve(
        &r,
        &subject(&ous(&["r-ab12", SANDBOX]), &[], "tls-only"),
        Mode::Remediate,
    );
    assert_eq!(d.mode, RuleMode::Audit);
    let d = resolve(
        &r,
        &subject(
            &ous(&["r-ab12", SANDBOX, "ou-ab12-other001"]),
            &[],
            "tls-only",
        ),
        Mode::Remediate,
    );
    assert_eq!(d.mode, RuleMode::Audit);
    // Outside both: GUARD_MODE.
    let d = resolve(
        &r,
        &subject(&ous(&["r-ab12", PROD]), &[], "tls-only"),
        Mode::Remediate,
    );
    assert_eq!(d.decided_by, "GUARD_MODE=remediate");
}

#[test]
fn specificity_tag_account_ou_region_everything() {
    let r = rules(&format!(
        r#"{{"rules": [
            {{"mode": "off"}},
            {{"region": "us-east-1", "mode": "audit"}},
            {{"ou": "{PROD}", "mode": "notify-then-remediate", "grace": "PT2H"}},
            {{"account": "111122223333", "mode": "remediate"}},
            {{"tag": "env=dev", "mode": "audit"}}
        ]}}"#
    ));
    let prod = ous(&["r-ab12", PROD]);
    let dev = vec![("env".to_owned(), "dev".to_owned())];
    let prod_tag = vec![("env".to_owned(), "prod".to_owned())];
    let mode = |ous: &[String], tags: &[(String, String)]| {
        resolve(&r, &subject(ous, tags, "sse-kms"), Mode::Remediate).mode
    };
    assert_eq!(
        mode(&prod, &dev),
        RuleMode::Audit,
        "the tag is the most specific"
    );
    assert_eq!(
        mode(&prod, &prod_tag),
        RuleMode::Remediate,
        "then the account"
    );
    let other_account = Subject {
        account: "444455556666",
        ..subject(&prod, &[], "sse-kms")
    };
    assert_eq!(
        resolve(&r, &other_account, Mode::Remediate).mode,
        RuleMode::NotifyThenRemediate(Duration::from_secs(7200)),
        "then the OU"
    );
    let elsewhere = Subject {
        account: "444455556666",
        ..subject(&[], &[], "sse-kms")
    };
    assert_eq!(
        resolve(&r, &elsewhere, Mode::Remediate).mode,
        RuleMode::Audit,
        "then the Region"
    );
    let other_region = Subject {
        region: "eu-west-1",
        ..elsewhere
    };
    assert_eq!(
        resolve(&r, &other_region, Mode::Remediate).mode,
        RuleMode::Off
    );
}

#[test]
fn a_per_control_rule_beats_an_all_controls_rule_of_the_same_scope() {
    let r = rules(
        r#"{"rules": [{"account": "111122223333", "mode": "remediate"},
                      {"account": "111122223333", "mode": "audit", "controls": ["tls-only"]}]}"#,
    );
    let path = ous(&[]);
    assert_eq!(
        resolve(&r, &subject(&path, &[], "tls-only"), Mode::Remediate).mode,
        RuleMode::Audit
    );
    assert_eq!(
        resolve(&r, &subject(&path, &[], "sse-kms"), Mode::Audit).mode,
        RuleMode::Remediate
    );
    // Same specificity, same control coverage: the first rule.
    let r = rules(r#"{"rules": [{"mode": "audit"}, {"mode": "remediate"}]}"#);
    assert_eq!(
        resolve(&r, &subject(&path, &[], "sse-kms"), Mode::Remediate).mode,
        RuleMode::Audit
    );
}

#[test]
fn a_bad_document_names_its_line() {
    let cases = [
        (
            "{\"rules\": [\n  {\"ou\": \"ou-ab12-sandbox1\",\n   \"mode\": \"audti\"}\n]}",
            3,
            "mode \"audti\"",
        ),
        (
            "{\"rules\": [\n  {\"account\": \"12345\", \"mode\": \"audit\"}\n]}",
            2,
            "not a 12-digit account id",
        ),
        (
            "{\"rules\": [],\n \"exeptions\": []}",
            2,
            "unknown field `exeptions`",
        ),
        (
            "{\"rules\": [\n  {\"mode\": \"remediate\", \"grace\": \"PT1H\"}]}",
            2,
            "\"grace\" is for mode notify-then-remediate",
        ),
        (
            "{\"rules\": [\n\n  {\"mode\": \"notify-then-remediate\", \"grace\": \"24h\"}]}",
            3,
            "grace: \"24h\" is not an ISO 8601",
        ),
        (
            "{\"rules\": [{\"ou\": \"ou-ab12-sandbox1\", \"account\": \"111122223333\", \"mode\": \"audit\"}]}",
            1,
            "names one of",
        ),
        (
            "{\"exceptions\": [\n {\"bucket\": \"b\", \"control\": \"tls\", \"reason\": \"r\", \"approved_by\": \"a\"}]}",
            2,
            "control \"tls\"",
        ),
        (
            "{\"exceptions\": [\n {\"bucket\": \"b\", \"until\": \"next week\", \"reason\": \"r\", \"approved_by\": \"a\"}]}",
            2,
            "until \"next week\"",
        ),
        (
            "{\"exceptions\": [\n {\"bucket\": \"b\", \"reason\": \"r\"}]}",
            2,
            "missing field `approved_by`",
        ),
        (
            "{\"rules\": [\n  {\"mode\": \"audit\",}\n]}",
            2,
            "trailing comma",
        ),
    ];
    for (text, line, reason) in cases {
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, line, "{text}: {e}");
        assert!(e.reason.contains(reason), "{text}: {e}");
        assert!(!e.reason.contains(" at line "), "said once: {e}");
    }
}

#[test]
fn notify_then_remediate_defaults_to_a_day() {
    let r = rules(r#"{"rules": [{"mode": "notify-then-remediate"}]}"#);
    assert_eq!(
        r.rules[0].mode,
        RuleMode::NotifyThenRemediate(duration::DEFAULT_GRACE)
    );
}

const DAY: i64 = 86_400_000;

fn at(date: &str) -> i64 {
    crate::change::parse_time(date).unwrap()
}

#[test]
fn tag_exceptions_expire_at_the_end_of_their_day() {
    let tags = vec![
        (
            "rekognition-guard:exempt-until".to_owned(),
            "2027-03-31".to_owned(),
        ),
        (
            "rekognition-guard:exempt-reason".to_owned(),
            "key migration".to_owned(),
        ),
    ];
    let tag = "rekognition-guard:exempt";
    let e = tag_exception(&tags, tag, at("2027-03-31") + DAY - 1).unwrap();
    assert_eq!(
        e.detail(),
        "exempt until 2027-03-31 by tag rekognition-guard:exempt-until: key migration"
    );
    let e = tag_exception(&tags, tag, at("2027-04-01")).unwrap();
    assert!(matches!(e, Excepted::Expired { .. }));
    assert!(
        e.detail().starts_with("exception expired on 2027-03-31"),
        "{}",
        e.detail()
    );
    // The plain tag: open-ended.
    let plain = vec![(tag.to_owned(), "true".to_owned())];
    let e = tag_exception(&plain, tag, at("2027-04-01")).unwrap();
    assert_eq!(
        e.detail(),
        "exempt by tag rekognition-guard:exempt=true, open-ended (no end date): no reason given"
    );
    assert!(tag_exception(&[], tag, 0).is_none());
    // A date that is not one exempts nothing.
    let garbled = vec![(
        "rekognition-guard:exempt-until".to_owned(),
        "soon".to_owned(),
    )];
    assert!(matches!(
        tag_exception(&garbled, tag, 0),
        Some(Excepted::Expired { .. })
    ));
}

#[test]
fn document_exceptions_match_account_bucket_pattern_and_control() {
    let r = rules(
        r#"{"exceptions": [
            {"account": "111122223333", "bucket": "ml-legacy-*", "control": "sse-kms",
             "until": "2027-03-31", "reason": "key migration", "approved_by": "secops@example.com"},
            {"bucket": "ml-*", "control": "tls-only", "reason": "old SDK", "approved_by": "ciso"}]}"#,
    );
    let path = ous(&[]);
    let s = subject(&path, &[], "sse-kms");
    let e = document_exception(&r, &s, at("2027-01-01")).unwrap();
    assert_eq!(
        e.detail(),
        "exempt until 2027-03-31 by exceptions[0], approved by secops@example.com: key migration"
    );
    assert!(matches!(
        document_exception(&r, &s, at("2027-04-01")),
        Some(Excepted::Expired { .. })
    ));
    assert!(document_exception(&r, &subject(&path, &[], "public-access-block"), 0).is_none());
    let open = document_exception(&r, &subject(&path, &[], "tls-only"), at("2030-01-01")).unwrap();
    assert!(open.detail().contains("open-ended"));
    let other = Subject {
        bucket: "analytics",
        ..s
    };
    assert!(document_exception(&r, &other, 0).is_none());
}
