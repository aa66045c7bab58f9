//! The rule table, case by case: every dependent of the issue, with `aws/s3`, with a
//! customer key whose policy covers it, and with one whose policy does not.
#![allow(clippy::unwrap_used)]

use super::rules::{self, Context, KeyChange};
use super::*;
use crate::config::PublicAccess;
use serde_json::json;

const OWN: &str = "123456789012";
const PARTNER: &str = "444455556666";
const BUCKET: &str = "arn:aws:s3:::acme-rekognition-out";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1111";

fn doc(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn policy_of(statements: Value) -> Map<String, Value> {
    doc(json!({"Version": "2012-10-17", "Statement": statements}))
}

fn allow(principal: Value, action: Value) -> Value {
    json!({"Sid": "S", "Effect": "Allow", "Principal": principal, "Action": action,
           "Resource": [BUCKET, format!("{BUCKET}/*")]})
}

fn deps(
    policy: Option<&Map<String, Value>>,
    acl: Option<&Acl>,
    repl: Option<&Replication>,
    website: bool,
    users: &[String],
) -> Vec<Dependent> {
    analyse(&Usage {
        account: OWN,
        policy,
        acl,
        replication: repl,
        website,
        users,
    })
}

fn ctx(dependents: &[Dependent], console: bool, mode: PublicAccess) -> Context<'_> {
    Context {
        dependents,
        bucket_arn: BUCKET,
        bucket_account: OWN,
        console,
        public_access: mode,
    }
}

/// A key policy: root delegation of this account plus `extra` statements.
fn key_policy(extra: Vec<Value>) -> Map<String, Value> {
    let mut statements = vec![json!({"Sid": "Root", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{OWN}:root")}, "Action": "kms:*", "Resource": "*"})];
    statements.extend(extra);
    policy_of(Value::Array(statements))
}

fn grant_to(principal: Value, actions: Value) -> Value {
    json!({"Sid": "Grant", "Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*"})
}

/// (case, dependents, covering key policy, want (aws/s3, covering key, uncovering key)).
type Case<'a> = (
    &'a str,
    Vec<Dependent>,
    &'a Map<String, Value>,
    (bool, bool, bool),
);

/// (aws/s3 verdict, covering-key verdict, uncovering-key verdict) for the dependents.
fn encryption_verdicts(d: &[Dependent], covering: &Map<String, Value>) -> (bool, bool, bool) {
    let c = ctx(d, false, PublicAccess::Hold);
    let uncovering = key_policy(vec![]);
    (
        rules::encryption(&c, KeyChange::AwsManaged).is_ok(),
        rules::encryption(
            &c,
            KeyChange::Customer {
                arn: KEY,
                policy: Ok(covering),
            },
        )
        .is_ok(),
        rules::encryption(
            &c,
            KeyChange::Customer {
                arn: KEY,
                policy: Ok(&uncovering),
            },
        )
        .is_ok(),
    )
}

#[test]
fn every_dependent_with_each_key() {
    let partner_read = policy_of(json!([allow(
        json!({"AWS": format!("arn:aws:iam::{PARTNER}:root")}),
        json!("s3:GetObject")
    )]));
    let partner_key = key_policy(vec![grant_to(
        json!({"AWS": format!("arn:aws:iam::{PARTNER}:root")}),
        json!(["kms:Decrypt"]),
    )]);
    let log_target = policy_of(json!([allow(
        json!({"Service": "logging.s3.amazonaws.com"}),
        json!("s3:PutObject")
    )]));
    let log_key = key_policy(vec![grant_to(
        json!({"Service": "logging.s3.amazonaws.com"}),
        json!("kms:*"),
    )]);
    let oac = policy_of(
        json!([{"Sid": "OAC", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject", "Resource": format!("{BUCKET}/*"),
        "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}}}]),
    );
    let oac_key = key_policy(vec![
        json!({"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}}}),
    ]);
    let oai = policy_of(json!([allow(
        json!({"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2ABC"}),
        json!("s3:GetObject")
    )]));
    let rekognition = policy_of(json!([allow(
        json!({"Service": "rekognition.amazonaws.com"}),
        json!(["s3:GetObject", "s3:PutObject"])
    )]));
    let rek_key = key_policy(vec![grant_to(
        json!({"Service": "rekognition.amazonaws.com"}),
        json!(["kms:Decrypt", "kms:GenerateDataKey*"]),
    )]);
    let elb = policy_of(json!([allow(
        json!({"AWS": "arn:aws:iam::127311923021:root"}),
        json!("s3:PutObject")
    )]));
    let org = policy_of(
        json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("{BUCKET}/*"),
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}]),
    );
    let org_key = key_policy(vec![
        json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}),
    ]);
    let own_role = policy_of(json!([allow(
        json!({"AWS": format!("arn:aws:iam::{OWN}:role/analytics")}),
        json!("s3:GetObject")
    )]));
    let repl_off = Replication {
        role: format!("arn:aws:iam::{OWN}:role/repl"),
        rules: vec![(true, false)],
    };
    let repl_on = Replication {
        role: format!("arn:aws:iam::{OWN}:role/repl"),
        rules: vec![(true, true)],
    };
    let empty = key_policy(vec![]);

    // (case, dependents, covering key policy, want (aws/s3, covering key, uncovering key))
    let cases: Vec<Case> = vec![
        (
            "no dependents",
            deps(None, None, None, false, &[]),
            &empty,
            (true, true, true),
        ),
        (
            "own role in the policy",
            deps(Some(&own_role), None, None, false, &[]),
            &empty,
            (true, true, true),
        ),
        (
            "partner account reads",
            deps(Some(&partner_read), None, None, false, &[]),
            &partner_key,
            (false, true, false),
        ),
        (
            "server access log target",
            deps(Some(&log_target), None, None, false, &[]),
            &log_key,
            (false, false, false),
        ),
        (
            "CloudFront OAC",
            deps(Some(&oac), None, None, false, &[]),
            &oac_key,
            (false, true, false),
        ),
        (
            "CloudFront OAI",
            deps(Some(&oai), None, None, false, &[]),
            &empty,
            (false, false, false),
        ),
        (
            "rekognition.amazonaws.com",
            deps(Some(&rekognition), None, None, false, &[]),
            &rek_key,
            (false, true, false),
        ),
        (
            "ELB log delivery account",
            deps(Some(&elb), None, None, false, &[]),
            &empty,
            (false, false, false),
        ),
        (
            "organization readers",
            deps(Some(&org), None, None, false, &[]),
            &org_key,
            (false, true, false),
        ),
        (
            "replication without SSE-KMS objects",
            deps(None, None, Some(&repl_off), false, &[]),
            &empty,
            (false, false, false),
        ),
        (
            "replication with SSE-KMS objects",
            deps(None, None, Some(&repl_on), false, &[]),
            &empty,
            (true, true, true),
        ),
        (
            "website",
            deps(None, None, None, true, &[]),
            &empty,
            (false, false, false),
        ),
    ];
    for (name, d, covering, want) in cases {
        assert_eq!(encryption_verdicts(&d, covering), want, "{name}: {d:?}");
    }
}

#[test]
fn the_held_text_names_the_dependent_what_breaks_and_the_safe_path() {
    let partner_read = policy_of(json!([allow(
        json!({"AWS": PARTNER}),
        json!("s3:GetObject")
    )]));
    let d = deps(Some(&partner_read), None, None, false, &[]);
    let c = ctx(&d, false, PublicAccess::Hold);
    let why = rules::encryption(&c, KeyChange::AwsManaged).unwrap_err();
    assert!(why.starts_with("held, nothing written"), "{why}");
    assert!(why.contains("account 444455556666"), "{why}");
    assert!(
        why.contains("serves only principals of its own account"),
        "{why}"
    );
    assert!(why.contains("GUARD_KMS_KEY_ID"), "{why}");
    let empty = key_policy(vec![]);
    let why = rules::encryption(
        &c,
        KeyChange::Customer {
            arn: KEY,
            policy: Ok(&empty),
        },
    )
    .unwrap_err();
    assert!(
        why.contains(&format!("grant kms:Decrypt on {KEY} to account {PARTNER}")),
        "{why}"
    );
    let why = rules::encryption(
        &c,
        KeyChange::Customer {
            arn: KEY,
            policy: Err("AccessDeniedException"),
        },
    )
    .unwrap_err();
    assert!(
        why.contains("could not be read (AccessDeniedException)"),
        "{why}"
    );
}

#[test]
fn a_fix_that_keeps_the_key_is_always_safe() {
    let d = deps(None, None, None, true, &[]);
    assert!(rules::encryption(&ctx(&d, false, PublicAccess::Hold), KeyChange::Same).is_ok());
}

#[test]
fn rekognition_callers_need_the_key_policy_not_aws_s3() {
    let caller = format!("arn:aws:iam::{OWN}:role/ml-team/trainer");
    let users = vec![caller.clone()];
    let d = deps(None, None, None, false, &users);
    assert_eq!(d[0].access, Access::BOTH);
    let c = ctx(&d, false, PublicAccess::Hold);
    assert!(
        rules::encryption(&c, KeyChange::AwsManaged).is_ok(),
        "same account: aws/s3 serves it"
    );
    // A key policy without the root delegation that names another role only.
    let other_only = policy_of(json!([grant_to(
        json!({"AWS": format!("arn:aws:iam::{OWN}:role/admin")}),
        json!("kms:*")
    )]));
    let why = rules::encryption(
        &c,
        KeyChange::Customer {
            arn: KEY,
            policy: Ok(&other_only),
        },
    )
    .unwrap_err();
    assert!(why.contains("kms:GenerateDataKey and kms:Decrypt"), "{why}");
    assert!(why.contains(&caller), "{why}");
    // Named by ARN, or as the role behind its session.
    let named = policy_of(json!([grant_to(
        json!({"AWS": caller}),
        json!(["kms:Decrypt", "kms:GenerateDataKey"])
    )]));
    assert!(
        rules::encryption(
            &c,
            KeyChange::Customer {
                arn: KEY,
                policy: Ok(&named)
            }
        )
        .is_ok()
    );
    let session = vec![format!("arn:aws:sts::{OWN}:assumed-role/trainer/session-1")];
    let d = deps(None, None, None, false, &session);
    let c = ctx(&d, false, PublicAccess::Hold);
    assert!(
        rules::encryption(
            &c,
            KeyChange::Customer {
                arn: KEY,
                policy: Ok(&named)
            }
        )
        .is_ok()
    );
    // Root delegation covers every principal of the account.
    assert!(
        rules::encryption(
            &c,
            KeyChange::Customer {
                arn: KEY,
                policy: Ok(&key_policy(vec![]))
            }
        )
        .is_ok()
    );
}

#[test]
fn key_policy_conditions_are_counted_only_when_decided() {
    let partner_read = policy_of(json!([allow(
        json!({"AWS": PARTNER}),
        json!("s3:GetObject")
    )]));
    let d = deps(Some(&partner_read), None, None, false, &[]);
    let c = ctx(&d, false, PublicAccess::Hold);
    let check = |statements: Vec<Value>| {
        let p = policy_of(Value::Array(statements));
        rules::encryption(
            &c,
            KeyChange::Customer {
                arn: KEY,
                policy: Ok(&p),
            },
        )
        .is_ok()
    };
    let via_s3 = json!({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:CallerAccount": PARTNER}});
    assert!(check(vec![
        json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*", "Condition": via_s3})
    ]));
    // `*` with only kms:ViaService names nobody in particular: not counted for a partner.
    assert!(!check(vec![
        json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})
    ]));
    // An undecidable condition is not counted.
    assert!(!check(vec![
        json!({"Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
    ]));
    // An unconditional Deny takes it away.
    assert!(!check(vec![
        json!({"Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "kms:*", "Resource": "*"}),
        json!({"Effect": "Deny", "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")}, "Action": "kms:Decrypt", "Resource": "*"}),
    ]));
    // NotAction grants what it does not list.
    assert!(check(vec![
        json!({"Effect": "Allow", "Principal": {"AWS": PARTNER}, "NotAction": "kms:ScheduleKeyDeletion", "Resource": "*"})
    ]));
}

#[test]
fn public_and_website_buckets_hold_block_public_access_and_tls_unless_block_or_console() {
    let public_read = policy_of(json!([allow(json!("*"), json!("s3:GetObject"))]));
    for (policy, website) in [(Some(&public_read), false), (None, true)] {
        let d = deps(policy, None, None, website, &[]);
        let hold = ctx(&d, false, PublicAccess::Hold);
        let why = rules::public_access_block(&hold, &[]).unwrap_err();
        assert!(
            why.contains("public bucket holding Rekognition data"),
            "{why}"
        );
        assert!(rules::tls_only(&hold).is_err());
        assert!(
            rules::encryption(&hold, KeyChange::AwsManaged).is_err(),
            "anonymous readers cannot use KMS"
        );
        for cut in [
            ctx(&d, false, PublicAccess::Block),
            ctx(&d, true, PublicAccess::Hold),
        ] {
            assert!(rules::public_access_block(&cut, &[]).is_ok());
            assert!(rules::tls_only(&cut).is_ok());
            assert!(rules::encryption(&cut, KeyChange::AwsManaged).is_ok());
        }
    }
    let d = deps(None, None, None, true, &[]);
    assert!(
        rules::tls_only(&ctx(&d, false, PublicAccess::Hold))
            .unwrap_err()
            .contains("plain HTTP only")
    );
}

#[test]
fn restrict_public_buckets_cutting_a_partner_is_predicted() {
    let both = policy_of(json!([
        allow(json!("*"), json!("s3:GetObject")),
        allow(json!({"AWS": PARTNER}), json!("s3:PutObject")),
    ]));
    let d = deps(Some(&both), None, None, false, &[]);
    let public = public::public_statements(&both);
    let note = rules::public_access_block(&ctx(&d, false, PublicAccess::Block), &public)
        .unwrap()
        .unwrap();
    assert!(
        note.contains("RestrictPublicBuckets also cuts account 444455556666"),
        "{note}"
    );
    let held =
        rules::public_access_block(&ctx(&d, false, PublicAccess::Hold), &public).unwrap_err();
    assert!(held.contains("RestrictPublicBuckets"), "{held}");
    // Without a public statement nothing is cut besides.
    let partner = policy_of(json!([allow(
        json!({"AWS": PARTNER}),
        json!("s3:PutObject")
    )]));
    let d = deps(Some(&partner), None, None, false, &[]);
    assert_eq!(
        rules::public_access_block(&ctx(&d, false, PublicAccess::Hold), &[]),
        Ok(None)
    );
}

#[test]
fn acl_grants() {
    let grant = |grantee, permission: &str| Grant {
        grantee,
        permission: permission.into(),
    };
    let acl = Acl {
        owner: Some("owner-id".into()),
        grants: vec![
            grant(Grantee::CanonicalUser("owner-id".into()), "FULL_CONTROL"),
            grant(Grantee::CanonicalUser("partner-id".into()), "READ"),
            grant(Grantee::Group(LOG_DELIVERY.into()), "WRITE"),
            grant(Grantee::Group(ALL_USERS.into()), "READ"),
            grant(Grantee::CanonicalUser("x".into()), "READ_ACP"),
        ],
    };
    let d = deps(None, Some(&acl), None, false, &[]);
    let whos: Vec<&Who> = d.iter().map(|d| &d.who).collect();
    assert_eq!(
        whos,
        vec![
            &Who::CanonicalUser {
                id: "partner-id".into()
            },
            &Who::LogDeliveryGroup,
            &Who::Public
        ]
    );
    assert!(
        rules::encryption(&ctx(&d, true, PublicAccess::Hold), KeyChange::AwsManaged).is_err(),
        "the log group still holds it"
    );
}

#[test]
fn wildcard_principals_narrowed_by_conditions() {
    let with = |cond: Value| {
        let p = policy_of(
            json!([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
            "Resource": format!("{BUCKET}/*"), "Condition": cond}]),
        );
        deps(Some(&p), None, None, false, &[])
            .into_iter()
            .map(|d| d.who)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        with(json!({"StringEquals": {"aws:PrincipalAccount": [OWN, PARTNER]}})),
        vec![
            Who::OwnPrincipal {
                principal: OWN.into()
            },
            Who::Account {
                account: PARTNER.into(),
                principal: PARTNER.into()
            }
        ]
    );
    assert_eq!(
        with(json!({"StringEquals": {"aws:PrincipalOrgID": "o-1"}})),
        vec![Who::Organization {
            org_id: "o-1".into()
        }]
    );
    assert!(
        matches!(&with(json!({"StringEquals": {"aws:SourceVpce": "vpce-1"}}))[0], Who::Conditional { condition } if condition.contains("vpce-1"))
    );
    // Not fixed: a wildcard value, a negated operator, IfExists, a /0 range.
    for cond in [
        json!({"StringLike": {"aws:PrincipalAccount": "4444*"}}),
        json!({"StringNotEquals": {"aws:PrincipalAccount": OWN}}),
        json!({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}),
        json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}),
    ] {
        assert_eq!(with(cond.clone()), vec![Who::Public], "{cond}");
    }
}

#[test]
fn public_statements_follow_s3s_meaning_of_public() {
    let cases = [
        (
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}),
            true,
        ),
        (
            json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject"}),
            true,
        ),
        (
            json!({"Effect": "Allow", "NotPrincipal": {"AWS": PARTNER}, "Action": "s3:GetObject"}),
            true,
        ),
        (
            json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*"}),
            false,
        ),
        (
            json!({"Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "s3:GetObject"}),
            false,
        ),
        (
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}),
            false,
        ),
        (
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}),
            false,
        ),
        (
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"StringLike": {"aws:userid": "AROAEXAMPLE:*"}}}),
            true,
        ),
        (
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}),
            true,
        ),
    ];
    for (statement, want) in cases {
        assert_eq!(
            public::is_public_statement(statement.as_object().unwrap()),
            want,
            "{statement}"
        );
    }
}

#[test]
fn unique_ids_and_accounts() {
    assert!(is_unique_id("AROA1234567890EXAMPLE"));
    assert!(is_unique_id("AIDAJQABLZS4A3QDU576Q"));
    assert!(!is_unique_id("arn:aws:iam::123456789012:role/x"));
    assert!(!is_unique_id("AROA"));
    assert_eq!(
        principal_account("arn:aws:iam::444455556666:role/a/b"),
        Some(PARTNER)
    );
    assert_eq!(
        principal_account("arn:aws:sts::444455556666:assumed-role/a/s"),
        Some(PARTNER)
    );
    assert_eq!(principal_account(PARTNER), Some(PARTNER));
    assert_eq!(principal_account("arn:aws:s3:::bucket"), None);
    // A deleted principal depends on nothing.
    let stale = policy_of(json!([allow(
        json!({"AWS": "AROA1234567890EXAMPLE"}),
        json!("s3:GetObject")
    )]));
    assert!(deps(Some(&stale), None, None, false, &[]).is_empty());
}

#[test]
fn a_key_of_another_account_must_serve_the_buckets_own_account() {
    let guard_key = "arn:aws:kms:us-east-1:999988887777:key/guard";
    assert_eq!(key_account(guard_key), Some("999988887777"));
    assert_eq!(key_account("alias/rekognition-guard"), None);
    assert!(
        own_account(OWN, KEY).is_none(),
        "a key of the bucket's own account"
    );
    let mut d = deps(None, None, None, false, &[]);
    d.push(own_account(OWN, guard_key).unwrap());
    let c = ctx(&d, false, PublicAccess::Hold);
    let guard_only = policy_of(json!([grant_to(
        json!({"AWS": "arn:aws:iam::999988887777:root"}),
        json!("kms:*")
    )]));
    let why = rules::encryption(
        &c,
        KeyChange::Customer {
            arn: guard_key,
            policy: Ok(&guard_only),
        },
    )
    .unwrap_err();
    assert!(
        why.contains(&format!("account {OWN}"))
            && why.contains("the key is in account 999988887777"),
        "{why}"
    );
    let serves = policy_of(json!([grant_to(
        json!({"AWS": format!("arn:aws:iam::{OWN}:root")}),
        json!(["kms:Decrypt", "kms:GenerateDataKey*"])
    )]));
    assert!(
        rules::encryption(
            &c,
            KeyChange::Customer {
                arn: guard_key,
                policy: Ok(&serves)
            }
        )
        .is_ok()
    );
}
