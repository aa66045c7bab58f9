//! Bucket policy documents: parse, decide by meaning whether they deny insecure
//! transport, and merge the missing statement in. Pure: no AWS calls.
//!
//! The merge never rewrites or drops a statement it did not add: every other statement,
//! the `Version` and the `Id` are kept as they were (key order too), and a policy that
//! already denies insecure transport — under any Sid, with `"*"` or `{"AWS": "*"}`,
//! string or boolean `false`, wildcard resources that cover the bucket — is left alone.
//! That is what makes a merge idempotent and keeps concurrent runs from duplicating.

use serde_json::{Map, Value, json};

/// S3's limit on a bucket policy document.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;
pub const TLS_SID: &str = "DenyInsecureTransport";
pub const MIN_TLS_SID: &str = "DenyOutdatedTls";

/// What the policy must deny, for one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub bucket_arn: String,
    /// Without the trailing `*`: `arn:aws:s3:::bucket/`.
    pub objects_prefix: String,
    pub min_tls: Option<String>,
    /// Remove deleted principals' unique ids before writing (`GUARD_DROP_STALE_PRINCIPALS`).
    pub drop_stale_principals: bool,
}

impl Requirement {
    pub fn new(bucket: &str, partition: &str, min_tls: Option<&str>) -> Self {
        let bucket_arn = format!("arn:{partition}:s3:::{bucket}");
        Self {
            objects_prefix: format!("{bucket_arn}/"),
            bucket_arn,
            min_tls: min_tls.map(str::to_owned),
            drop_stale_principals: false,
        }
    }

    pub fn dropping_stale_principals(mut self, drop: bool) -> Self {
        self.drop_stale_principals = drop;
        self
    }
}

/// A deleted role's or user's unique id in a statement's principal (`AROA…`, `AIDA…`):
/// S3 shows it in place of the ARN, and refuses a policy that contains it
/// (`MalformedPolicy: Invalid principal in policy`, S3 User Guide, "Troubleshooting
/// bucket policies"). `statement` is the Sid, or `#n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePrincipal {
    pub statement: String,
    pub id: String,
}

fn statement_name(s: &Map<String, Value>, index: usize) -> String {
    match s.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => sid.to_owned(),
        _ => format!("#{}", index + 1),
    }
}

/// Every unique-id principal of a policy.
pub fn stale_principals(doc: &Map<String, Value>) -> Vec<StalePrincipal> {
    let mut out = Vec::new();
    for (i, s) in statements(doc).unwrap_or_default().iter().enumerate() {
        for field in ["Principal", "NotPrincipal"] {
            let Some(Value::Object(p)) = s.get(field) else {
                continue;
            };
            for id in p.get("AWS").map(strings).unwrap_or_default() {
                if crate::dependents::is_unique_id(id) {
                    out.push(StalePrincipal {
                        statement: statement_name(s, i),
                        id: id.to_owned(),
                    });
                }
            }
        }
    }
    out
}

/// Removes every unique-id principal; a statement left with no principal at all is
/// removed too (it applied to deleted principals only). Returns what was removed, each
/// entry naming the statement, and the Sids of the statements removed whole.
pub fn drop_stale_principals(doc: &mut Map<String, Value>) -> (Vec<StalePrincipal>, Vec<String>) {
    let dropped = stale_principals(doc);
    if dropped.is_empty() {
        return (dropped, Vec::new());
    }
    let mut removed = Vec::new();
    let list = match doc.remove("Statement") {
        Some(Value::Array(items)) => items,
        Some(single) => vec![single],
        None => Vec::new(),
    };
    let mut kept = Vec::new();
    for (i, mut stmt) in list.into_iter().enumerate() {
        let mut empty = false;
        if let Value::Object(s) = &mut stmt {
            let name = statement_name(s, i);
            for field in ["Principal", "NotPrincipal"] {
                let Some(Value::Object(p)) = s.get_mut(field) else {
                    continue;
                };
                let Some(aws) = p.get("AWS").cloned() else {
                    continue;
                };
                let left: Vec<Value> = match aws {
                    Value::Array(items) => items,
                    one => vec![one],
                }
                .into_iter()
                .filter(|v| !v.as_str().is_some_and(crate::dependents::is_unique_id))
                .collect();
                if left.is_empty() {
                    p.remove("AWS");
                } else {
                    p.insert("AWS".into(), Value::Array(left));
                }
                if p.is_empty() {
                    empty = true;
                }
            }
            if empty {
                removed.push(name);
            }
        }
        if !empty {
            kept.push(stmt);
        }
    }
    doc.insert("Statement".into(), Value::Array(kept));
    (dropped, removed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsEvaluation {
    pub denies_insecure_transport: bool,
    /// Always true when no minimum TLS version is required.
    pub denies_outdated_tls: bool,
}

impl TlsEvaluation {
    pub fn compliant(self) -> bool {
        self.denies_insecure_transport && self.denies_outdated_tls
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("the bucket policy is not valid JSON: {0}")]
    NotJson(String),
    #[error("the bucket policy is not a JSON object with a Statement")]
    NoStatements,
    #[error("statement {0} of the bucket policy is not a JSON object")]
    BadStatement(usize),
    #[error(
        "the merged policy would be {bytes} bytes (minified), over S3's limit of {MAX_POLICY_BYTES} bytes for a bucket policy, which S3 refuses: shorten the policy first"
    )]
    TooLarge { bytes: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// The policy already complies; write nothing.
    Unchanged,
    /// The whole new policy document, and the Sids of the statements added.
    Updated {
        document: String,
        added: Vec<String>,
    },
}

/// Parses a policy document into its object and statement list.
pub fn parse(text: &str) -> Result<Map<String, Value>, PolicyError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| PolicyError::NotJson(e.to_string()))?;
    let Value::Object(doc) = value else {
        return Err(PolicyError::NoStatements);
    };
    statements(&doc)?;
    Ok(doc)
}

/// The statements of a policy, a single statement object counting as a list of one.
pub fn statements(doc: &Map<String, Value>) -> Result<Vec<&Map<String, Value>>, PolicyError> {
    let list: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return Err(PolicyError::NoStatements),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, s)| s.as_object().ok_or(PolicyError::BadStatement(i)))
        .collect()
}

/// Evaluates a policy (`None`: the bucket has none) by meaning.
pub fn evaluate(
    doc: Option<&Map<String, Value>>,
    req: &Requirement,
) -> Result<TlsEvaluation, PolicyError> {
    let stmts = match doc {
        Some(doc) => statements(doc)?,
        None => Vec::new(),
    };
    Ok(TlsEvaluation {
        denies_insecure_transport: stmts.iter().any(|s| denies_insecure_transport(s, req)),
        denies_outdated_tls: match &req.min_tls {
            None => true,
            Some(min) => stmts.iter().any(|s| denies_outdated_tls(s, req, min)),
        },
    })
}

/// Merges the missing TLS statement(s) into `existing` (the current policy text, if any).
pub fn merge(existing: Option<&str>, req: &Requirement) -> Result<Merge, PolicyError> {
    merge_parsed(existing.map(parse).transpose()?, req)
}

/// [`merge`] for a policy already parsed (`None`: the bucket has none).
pub fn merge_parsed(
    existing: Option<Map<String, Value>>,
    req: &Requirement,
) -> Result<Merge, PolicyError> {
    let mut doc = match existing {
        Some(doc) => doc,
        None => {
            let mut doc = Map::new();
            doc.insert("Version".into(), json!("2012-10-17"));
            doc.insert("Statement".into(), json!([]));
            doc
        }
    };
    let eval = evaluate(Some(&doc), req)?;
    if eval.compliant() {
        return Ok(Merge::Unchanged);
    }
    let mut taken: Vec<String> = statements(&doc)?
        .iter()
        .filter_map(|s| s.get("Sid").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let mut added_statements = Vec::new();
    let mut added = Vec::new();
    if !eval.denies_insecure_transport {
        let sid = unique_sid(TLS_SID, &taken);
        added_statements.push(deny_statement(
            &sid,
            req,
            json!({"Bool": {"aws:SecureTransport": "false"}}),
        ));
        taken.push(sid.clone());
        added.push(sid);
    }
    if let (false, Some(min)) = (eval.denies_outdated_tls, &req.min_tls) {
        let sid = unique_sid(MIN_TLS_SID, &taken);
        added_statements.push(deny_statement(
            &sid,
            req,
            json!({"NumericLessThan": {"s3:TlsVersion": min}}),
        ));
        added.push(sid);
    }
    // A single statement object becomes a one-element list: same meaning.
    let list = match doc.remove("Statement") {
        Some(Value::Array(items)) => items,
        Some(single) => vec![single],
        None => Vec::new(),
    };
    doc.insert(
        "Statement".into(),
        Value::Array(list.into_iter().chain(added_statements).collect()),
    );
    let document = serde_json::to_string(&Value::Object(doc))
        .map_err(|e| PolicyError::NotJson(e.to_string()))?;
    if document.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            bytes: document.len(),
        });
    }
    Ok(Merge::Updated { document, added })
}

fn deny_statement(sid: &str, req: &Requirement, condition: Value) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [req.bucket_arn, format!("{}*", req.objects_prefix)],
        "Condition": condition,
    })
}

fn unique_sid(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}{n}"))
        .find(|candidate| !taken.iter().any(|t| t == candidate))
        .unwrap_or_else(|| base.to_owned())
}

/// A Deny for everyone, on every S3 action, on the bucket and all its objects;
/// the condition is checked by the caller.
fn is_blanket_deny(s: &Map<String, Value>, req: &Requirement) -> bool {
    s.get("Effect").and_then(Value::as_str) == Some("Deny")
        && !s.contains_key("NotPrincipal")
        && !s.contains_key("NotAction")
        && !s.contains_key("NotResource")
        && s.get("Principal").is_some_and(is_everyone)
        && s.get("Action").is_some_and(|a| {
            strings(a)
                .iter()
                .any(|p| covers_prefix(&p.to_ascii_lowercase(), "s3:"))
        })
        && s.get("Resource").is_some_and(|r| {
            let patterns = strings(r);
            patterns.iter().any(|p| glob_match(p, &req.bucket_arn))
                && patterns
                    .iter()
                    .any(|p| covers_prefix(p, &req.objects_prefix))
        })
}

fn is_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(m) => m.get("AWS").is_some_and(|aws| strings(aws).contains(&"*")),
        _ => false,
    }
}

/// The statement's only condition is `{op: {key: value}}`.
fn single_condition(s: &Map<String, Value>) -> Option<(&str, &str, &Value)> {
    let cond = s.get("Condition")?.as_object()?;
    let [(op, keys)] = cond.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let [(key, value)] = keys.as_object()?.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    Some((op.as_str(), key.as_str(), value))
}

/// The one value of a condition: a scalar or a one-element list.
fn single_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) if items.len() == 1 => single_value(&items[0]),
        _ => None,
    }
}

pub fn denies_insecure_transport(s: &Map<String, Value>, req: &Requirement) -> bool {
    is_blanket_deny(s, req)
        && single_condition(s).is_some_and(|(op, key, value)| {
            matches!(op, "Bool" | "BoolIfExists")
                && key.eq_ignore_ascii_case("aws:SecureTransport")
                && single_value(value).is_some_and(|v| v.eq_ignore_ascii_case("false"))
        })
}

fn denies_outdated_tls(s: &Map<String, Value>, req: &Requirement, min: &str) -> bool {
    let Ok(min) = min.parse::<f64>() else {
        return false;
    };
    is_blanket_deny(s, req)
        && single_condition(s).is_some_and(|(op, key, value)| {
            matches!(op, "NumericLessThan" | "NumericLessThanIfExists")
                && key.eq_ignore_ascii_case("s3:TlsVersion")
                && single_value(value)
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v >= min)
        })
}

/// A string field or a list of strings; anything else counts as no match.
pub fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// IAM wildcard match: `*` any run, `?` any one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `pattern` matches `prefix` followed by *any* string: some way of matching
/// all of `prefix` leaves only `*`s in the pattern. Conservative: `prefix?*` does not
/// count (it misses the empty suffix), which can only make us add a statement.
pub fn covers_prefix(pattern: &str, prefix: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = prefix.chars().collect();
    // reachable[i]: the pattern's first i characters can match the text read so far.
    let mut reachable = vec![false; p.len() + 1];
    reachable[0] = true;
    let close = |r: &mut Vec<bool>| {
        for i in 0..p.len() {
            if r[i] && p[i] == '*' {
                r[i + 1] = true;
            }
        }
    };
    close(&mut reachable);
    for &c in &t {
        let mut next = vec![false; p.len() + 1];
        for i in 0..p.len() {
            if !reachable[i] {
                continue;
            }
            match p[i] {
                '*' => next[i] = true,
                '?' => next[i + 1] = true,
                pc if pc == c => next[i + 1] = true,
                _ => {}
            }
        }
        close(&mut next);
        reachable = next;
    }
    (0..p.len()).any(|i| reachable[i] && p[i..].iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests;
