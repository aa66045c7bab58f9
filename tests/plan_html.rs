//! `plan --format html` in a real browser. A seeded account (a bucket with nothing
//! configured, a compliant one, one with a policy of its own, one a partner account reads)
//! is planned as JSON, the saved plan rendered again as HTML (`plan --render`), and the page
//! opened from a `file://` URL in headless Chromium: its script must run without a console
//! message, its counts must be the plan's, a status in the address must filter the buckets,
//! and a screenshot is kept in `target/test-artifacts/plan.png` for people to look at.
//!
//! Chromium is a dependency of this suite, not an option: without it the tests fail and
//! say how to install it (`make browser` does).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::{ACCOUNT, REGION};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PARTNER: &str = "444455556666";
const STATUSES: [&str; 7] = [
    "compliant",
    "would-change",
    "held",
    "exempt",
    "non-compliant",
    "failed",
    "skipped",
];

/// The guarded prefix of this seeding, and its buckets.
struct Seeded {
    prefix: String,
    plain: String,
    compliant: String,
    policy: String,
    partner: String,
}

async fn seed() -> Seeded {
    let prefix = format!("{}-", common::unique("plan-html"));
    let [plain, compliant, policy, partner] =
        ["plain", "compliant", "policy", "partner"].map(|tag| format!("{prefix}{tag}"));
    let s3 = common::s3(REGION).await;
    for bucket in [&plain, &compliant, &policy, &partner] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    common::put_encryption(&s3, &compliant, "aws:kms", Some(&key), true).await;
    s3.put_public_access_block()
        .bucket(&compliant)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arns = |b: &str| json!([format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")]);
    common::put_policy(
        &s3,
        &compliant,
        &json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": arns(&compliant), "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
    )
    .await;
    common::put_policy(&s3, &policy, &json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Keep", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
         "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{policy}/*")}]}))
    .await;
    // Another account reads it: SSE-KMS with aws/s3 would break that reader, so it is held.
    common::put_policy(&s3, &partner, &json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "PartnerReadsResults", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")},
         "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": arns(&partner)}]}))
    .await;
    Seeded {
        prefix,
        plain,
        compliant,
        policy,
        partner,
    }
}

/// The built binary with none of the developer's own `AWS_*`/`GUARD_*` settings.
fn binary(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("AWS_") || key.starts_with("GUARD_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.args(args);
    cmd
}

/// Runs the binary against the emulator with this guarded prefix; (exit code, stdout, stderr).
fn guard(prefix: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = binary(args);
    cmd.envs(common::moto().env())
        .env("GUARD_CONSOLE_BUCKET_PREFIX", prefix);
    run(cmd, Duration::from_secs(120))
}

/// Runs the binary with every AWS endpoint refused: what succeeds made no AWS call.
fn offline(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = binary(args);
    cmd.envs(common::env_for("http://127.0.0.1:9"));
    run(cmd, Duration::from_secs(60))
}

/// Runs `cmd` to its end or its time limit (then kills it and fails).
fn run(mut cmd: Command, limit: Duration) -> (Option<i32>, String, String) {
    let scratch = tempfile::tempdir().unwrap();
    let (out, err) = (scratch.path().join("out"), scratch.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        std::fs::read_to_string(&out).unwrap(),
        String::from_utf8_lossy(&std::fs::read(&err).unwrap()).into_owned(),
    )
}

/// Where Chromium is: `CHROMIUM` if set, else `chromium` on `PATH`.
fn find_chromium(env: Option<OsString>, path: Option<OsString>) -> Result<PathBuf, String> {
    const HOW: &str = "install Debian's chromium: make browser does \
                       (apt-get install chromium), or set CHROMIUM to its path";
    if let Some(explicit) = env {
        let p = PathBuf::from(explicit);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("CHROMIUM={} is not a file: {HOW}", p.display()))
        };
    }
    path.iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no chromium on PATH: {HOW}"))
}

fn chromium() -> PathBuf {
    find_chromium(std::env::var_os("CHROMIUM"), std::env::var_os("PATH"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Headless Chromium on `url` with `args`, in a profile of its own; (stdout, stderr).
fn browse(args: &[&str], url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(url);
    let (code, out, err) = run(cmd, Duration::from_secs(90));
    assert_eq!(code, Some(0), "chromium failed: {err}");
    (out, err)
}

/// Console messages and uncaught errors of the page (`INFO:CONSOLE:<line>] "…"`).
fn console(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("CONSOLE")).collect()
}

/// `target/test-artifacts`, created.
fn artifacts() -> PathBuf {
    let target = Path::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf();
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// Opening tags of `element` in `dom` that carry `attribute`.
fn tags<'a>(dom: &'a str, element: &str, attribute: &str) -> Vec<&'a str> {
    dom.split(&format!("<{element}"))
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(tag, _)| tag))
        .filter(|tag| tag.contains(&format!(" {attribute}=\"")))
        .collect()
}

/// The value of `name` in an opening tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let (_, rest) = tag.split_once(&format!(" {name}=\""))?;
    rest.split_once('"').map(|(value, _)| value)
}

/// The header's counts: status → `data-count`.
fn counts(dom: &str) -> BTreeMap<String, u64> {
    tags(dom, "span", "data-count")
        .into_iter()
        .map(|t| {
            (
                attr(t, "data-status").unwrap().to_owned(),
                attr(t, "data-count").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// The markup of the section of `bucket`.
fn section<'a>(dom: &'a str, bucket: &str) -> &'a str {
    let start = dom
        .find(&format!("data-resource=\"{bucket}\""))
        .unwrap_or_else(|| panic!("no section for {bucket}"));
    let rest = &dom[start..];
    &rest[..rest.find("</section>").unwrap()]
}

/// The controls of `bucket` in a plan, by control id.
fn planned<'a>(plan: &'a Value, bucket: &str) -> BTreeMap<&'a str, &'a Value> {
    plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == bucket)
        .unwrap_or_else(|| panic!("{bucket} not in the plan: {plan:#}"))["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["control"].as_str().unwrap(), c))
        .collect()
}

/// `plan --format json` of the seeded buckets, saved, then `plan --render FILE --format
/// html` of it, written to `target/test-artifacts/<name>.html`. Returns (plan, page path).
fn render(seeded: &Seeded, name: &str) -> (Value, PathBuf) {
    let (code, json_text, err) = guard(&seeded.prefix, &["plan", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let plan: Value = serde_json::from_str(&json_text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    std::fs::write(&saved, &json_text).unwrap();
    let (code, html, err) = offline(&[
        "plan",
        "--render",
        saved.to_str().unwrap(),
        "--format",
        "html",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let page = artifacts().join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    (plan, page)
}

#[tokio::test]
async fn the_plan_page_runs_in_chromium_with_the_plans_counts_and_diffs() {
    let seeded = seed().await;
    let (plan, page) = render(&seeded, "plan");

    // The plan is what the page is meant to show.
    let plain = planned(&plan, &seeded.plain);
    assert!(
        plain.values().all(|c| c["status"] == "would-change"),
        "{plain:#?}"
    );
    let compliant = planned(&plan, &seeded.compliant);
    assert!(
        compliant.values().all(|c| c["status"] == "compliant"),
        "{compliant:#?}"
    );
    let tls = planned(&plan, &seeded.policy)["tls-only"];
    assert_eq!(tls["statements_added"][0]["Sid"], "DenyInsecureTransport");
    assert!(tls["after"].as_str().unwrap().contains("\"Keep\""));
    assert_eq!(planned(&plan, &seeded.partner)["sse-kms"]["status"], "held");

    // Rendered in a real browser: the script ran, without a message, and the numbers are
    // the plan's.
    let (dom, stderr) = browse(&["--dump-dom"], &file_url(&page));
    assert!(console(&stderr).is_empty(), "{:#?}", console(&stderr));
    let body = tags(&dom, "body", "data-ready");
    assert_eq!(
        body.first().and_then(|b| attr(b, "data-ready")),
        Some("1"),
        "the script did not finish: {stderr}"
    );
    let got = counts(&dom);
    assert_eq!(got.len(), STATUSES.len(), "{got:?}");
    for status in STATUSES {
        assert_eq!(
            got[status],
            plan["totals"][status].as_u64().unwrap_or(0),
            "{status}"
        );
    }
    let changes = tags(&dom, "div", "data-changes");
    assert_eq!(
        attr(changes[0], "data-changes"),
        Some(
            plan["changes"]
                .as_array()
                .unwrap()
                .len()
                .to_string()
                .as_str()
        )
    );
    assert!(
        dom.contains("showing 5 of 5 resources"),
        "4 buckets and the account's opt-out"
    );

    // What a reviewer reads for each bucket.
    let policy = section(&dom, &seeded.policy);
    assert!(policy.contains("+ added <code>DenyInsecureTransport</code>"));
    assert!(policy.contains("kept unchanged: <code class=\"sid\">Keep</code>"));
    assert!(policy.contains("No statement removed."));
    assert!(policy.contains("<summary>Full policy before (1 statement)</summary>"));
    let partner = section(&dom, &seeded.partner);
    assert!(partner.contains("Held: nothing will be written."));
    assert!(
        partner.contains(PARTNER),
        "the held detail names the reader"
    );
    assert!(
        partner.contains("<table class=\"diff\">"),
        "and shows its diff"
    );
    assert!(!section(&dom, &seeded.compliant).contains("would change"));
    assert!(section(&dom, &seeded.plain).contains("Nothing configured today"));
    let cells = tags(&dom, "g", "data-worst");
    assert!(
        cells.iter().any(|c| attr(c, "data-worst") == Some("held")),
        "the heat map's sse-kms cell is held: {cells:?}"
    );

    // A screenshot at a laptop's width, kept for people to look at.
    let png = artifacts().join("plan.png");
    let _ = std::fs::remove_file(&png);
    let screenshot = format!("--screenshot={}", png.display());
    browse(
        &["--hide-scrollbars", "--window-size=1280,1600", &screenshot],
        &file_url(&page),
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    assert_eq!(
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        1280,
        "width"
    );
    assert!(bytes.len() > 20_000, "{} bytes: a blank page?", bytes.len());

    // `plan --format html` straight from AWS is the same full page.
    let (code, direct, err) = guard(&seeded.prefix, &["plan", "--format", "html"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(direct.starts_with("<!doctype html>"), "{direct:.200}");
    assert!(direct.trim_end().ends_with("</html>"));
    for bucket in [
        &seeded.plain,
        &seeded.compliant,
        &seeded.policy,
        &seeded.partner,
    ] {
        assert!(
            direct.contains(&format!("data-resource=\"{bucket}\"")),
            "{bucket}"
        );
    }
    assert!(direct.contains(&format!(
        "data-changes=\"{}\"",
        plan["changes"].as_array().unwrap().len()
    )));
}

#[tokio::test]
async fn a_status_in_the_address_shows_only_those_buckets() {
    let seeded = seed().await;
    let (_, page) = render(&seeded, "plan-held");
    let (dom, stderr) = browse(&["--dump-dom"], &format!("{}#status=held", file_url(&page)));
    assert!(console(&stderr).is_empty(), "{:#?}", console(&stderr));
    let sections = tags(&dom, "section", "data-resource");
    let visible: Vec<&str> = sections
        .iter()
        .filter(|s| !s.contains(" hidden"))
        .map(|s| attr(s, "data-resource").unwrap())
        .collect();
    assert_eq!(visible, [seeded.partner.as_str()], "{sections:#?}");
    assert_eq!(sections.len(), 5);
    assert!(dom.contains("showing 1 of 5 resources"));
}

#[test]
fn a_hostile_plan_file_renders_inert_in_chromium() {
    // A plan file is untrusted input: every text in it tries to close the script element
    // and run its own.
    let evil = "</script><img src=x onerror=\"document.title='pwned'\"><!--";
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": evil, "Effect": "Allow"}]});
    let plan = json!({
        "schema": "rekognition-guard/plan/v1", "id": evil, "created_at": "2026-12-06T10:00:00Z",
        "scope": "account", "account": evil, "regions": [evil], "principal": evil,
        "totals": {"would-change": 1}, "not_planned": [evil],
        "cells": [{"account": evil, "region": evil, "control": evil, "counts": {"would-change": 1}}],
        "resources": [{"account": evil, "region": evil, "type": "s3-bucket", "id": evil, "role": evil,
            "controls": [{"control": "tls-only", "status": "would-change", "detail": evil,
                "before": null, "after": policy.to_string(), "statements_added": [policy["Statement"][0]]}]}],
        "changes": [{"account": evil, "region": evil, "bucket": evil, "control": "tls-only",
            "before": null, "after": policy.to_string()}]
    });
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    std::fs::write(&saved, plan.to_string()).unwrap();
    let (code, html, err) = offline(&[
        "plan",
        "--render",
        saved.to_str().unwrap(),
        "--format",
        "html",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let page = artifacts().join("plan-hostile.html");
    std::fs::write(&page, html).unwrap();
    let (dom, stderr) = browse(&["--dump-dom"], &file_url(&page));
    assert!(console(&stderr).is_empty(), "{:#?}", console(&stderr));
    assert!(!dom.contains("<img"), "an element was injected");
    assert!(!dom.contains("<title>pwned</title>"), "a handler ran");
    assert_eq!(
        tags(&dom, "body", "data-ready")
            .first()
            .and_then(|b| attr(b, "data-ready")),
        Some("1"),
        "the page's own script still ran to its end"
    );
    assert_eq!(counts(&dom)["would-change"], 1);
}

#[test]
fn a_missing_chromium_fails_and_says_how_to_install_it() {
    let empty = tempfile::tempdir().unwrap();
    let err = find_chromium(None, Some(empty.path().into())).unwrap_err();
    assert!(err.contains("make browser"), "{err}");
    let err = find_chromium(Some("/nonexistent/chromium".into()), None).unwrap_err();
    assert!(err.contains("install Debian's chromium"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chromium"), "").unwrap();
    assert_eq!(
        find_chromium(None, Some(dir.path().into())).unwrap(),
        dir.path().join("chromium")
    );
}
