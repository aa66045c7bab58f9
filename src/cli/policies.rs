//! `rekognition-guard policies`: prints the preventive SCP, RCP and S3 policy for the
//! configured prefixes, output bucket patterns and roles (`org_policy::prevention`). No AWS
//! call: attaching them is the organization administrator's decision (docs/src/deployment.md).

use super::{Format, bad_input, print_json};
use crate::config::{Config, is_role_arn};
use crate::org_policy::prevention::{self, Scope};
use serde_json::{Map, Value};
use std::io::IsTerminal;

/// A role ARN, or one with `*` for the account (every account of the organization).
fn is_role_arn_pattern(value: &str) -> bool {
    is_role_arn(value)
        || value
            .split_once(":iam::*:")
            .is_some_and(|(head, tail)| is_role_arn(&format!("{head}:iam::000000000000:{tail}")))
}

pub(super) fn run(
    config: &Config,
    function_role: &str,
    break_glass_role: Option<&str>,
    format: Option<Format>,
) -> u8 {
    if !is_role_arn(function_role) {
        return bad_input(format!(
            "--function-role {function_role:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME): the function's role, exempt from the SCP"
        ));
    }
    if let Some(bad) = break_glass_role.filter(|r| !is_role_arn_pattern(r)) {
        return bad_input(format!(
            "--break-glass-role {bad:?} is not an IAM role ARN (the account may be *)"
        ));
    }
    let partition = function_role.split(':').nth(1).unwrap_or("aws").to_owned();
    let scope = Scope {
        partition,
        prefixes: config.guarded_prefixes().map(str::to_owned).collect(),
        output_patterns: config.output_bucket_patterns.clone(),
        exempt_tag: config.exempt_tag.clone(),
        function_role: function_role.to_owned(),
        member_role_name: config.member_role_name.clone(),
        break_glass_role: break_glass_role.map(str::to_owned),
        min_tls_version: config.min_tls_version.clone(),
    };
    let policies = prevention::policies(&scope);
    let table = match format {
        Some(Format::Table) => true,
        Some(Format::Json) | None if format.is_some() => false,
        None => std::io::stdout().is_terminal(),
        Some(other) => {
            return bad_input(format!(
                "--format {} is not one of json, table",
                format!("{other:?}").to_lowercase()
            ));
        }
    };
    if table {
        for (name, doc) in &policies {
            let text = serde_json::to_string(doc).unwrap_or_default();
            println!("# {name} ({} characters minified)", text.chars().count());
            println!("{}", serde_json::to_string_pretty(doc).unwrap_or_default());
            println!();
        }
    } else {
        let object: Map<String, Value> = policies
            .into_iter()
            .map(|(name, doc)| (name.to_owned(), doc))
            .collect();
        print_json(&Value::Object(object));
    }
    crate::report::exit::OK
}
