use super::*;
use proptest::prelude::*;
use serde_json::json;

fn level(kind: TargetKind, id: &str, policies: &[Value]) -> Level {
    Level {
        target_id: id.to_owned(),
        kind,
        policies: policies
            .iter()
            .enumerate()
            .map(|(i, content)| AttachedPolicy {
                id: format!("p-{id}-{i}"),
                content: match content {
                    Value::String(raw) => raw.clone(),
                    other => other.to_string(),
                },
            })
            .collect(),
    }
}

fn root(policies: &[Value]) -> Level {
    level(TargetKind::Root, "r-ab12", policies)
}

fn ou(id: &str, policies: &[Value]) -> Level {
    level(TargetKind::OrganizationalUnit, id, policies)
}

fn account(policies: &[Value]) -> Level {
    level(TargetKind::Account, "111122223333", policies)
}

fn assign(value: &str) -> Value {
    json!({ "opt_out_policy": { "@@assign": value } })
}

fn locked_assign(value: &str) -> Value {
    json!({ "opt_out_policy": {
            "@@operators_allowed_for_child_policies": ["@@none"],
            "@@assign": value } })
}

/// AWS's "opt out of all AI services" example: everything locked at the root.
fn aws_lock_everything() -> Value {
    json!({ "services": {
            "@@operators_allowed_for_child_policies": ["@@none"],
            "default": {
                "@@operators_allowed_for_child_policies": ["@@none"],
                "opt_out_policy": {
                    "@@operators_allowed_for_child_policies": ["@@none"],
                    "@@assign": "optOut" } } } })
}

/// AWS's "organization-wide default, children may override per service" example.
fn aws_lock_default_only() -> Value {
    json!({ "services": {
            "default": {
                "@@operators_allowed_for_child_policies": ["@@none"],
                "opt_out_policy": {
                    "@@operators_allowed_for_child_policies": ["@@none"],
                    "@@assign": "optOut" } } } })
}

/// AWS's syntax example for a root: default out, Comprehend locked out, Rekognition in.
fn aws_root_with_exemption() -> Value {
    json!({ "services": {
            "default": assign("optOut"),
            "comprehend": locked_assign("optOut"),
            "rekognition": assign("optIn") } })
}

/// (service, expected setting, decided by, expected `child_can_opt_in`)
type Expect = (
    &'static str,
    Option<Setting>,
    Option<DecidedBy>,
    Option<bool>,
);

struct Case {
    name: &'static str,
    levels: Vec<Level>,
    expect: Vec<Expect>,
    ignored: usize,
    conflicts: usize,
    problems: usize,
}

use DecidedBy::{Default as Dflt, Service as Svc};
use Setting::{OptIn, OptOut};

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "AWS basic syntax example attached to the account only",
            levels: vec![
                root(&[]),
                account(&[json!({ "services": {
                        "rekognition": assign("optOut"), "lex": assign("optIn") } })]),
            ],
            expect: vec![
                ("rekognition", Some(OptOut), Some(Svc), Some(true)),
                ("lex", Some(OptIn), Some(Svc), Some(true)),
                ("comprehend", None, None, Some(true)),
            ],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "AWS root example: default out, Comprehend locked, Rekognition exempted (in)",
            levels: vec![root(&[aws_root_with_exemption()]), account(&[])],
            expect: vec![
                ("rekognition", Some(OptIn), Some(Svc), Some(true)),
                ("comprehend", Some(OptOut), Some(Svc), Some(false)),
                ("lex", Some(OptOut), Some(Dflt), Some(true)),
            ],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "AWS root example, the account tries to opt in to the locked Comprehend",
            levels: vec![
                root(&[aws_root_with_exemption()]),
                account(&[json!({ "services": { "comprehend": assign("optIn") } })]),
            ],
            expect: vec![("comprehend", Some(OptOut), Some(Svc), Some(false))],
            ignored: 1,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "AWS root example, the account opts Rekognition back out",
            levels: vec![
                root(&[aws_root_with_exemption()]),
                account(&[json!({ "services": { "rekognition": assign("optOut") } })]),
            ],
            expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(true))],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "AWS example 1: everything locked at the root, an OU tries to opt in",
            levels: vec![
                root(&[aws_lock_everything()]),
                ou(
                    "ou-ab12-11111111",
                    &[json!({ "services": { "rekognition": assign("optIn"),
                                                "default": assign("optIn") } })],
                ),
                account(&[]),
            ],
            expect: vec![
                ("rekognition", Some(OptOut), Some(Dflt), Some(false)),
                ("lex", Some(OptOut), Some(Dflt), Some(false)),
            ],
            ignored: 2,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "AWS example 2: default locked only, the account opts in to Lex",
            levels: vec![
                root(&[aws_lock_default_only()]),
                account(&[json!({ "services": { "lex": assign("optIn") } })]),
            ],
            expect: vec![
                ("lex", Some(OptIn), Some(Svc), Some(true)),
                ("rekognition", Some(OptOut), Some(Dflt), Some(true)),
            ],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "root locks Rekognition's value, an OU tries to opt in",
            levels: vec![
                root(&[json!({ "services": { "rekognition": locked_assign("optOut") } })]),
                ou(
                    "ou-ab12-11111111",
                    &[json!({ "services": { "rekognition": assign("optIn") } })],
                ),
                account(&[]),
            ],
            expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(false))],
            ignored: 1,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "root locks the Rekognition key, the account tries to opt in",
            levels: vec![
                root(&[json!({ "services": { "rekognition": {
                        "@@operators_allowed_for_child_policies": ["@@none"],
                        "opt_out_policy": { "@@assign": "optOut" } } } })]),
                account(&[json!({ "services": { "rekognition": assign("optIn") } })]),
            ],
            expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(false))],
            ignored: 1,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "unlocked root default out, account-level override opts Rekognition in",
            levels: vec![
                root(&[json!({ "services": { "default": assign("optOut") } })]),
                account(&[json!({ "services": { "rekognition": assign("optIn") } })]),
            ],
            expect: vec![
                ("rekognition", Some(OptIn), Some(Svc), Some(true)),
                ("lex", Some(OptOut), Some(Dflt), Some(true)),
            ],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "unlocked root opts in, the account overrides to opt out",
            levels: vec![
                root(&[json!({ "services": { "default": assign("optIn") } })]),
                account(&[json!({ "services": { "rekognition": assign("optOut") } })]),
            ],
            expect: vec![
                ("rekognition", Some(OptOut), Some(Svc), Some(true)),
                ("lex", Some(OptIn), Some(Dflt), Some(true)),
            ],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "two policies on one OU disagree: counted as optIn, reported",
            levels: vec![
                root(&[]),
                ou(
                    "ou-ab12-11111111",
                    &[
                        json!({ "services": { "rekognition": assign("optOut") } }),
                        json!({ "services": { "rekognition": assign("optIn") } }),
                    ],
                ),
                account(&[]),
            ],
            expect: vec![("rekognition", Some(OptIn), Some(Svc), Some(true))],
            ignored: 0,
            conflicts: 1,
            problems: 0,
        },
        Case {
            name: "two policies on one OU agree: no conflict",
            levels: vec![
                root(&[]),
                ou(
                    "ou-ab12-11111111",
                    &[
                        json!({ "services": { "rekognition": assign("optOut") } }),
                        json!({ "services": { "rekognition": assign("optOut"),
                                                  "default": assign("optIn") } }),
                    ],
                ),
                account(&[]),
            ],
            expect: vec![
                ("rekognition", Some(OptOut), Some(Svc), Some(true)),
                ("lex", Some(OptIn), Some(Dflt), Some(true)),
            ],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "nested OUs disagree: the lower OU wins while nothing locks",
            levels: vec![
                root(&[]),
                ou(
                    "ou-ab12-11111111",
                    &[json!({ "services": { "rekognition": assign("optOut") } })],
                ),
                ou(
                    "ou-ab12-22222222",
                    &[json!({ "services": { "rekognition": assign("optIn") } })],
                ),
                account(&[]),
            ],
            expect: vec![("rekognition", Some(OptIn), Some(Svc), Some(true))],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "nested OUs: the upper OU locks services, the lower OU's opt-in is ignored",
            levels: vec![
                root(&[json!({ "services": { "default": assign("optIn") } })]),
                ou(
                    "ou-ab12-11111111",
                    &[json!({ "services": {
                            "@@operators_allowed_for_child_policies": ["@@none"],
                            "rekognition": assign("optOut") } })],
                ),
                ou(
                    "ou-ab12-22222222",
                    &[json!({ "services": { "rekognition": assign("optIn") } })],
                ),
                account(&[json!({ "services": { "lex": assign("optOut") } })]),
            ],
            expect: vec![
                ("rekognition", Some(OptOut), Some(Svc), Some(false)),
                ("lex", Some(OptIn), Some(Dflt), Some(false)),
            ],
            ignored: 2,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "a child cannot unlock: an OU re-allows @@assign under a root lock",
            levels: vec![
                root(&[json!({ "services": { "rekognition": locked_assign("optOut") } })]),
                ou(
                    "ou-ab12-11111111",
                    &[json!({ "services": { "rekognition": { "opt_out_policy": {
                            "@@operators_allowed_for_child_policies": ["@@assign"],
                            "@@assign": "optIn" } } } })],
                ),
                account(&[json!({ "services": { "rekognition": assign("optIn") } })]),
            ],
            expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(false))],
            ignored: 2,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "a lock in the account's own policy does not stop another account policy",
            levels: vec![
                root(&[json!({ "services": { "default": assign("optOut") } })]),
                account(&[json!({ "services": { "rekognition": locked_assign("optOut") } })]),
            ],
            expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(true))],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "no policy anywhere: nothing applies",
            levels: vec![root(&[]), ou("ou-ab12-11111111", &[]), account(&[])],
            expect: vec![("rekognition", None, None, Some(true))],
            ignored: 0,
            conflicts: 0,
            problems: 0,
        },
        Case {
            name: "invalid JSON is reported and ignored; the valid policy still applies",
            levels: vec![
                root(&[
                    Value::String("{ not json".into()),
                    json!({ "services": { "default": assign("optOut") } }),
                ]),
                account(&[]),
            ],
            expect: vec![("rekognition", Some(OptOut), Some(Dflt), Some(true))],
            ignored: 0,
            conflicts: 0,
            problems: 1,
        },
        Case {
            name: "wrong capitalisation, a plain value and @@append are reported, not applied",
            levels: vec![
                root(&[json!({ "services": {
                        "default": assign("OptOut"),
                        "rekognition": { "opt_out_policy": "optOut" },
                        "lex": { "opt_out_policy": { "@@append": "optOut" } } } })]),
                account(&[]),
            ],
            expect: vec![
                ("rekognition", None, None, Some(true)),
                ("lex", None, None, Some(true)),
            ],
            ignored: 0,
            conflicts: 0,
            problems: 3,
        },
        Case {
            name: "an invalid lock locks nothing, so the account's opt-in stands",
            levels: vec![
                root(&[json!({ "services": { "rekognition": { "opt_out_policy": {
                        "@@operators_allowed_for_child_policies": ["@@nothing"],
                        "@@assign": "optOut" } } } })]),
                account(&[json!({ "services": { "rekognition": assign("optIn") } })]),
            ],
            expect: vec![("rekognition", Some(OptIn), Some(Svc), Some(true))],
            ignored: 0,
            conflicts: 0,
            problems: 1,
        },
        Case {
            name: "wrong shapes everywhere: reported, never a panic",
            levels: vec![
                root(&[
                    json!([1, 2, 3]),
                    json!({ "services": [] }),
                    json!({ "service": {} }),
                    json!({ "services": {
                            "@@assign": "optOut",
                            "rekognition": "optOut",
                            "lex": { "opt_out_policy": 7, "extra": true },
                            "default": { "opt_out_policy": { "@@assign": ["optOut"] } } } }),
                ]),
                account(&[json!(null)]),
            ],
            expect: vec![("rekognition", None, None, Some(true))],
            ignored: 0,
            conflicts: 0,
            // array root, services not an object, unknown `service` + missing `services`,
            // misplaced @@assign, rekognition not an object, bad lex value, unknown
            // `extra`, bad default value, null root.
            problems: 10,
        },
    ]
}

#[test]
fn hierarchy_table() {
    let cases = cases();
    assert!(cases.len() >= 15);
    for case in cases {
        let effective = merge(&case.levels);
        for (service, setting, decided_by, child) in &case.expect {
            let verdict = effective.verdict(service);
            assert_eq!(
                verdict.setting, *setting,
                "{}: {service} setting",
                case.name
            );
            assert_eq!(
                verdict.decided_by, *decided_by,
                "{}: {service} from",
                case.name
            );
            assert_eq!(
                verdict.child_can_opt_in, *child,
                "{}: {service} child",
                case.name
            );
        }
        assert_eq!(
            effective.ignored.len(),
            case.ignored,
            "{}: ignored {:?}",
            case.name,
            effective.ignored
        );
        assert_eq!(
            effective.conflicts.len(),
            case.conflicts,
            "{}: conflicts {:?}",
            case.name,
            effective.conflicts
        );
        assert_eq!(
            effective.problems.len(),
            case.problems,
            "{}: problems {:#?}",
            case.name,
            effective.problems
        );
    }
}

#[test]
fn ignored_change_names_the_lock_and_its_policy() {
    let effective = merge(&[
        root(&[aws_lock_everything()]),
        ou(
            "ou-ab12-11111111",
            &[json!({ "services": { "rekognition": assign("optIn") } })],
        ),
    ]);
    let text = effective.ignored[0].to_string();
    assert_eq!(
        text,
        "policy p-ou-ab12-11111111-0 on ou-ab12-11111111 sets rekognition to optIn, \
             ignored: policy p-r-ab12-0 on r-ab12 locks services"
    );
}

#[test]
fn verdict_names_the_policy_that_set_the_value() {
    let effective = merge(&[
        root(&[aws_lock_default_only()]),
        account(&[json!({ "services": { "lex": assign("optIn") } })]),
    ]);
    let verdict = effective.verdict("rekognition");
    assert_eq!(
        verdict.origin.map(|o| o.to_string()).as_deref(),
        Some("policy p-r-ab12-0 on r-ab12")
    );
}

#[test]
fn conflict_is_described() {
    let effective = merge(&[ou(
        "ou-ab12-11111111",
        &[
            json!({ "services": { "rekognition": assign("optIn") } }),
            json!({ "services": { "rekognition": assign("optOut") } }),
        ],
    )]);
    assert_eq!(effective.verdict("rekognition").setting, Some(OptIn));
    assert_eq!(
        effective.conflicts[0].to_string(),
        "policies on ou-ab12-11111111 disagree on rekognition \
             (p-ou-ab12-11111111-0 optIn, p-ou-ab12-11111111-1 optOut); counted as optIn"
    );
}

#[test]
fn problems_name_policy_and_path() {
    let effective = merge(&[root(&[
        json!({ "services": { "rekognition": assign("optout") } }),
    ])]);
    assert_eq!(
        effective.problems[0].to_string(),
        "policy p-r-ab12-0 on r-ab12: services.rekognition.opt_out_policy.@@assign: \
             \"optout\" is neither \"optOut\" nor \"optIn\" (the values are case-sensitive)"
    );
}

#[test]
fn describe_renders_the_path() {
    let hierarchy = Hierarchy {
        levels: vec![root(&[]), ou("ou-ab12-11111111", &[]), account(&[])],
    };
    assert_eq!(
        hierarchy.describe(),
        "root r-ab12 > ou-ab12-11111111 > account 111122223333"
    );
}

#[test]
fn effective_content_plain_values() {
    // The shape DescribeEffectivePolicy returns: operators resolved, plain values.
    let effective = Effective::from_effective_content(
        r#"{"services":{"default":{"opt_out_policy":"optOut"},"lex":{"opt_out_policy":"optIn"}}}"#,
    );
    assert!(effective.problems.is_empty(), "{:?}", effective.problems);
    let rekognition = effective.verdict("rekognition");
    assert_eq!(rekognition.setting, Some(OptOut));
    assert_eq!(rekognition.decided_by, Some(Dflt));
    assert_eq!(rekognition.origin, Some(Origin::EffectivePolicy));
    assert_eq!(rekognition.child_can_opt_in, None, "locks are not visible");
    assert_eq!(effective.verdict("lex").setting, Some(OptIn));
}

#[test]
fn effective_content_assign_form_and_locks() {
    let effective = Effective::from_effective_content(
        &json!({ "services": {
                "rekognition": { "opt_out_policy": { "@@assign": "optOut" } },
                "default": locked_assign("optIn") } })
        .to_string(),
    );
    assert!(effective.problems.is_empty(), "{:?}", effective.problems);
    let verdict = effective.verdict("rekognition");
    assert_eq!(verdict.setting, Some(OptOut));
    assert_eq!(verdict.decided_by, Some(Svc));
    assert_eq!(verdict.child_can_opt_in, Some(true));
    assert_eq!(effective.verdict("lex").setting, Some(OptIn));

    let locked = Effective::from_effective_content(&aws_lock_everything().to_string());
    assert_eq!(locked.verdict("rekognition").child_can_opt_in, Some(false));
}

#[test]
fn effective_content_invalid() {
    for content in ["", "null", "[]", "{\"services\": 1}", "<html>500</html>"] {
        let effective = Effective::from_effective_content(content);
        assert_eq!(effective.problems.len(), 1, "{content:?}");
        assert_eq!(effective.verdict("rekognition").setting, None);
    }
    // An empty effective policy is valid and sets nothing.
    let empty = Effective::from_effective_content("{}");
    assert!(empty.problems.is_empty());
    assert_eq!(empty.verdict("rekognition").setting, None);
}

#[test]
fn setting_serializes_as_aws_writes_it() {
    assert_eq!(serde_json::to_value(OptOut).ok(), Some(json!("optOut")));
    assert_eq!(serde_json::to_value(OptIn).ok(), Some(json!("optIn")));
}

// --- properties ---------------------------------------------------------------------

const KEYS: [&str; 4] = ["default", "rekognition", "lex", "comprehend"];

fn child_ops() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(None),
        3 => Just(Some(json!(["@@none"]))),
        2 => Just(Some(json!(["@@assign"]))),
        1 => Just(Some(json!(["@@all"]))),
        1 => Just(Some(json!(["@@none", "@@assign"]))),
        1 => Just(Some(json!("@@none"))),
        1 => Just(Some(json!(["@@append"]))),
    ]
}

fn value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        4 => Just(Some(json!("optOut"))),
        4 => Just(Some(json!("optIn"))),
        1 => Just(Some(json!("OPTOUT"))),
        1 => Just(Some(json!(1))),
    ]
}

fn opt_out_node() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => (value(), child_ops()).prop_map(|(value, ops)| {
            let mut node = Map::new();
            if let Some(v) = value { node.insert(ASSIGN.into(), v); }
            if let Some(o) = ops { node.insert(CHILD_OPERATORS.into(), o); }
            Value::Object(node)
        }),
        1 => Just(json!("optOut")),
        1 => Just(json!({ "@@append": "optIn" })),
    ]
}

fn section() -> impl Strategy<Value = Value> {
    prop_oneof![
        9 => (proptest::option::of(opt_out_node()), child_ops()).prop_map(|(node, ops)| {
            let mut section = Map::new();
            if let Some(n) = node { section.insert(OPT_OUT_POLICY.into(), n); }
            if let Some(o) = ops { section.insert(CHILD_OPERATORS.into(), o); }
            Value::Object(section)
        }),
        1 => Just(json!("optIn")),
    ]
}

fn policy_content() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => (child_ops(), proptest::collection::btree_map(
                proptest::sample::select(KEYS.to_vec()), section(), 0..4))
            .prop_map(|(ops, sections)| {
                let mut services = Map::new();
                if let Some(o) = ops { services.insert(CHILD_OPERATORS.into(), o); }
                for (key, section) in sections { services.insert(key.into(), section); }
                json!({ "services": services }).to_string()
            }),
        1 => Just("not json".to_owned()),
        1 => Just("[]".to_owned()),
        1 => ".{0,40}",
    ]
}

fn hierarchy() -> impl Strategy<Value = Vec<Level>> {
    proptest::collection::vec(proptest::collection::vec(policy_content(), 0..3), 1..6).prop_map(
        |levels| {
            let count = levels.len();
            levels
                .into_iter()
                .enumerate()
                .map(|(i, contents)| {
                    let kind = if i == 0 {
                        TargetKind::Root
                    } else if i + 1 == count {
                        TargetKind::Account
                    } else {
                        TargetKind::OrganizationalUnit
                    };
                    Level {
                        target_id: format!("t-{i}"),
                        kind,
                        policies: contents
                            .into_iter()
                            .enumerate()
                            .map(|(j, content)| AttachedPolicy {
                                id: format!("p-{i}-{j}"),
                                content,
                            })
                            .collect(),
                    }
                })
                .collect()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random hierarchies never panic, and a value locked by a level never changes below it.
    #[test]
    fn locked_values_never_change_below_the_lock(levels in hierarchy()) {
        let full = merge(&levels);
        for depth in 1..=levels.len() {
            let above = merge(&levels[..depth]);
            for key in KEYS {
                if above.lock_for(key).is_some() {
                    prop_assert_eq!(
                        full.values.get(key).map(|a| a.value),
                        above.values.get(key).map(|a| a.value),
                        "{} locked after level {} but changed below", key, depth - 1
                    );
                }
            }
        }
        for key in KEYS {
            let verdict = full.verdict(key);
            let expected = full.values.get(key).or_else(|| full.values.get(DEFAULT_SERVICE));
            prop_assert_eq!(verdict.setting, expected.map(|a| a.value));
        }
    }

    /// Arbitrary text never panics either parser.
    #[test]
    fn arbitrary_content_never_panics(content in ".{0,200}") {
        let _ = Effective::from_effective_content(&content);
        let _ = parse_policy(&content, &Origin::EffectivePolicy);
    }
}
