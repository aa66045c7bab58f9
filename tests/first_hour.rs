//! The first hour with the CLI (issue 28), through the built binary against the emulator:
//! a missing Region is one line and exit 2; SDK errors read as service, operation, code and
//! message (the debug form only with `-vv`); the summary line names the key the fixes use;
//! `denies_outdated_tls` appears only against a configured minimum; `--version` names the
//! commit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use serde_json::Value;
use std::process::{Command, Output};

/// The binary on `event` (written to a file) with the emulator's environment plus `env`,
/// without the developer's own AWS or GUARD settings.
fn invoke(event: &Value, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    let mut all = vec!["invoke", "--event", path.to_str().unwrap()];
    all.extend_from_slice(args);
    binary(&all, env)
}

fn binary(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"));
    cmd.args(args).envs(common::moto().env());
    for (k, _) in std::env::vars() {
        if k.starts_with("GUARD_") || k == "AWS_PROFILE" || k == "AWS_DEFAULT_REGION" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tls_after(report: &Value) -> &Value {
    report["resources"][0]["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == "tls-only")
        .map(|c| &c["after"])
        .unwrap()
}

#[test]
fn no_region_is_one_line_naming_aws_region_and_exit_2() {
    // As on a laptop with no AWS configuration: the instance metadata service, which the
    // SDK asks next, does not answer (here: a closed local port, refused at once).
    for command in [vec!["scan"], vec!["opt-out"], vec!["plan"]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"));
        cmd.args(&command)
            .envs(common::moto().env())
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1");
        let out = cmd.output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{command:?}: {stderr}");
        assert!(stderr.contains("set AWS_REGION"), "{stderr}");
        assert!(out.stdout.is_empty(), "{command:?}: nothing on stdout");
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_one_readable_line_and_the_debug_form_only_with_vv() {
    let bucket = common::console_bucket("unreachable").await;
    let event = common::console_event(&bucket);
    let closed = [("AWS_ENDPOINT_URL", "http://127.0.0.1:1")];
    let out = invoke(&event, &["--format", "json"], &closed);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let shown = format!("{stdout}{stderr}");
    // The service and operation, what happened, and the innermost cause.
    assert!(
        shown.contains("sts GetCallerIdentity: could not reach the endpoint: Connection refused"),
        "{shown}"
    );
    for debug in ["DispatchFailure", "ConnectorError", "Os {", "kind:"] {
        assert!(!shown.contains(debug), "{debug:?} in {shown}");
    }
    let out = invoke(&event, &["--format", "json", "-vv"], &closed);
    assert!(
        text(&out.stderr).contains("DispatchFailure"),
        "-vv logs the SDK's own form"
    );
}

#[tokio::test]
async fn a_service_error_names_service_operation_code_and_message() {
    let bucket = common::console_bucket("no-key").await;
    let out = invoke(
        &common::console_event(&bucket),
        &["--format", "json"],
        &[("GUARD_KMS_KEY_ID", "alias/no-such-key")],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sse = &report["resources"][0]["controls"][0];
    assert_eq!(sse["control"], "sse-kms");
    assert_eq!(sse["status"], "failed");
    let detail = sse["detail"].as_str().unwrap();
    assert!(
        detail.contains("kms DescribeKey: NotFoundException: "),
        "{detail}"
    );
}

#[tokio::test]
async fn the_summary_line_says_which_key_the_fixes_use() {
    let bucket = common::console_bucket("aws-s3-key").await;
    let out = invoke(&common::console_event(&bucket), &["--format", "table"], &[]);
    let table = text(&out.stdout);
    let summary = table
        .lines()
        .find(|l| l.starts_with("summary: "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        summary.ends_with(
            "; SSE-KMS with the AWS managed aws/s3 key: set GUARD_KMS_KEY_ID for your own"
        ),
        "{summary}"
    );

    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let bucket = common::console_bucket("own-key").await;
    let out = invoke(
        &common::console_event(&bucket),
        &["--format", "table"],
        &[("GUARD_KMS_KEY_ID", &key)],
    );
    let table = text(&out.stdout);
    assert!(
        table.contains(&format!("; SSE-KMS with key {key}\n")),
        "{table}"
    );
    assert!(!table.contains("aws/s3"), "{table}");
}

#[tokio::test]
async fn outdated_tls_is_reported_only_when_a_minimum_is_configured() {
    let bucket = common::console_bucket("no-min-tls").await;
    let out = invoke(&common::console_event(&bucket), &["--format", "json"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let after = tls_after(&report);
    assert_eq!(after["denies_insecure_transport"], true, "{after}");
    assert!(after.get("denies_outdated_tls").is_none(), "{after}");

    let bucket = common::console_bucket("min-tls").await;
    let out = invoke(
        &common::console_event(&bucket),
        &["--format", "json"],
        &[("GUARD_MIN_TLS_VERSION", "1.2")],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let after = tls_after(&report);
    assert_eq!(after["denies_outdated_tls"], true, "{after}");
    assert_eq!(after["min_tls_version"], "1.2", "{after}");
}

#[test]
fn version_names_the_release_and_the_commit() {
    let out = binary(&["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let line = text(&out.stdout);
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_owned(), |o| text(&o.stdout).trim().to_owned());
    assert_eq!(
        line.trim(),
        format!(
            "rekognition-guard {} (commit {commit})",
            env!("CARGO_PKG_VERSION")
        )
    );
}
