use super::*;
use proptest::prelude::*;

fn req() -> Requirement {
    Requirement::new("bkt", "aws", None)
}

fn eval_text(text: &str, req: &Requirement) -> TlsEvaluation {
    evaluate(Some(&parse(text).unwrap()), req).unwrap()
}

fn policy_with(stmt: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": [stmt]}).to_string()
}

fn tls(principal: Value, action: Value, resource: Value, condition: Value) -> Value {
    json!({"Effect": "Deny", "Principal": principal, "Action": action,
           "Resource": resource, "Condition": condition})
}

fn both() -> Value {
    json!(["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*"])
}

fn insecure() -> Value {
    json!({"Bool": {"aws:SecureTransport": "false"}})
}

#[test]
fn equivalent_statements_are_compliant() {
    let cases = [
        tls(json!("*"), json!("s3:*"), both(), insecure()),
        tls(json!({"AWS": "*"}), json!("s3:*"), both(), insecure()),
        tls(json!({"AWS": ["*"]}), json!(["s3:*"]), both(), insecure()),
        tls(json!("*"), json!("*"), both(), insecure()),
        tls(json!("*"), json!("S3:*"), both(), insecure()),
        tls(
            json!("*"),
            json!("s3:*"),
            both(),
            json!({"Bool": {"aws:SecureTransport": false}}),
        ),
        tls(
            json!("*"),
            json!("s3:*"),
            both(),
            json!({"Bool": {"aws:SecureTransport": ["false"]}}),
        ),
        tls(
            json!("*"),
            json!("s3:*"),
            both(),
            json!({"BoolIfExists": {"aws:securetransport": "False"}}),
        ),
        tls(
            json!("*"),
            json!("s3:*"),
            json!("arn:aws:s3:::bkt*"),
            insecure(),
        ),
        tls(json!("*"), json!("s3:*"), json!("*"), insecure()),
        tls(
            json!("*"),
            json!("s3:*"),
            json!(["arn:aws:s3:::*"]),
            insecure(),
        ),
        tls(
            json!("*"),
            json!("s3:*"),
            json!(["arn:aws:s3:::bkt", "arn:aws:s3:::b?t/*"]),
            insecure(),
        ),
    ];
    for stmt in cases {
        assert!(
            eval_text(&policy_with(stmt.clone()), &req()).compliant(),
            "{stmt}"
        );
    }
}

#[test]
fn near_misses_are_not_compliant() {
    let cases = [
        // only the objects, not the bucket
        tls(
            json!("*"),
            json!("s3:*"),
            json!("arn:aws:s3:::bkt/*"),
            insecure(),
        ),
        // only the bucket
        tls(
            json!("*"),
            json!("s3:*"),
            json!("arn:aws:s3:::bkt"),
            insecure(),
        ),
        // some objects only
        tls(
            json!("*"),
            json!("s3:*"),
            json!(["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/public/*"]),
            insecure(),
        ),
        // another bucket
        tls(
            json!("*"),
            json!("s3:*"),
            json!(["arn:aws:s3:::other", "arn:aws:s3:::other/*"]),
            insecure(),
        ),
        // another partition
        tls(
            json!("*"),
            json!("s3:*"),
            json!(["arn:aws-cn:s3:::bkt", "arn:aws-cn:s3:::bkt/*"]),
            insecure(),
        ),
        // some actions only
        tls(json!("*"), json!("s3:GetObject"), both(), insecure()),
        // some principals only
        tls(
            json!({"AWS": "arn:aws:iam::123456789012:root"}),
            json!("s3:*"),
            both(),
            insecure(),
        ),
        // true instead of false
        tls(
            json!("*"),
            json!("s3:*"),
            both(),
            json!({"Bool": {"aws:SecureTransport": "true"}}),
        ),
        // narrowed by a second condition
        tls(
            json!("*"),
            json!("s3:*"),
            both(),
            json!({"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:PrincipalAccount": "1"}}),
        ),
        // two values: ambiguous
        tls(
            json!("*"),
            json!("s3:*"),
            both(),
            json!({"Bool": {"aws:SecureTransport": ["false", "true"]}}),
        ),
        // Allow instead of Deny
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": both(), "Condition": insecure()}),
        // NotAction
        json!({"Effect": "Deny", "Principal": "*", "NotAction": "s3:GetObject", "Resource": both(), "Condition": insecure()}),
        // NotPrincipal
        json!({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:*", "Resource": both(), "Condition": insecure()}),
        // no condition at all would deny everything, but is not a TLS control
        json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": both()}),
    ];
    for stmt in cases {
        assert!(
            !eval_text(&policy_with(stmt.clone()), &req()).compliant(),
            "{stmt}"
        );
    }
}

#[test]
fn merge_into_no_policy_creates_a_versioned_document() {
    let Merge::Updated { document, added } = merge(None, &req()).unwrap() else {
        panic!("expected an update")
    };
    assert_eq!(added, vec![TLS_SID]);
    let doc = parse(&document).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    assert!(evaluate(Some(&doc), &req()).unwrap().compliant());
    assert_eq!(merge(Some(&document), &req()).unwrap(), Merge::Unchanged);
}

#[test]
fn merge_keeps_statements_id_version_and_single_statement_form() {
    let existing = json!({"Version": "2008-10-17", "Id": "corp-policy",
        "Statement": {"Sid": "DenyInsecureTransport", "Effect": "Allow",
                      "Principal": {"AWS": "arn:aws:iam::123456789012:role/r"},
                      "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bkt/*"}})
    .to_string();
    let Merge::Updated { document, added } = merge(Some(&existing), &req()).unwrap() else {
        panic!("expected an update")
    };
    assert_eq!(
        added,
        vec!["DenyInsecureTransport2"],
        "Sid taken: made unique"
    );
    let doc: Value = serde_json::from_str(&document).unwrap();
    let before: Value = serde_json::from_str(&existing).unwrap();
    assert_eq!(doc["Version"], "2008-10-17");
    assert_eq!(doc["Id"], "corp-policy");
    assert_eq!(doc["Statement"][0], before["Statement"]);
    assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);
}

#[test]
fn min_tls_adds_its_own_statement_and_accepts_stricter() {
    let r = Requirement::new("bkt", "aws", Some("1.2"));
    let Merge::Updated { document, added } = merge(None, &r).unwrap() else {
        panic!("expected an update")
    };
    assert_eq!(added, vec![TLS_SID, MIN_TLS_SID]);
    assert!(eval_text(&document, &r).compliant());
    let stricter = tls(
        json!("*"),
        json!("s3:*"),
        both(),
        json!({"NumericLessThan": {"s3:TlsVersion": 1.3}}),
    );
    let looser = tls(
        json!("*"),
        json!("s3:*"),
        both(),
        json!({"NumericLessThan": {"s3:TlsVersion": "1.1"}}),
    );
    assert!(eval_text(&policy_with(stricter), &r).denies_outdated_tls);
    assert!(!eval_text(&policy_with(looser), &r).denies_outdated_tls);
}

#[test]
fn partition_follows_the_region() {
    let r = Requirement::new("bkt", "aws-cn", None);
    let Merge::Updated { document, .. } = merge(None, &r).unwrap() else {
        panic!("expected an update")
    };
    assert!(document.contains("arn:aws-cn:s3:::bkt/*"));
}

#[test]
fn invalid_and_oversized_policies_are_refused() {
    assert!(matches!(
        merge(Some("{"), &req()),
        Err(PolicyError::NotJson(_))
    ));
    assert_eq!(merge(Some("[]"), &req()), Err(PolicyError::NoStatements));
    assert_eq!(
        merge(Some(r#"{"Version":"2012-10-17"}"#), &req()),
        Err(PolicyError::NoStatements)
    );
    assert_eq!(
        merge(Some(r#"{"Statement":[1]}"#), &req()),
        Err(PolicyError::BadStatement(0))
    );
    let big = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Big", "Effect": "Allow",
        "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/*",
        "Condition": {"StringEquals": {"aws:SourceVpce": "x".repeat(MAX_POLICY_BYTES - 300)}}}]})
    .to_string();
    assert!(big.len() < MAX_POLICY_BYTES);
    assert!(matches!(
        merge(Some(&big), &req()),
        Err(PolicyError::TooLarge { .. })
    ));
}

#[test]
fn globs() {
    assert!(glob_match("arn:aws:s3:::b*", "arn:aws:s3:::bkt"));
    assert!(glob_match("*", ""));
    assert!(!glob_match("a?c", "ac"));
    assert!(covers_prefix("arn:aws:s3:::bkt/*", "arn:aws:s3:::bkt/"));
    assert!(covers_prefix("arn:*:s3:::*/*", "arn:aws:s3:::bkt/"));
    assert!(covers_prefix("*", "x"));
    assert!(!covers_prefix(
        "arn:aws:s3:::bkt/*.jpg",
        "arn:aws:s3:::bkt/"
    ));
    assert!(!covers_prefix("arn:aws:s3:::bkt/?*", "arn:aws:s3:::bkt/"));
    assert!(!covers_prefix("arn:aws:s3:::bkt/", "arn:aws:s3:::bkt/"));
}

// ---- property tests ----------------------------------------------------------

fn string_or_list(items: Vec<&'static str>) -> impl Strategy<Value = Value> {
    let n = items.len();
    prop_oneof![
        proptest::sample::select(items.clone()).prop_map(|s| json!(s)),
        proptest::sample::subsequence(items, 1..=n).prop_map(|v| json!(v)),
    ]
}

fn arb_statement() -> impl Strategy<Value = Value> {
    let principal = prop_oneof![
        Just(json!("*")),
        Just(json!({"AWS": "*"})),
        string_or_list(vec![
            "arn:aws:iam::123456789012:root",
            "arn:aws:iam::210987654321:role/x",
            "*"
        ])
        .prop_map(|v| json!({"AWS": v})),
        Just(json!({"Service": "rekognition.amazonaws.com"})),
    ];
    let action = string_or_list(vec![
        "s3:*",
        "*",
        "s3:GetObject",
        "s3:PutObject",
        "s3:Get*",
        "s3:List*",
    ]);
    let resource = string_or_list(vec![
        "arn:aws:s3:::bkt",
        "arn:aws:s3:::bkt/*",
        "arn:aws:s3:::bkt/data/*",
        "*",
        "arn:aws:s3:::other/*",
    ]);
    let condition = prop_oneof![
        Just(None),
        Just(Some(json!({"Bool": {"aws:SecureTransport": "false"}}))),
        Just(Some(json!({"Bool": {"aws:SecureTransport": false}}))),
        Just(Some(
            json!({"StringEquals": {"aws:PrincipalOrgID": ["o-abc", "o-def"]}})
        )),
        Just(Some(json!({"NumericLessThan": {"s3:TlsVersion": 1.2}}))),
        Just(Some(
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})
        )),
    ];
    (
        proptest::option::of("[A-Za-z0-9]{1,12}"),
        prop_oneof![Just("Allow"), Just("Deny")],
        principal,
        any::<bool>(),
        action,
        any::<bool>(),
        resource,
        condition,
    )
        .prop_map(
            |(sid, effect, principal, not_principal, action, not_action, resource, condition)| {
                let mut s = Map::new();
                if let Some(sid) = sid {
                    s.insert("Sid".into(), json!(sid));
                }
                s.insert("Effect".into(), json!(effect));
                s.insert(
                    if not_principal && effect == "Deny" {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    }
                    .into(),
                    principal,
                );
                s.insert(
                    if not_action { "NotAction" } else { "Action" }.into(),
                    action,
                );
                s.insert("Resource".into(), resource);
                if let Some(c) = condition {
                    s.insert("Condition".into(), c);
                }
                Value::Object(s)
            },
        )
}

fn arb_policy() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(arb_statement(), 1..8),
        any::<bool>(),
        proptest::option::of("[a-z-]{1,10}"),
    )
        .prop_map(|(stmts, single, id)| {
            let mut doc = Map::new();
            doc.insert("Version".into(), json!("2012-10-17"));
            if let Some(id) = id {
                doc.insert("Id".into(), json!(id));
            }
            let statement = if single && stmts.len() == 1 {
                stmts[0].clone()
            } else {
                json!(stmts)
            };
            doc.insert("Statement".into(), statement);
            Value::Object(doc)
        })
}

fn statement_list(doc: &Value) -> Vec<Value> {
    match &doc["Statement"] {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn merge_keeps_every_statement_is_idempotent_and_complies(policy in arb_policy(), min_tls in proptest::option::of(Just("1.2"))) {
        let r = Requirement::new("bkt", "aws", min_tls);
        let text = policy.to_string();
        let before = statement_list(&policy);
        match merge(Some(&text), &r).unwrap() {
            Merge::Unchanged => {
                prop_assert!(eval_text(&text, &r).compliant());
            }
            Merge::Updated { document, added } => {
                let after: Value = serde_json::from_str(&document).unwrap();
                let after_list = statement_list(&after);
                // every original statement, unchanged and in order, then only ours
                prop_assert_eq!(&after_list[..before.len()], &before[..]);
                prop_assert_eq!(after_list.len(), before.len() + added.len());
                prop_assert!(!added.is_empty());
                prop_assert_eq!(&after["Version"], &policy["Version"]);
                prop_assert_eq!(&after["Id"], &policy["Id"]);
                // Sids stay unique among the statements that have one
                let sids: Vec<&str> = after_list.iter().filter_map(|s| s["Sid"].as_str()).collect();
                let mut dedup = sids.clone();
                dedup.sort_unstable();
                dedup.dedup();
                let orig_sids: Vec<&str> = before.iter().filter_map(|s| s["Sid"].as_str()).collect();
                let mut orig_dedup = orig_sids.clone();
                orig_dedup.sort_unstable();
                orig_dedup.dedup();
                prop_assert_eq!(sids.len() - dedup.len(), orig_sids.len() - orig_dedup.len());
                // the result complies, and merging again changes nothing
                prop_assert!(eval_text(&document, &r).compliant());
                prop_assert_eq!(merge(Some(&document), &r).unwrap(), Merge::Unchanged);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Near S3's 20 KB limit the merge either fits or refuses; it never produces a
    /// document S3 would reject, and it never truncates what was there.
    #[test]
    fn merge_stays_under_the_size_limit_or_refuses(policy in arb_policy(), pad in 0usize..22_000) {
        let mut policy = policy;
        let filler = json!({"Sid": "Padding", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::bkt/public/*", "Condition": {"StringLike": {"aws:Referer": "x".repeat(pad)}}});
        let mut stmts = statement_list(&policy);
        stmts.push(filler);
        policy["Statement"] = json!(stmts);
        let text = policy.to_string();
        match merge(Some(&text), &req()) {
            Ok(Merge::Updated { document, .. }) => {
                prop_assert!(document.len() <= MAX_POLICY_BYTES);
                let after: Value = serde_json::from_str(&document).unwrap();
                prop_assert_eq!(&statement_list(&after)[..stmts.len()], &stmts[..]);
            }
            Ok(Merge::Unchanged) => prop_assert!(eval_text(&text, &req()).compliant()),
            Err(PolicyError::TooLarge { bytes }) => prop_assert!(bytes > MAX_POLICY_BYTES),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}
