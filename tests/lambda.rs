//! Lambda mode end to end: the built binary, with `AWS_LAMBDA_RUNTIME_API` pointing at
//! a minimal Runtime API on loopback, takes an event, returns the report as the
//! function's response (or an invocation error when a control failed), and writes
//! JSON log lines and an Embedded Metric Format line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the function posted back: the path (`…/response` or `…/error`) and the body.
type Posted = (String, Value);

/// Serves one invocation of `event`, then parks further `next` calls.
fn runtime_api(event: Value) -> (String, mpsc::Receiver<Posted>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut served = false;
        for stream in listener.incoming().take(16) {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            let event = event.clone();
            let first = !served;
            served = true;
            std::thread::spawn(move || serve(stream, &event, first, &tx));
        }
    });
    (addr, rx)
}

fn serve(stream: TcpStream, event: &Value, mut give_event: bool, tx: &mpsc::Sender<Posted>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut length = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if path.ends_with("/invocation/next") {
            if !give_event {
                // Park: the test kills the process once it has the answer.
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            give_event = false;
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 60_000;
            let payload = event.to_string();
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:rekognition-guard\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n\
                 Content-Length: {}\r\n\r\n{payload}",
                payload.len()
            )
            .unwrap();
        } else {
            let _ = tx.send((path, serde_json::from_slice(&body).unwrap_or(Value::Null)));
            write!(out, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
        }
    }
}

fn invoke_lambda(event: Value, extra_env: &[(&str, &str)]) -> (Posted, String) {
    let (addr, rx) = runtime_api(event);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .envs(common::moto().env())
        .env("AWS_LAMBDA_RUNTIME_API", addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "rekognition-guard")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/rekognition-guard")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/27/[$LATEST]abc")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .envs(extra_env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let posted = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the function answered");
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (posted, logs)
}

#[tokio::test]
async fn the_report_is_the_response_with_json_logs_and_metrics() {
    let bucket = common::console_bucket("lambda").await;
    let ((path, report), logs) = invoke_lambda(common::console_event(&bucket), &[]);
    assert!(
        path.ends_with("/invocation/req-1/response"),
        "{path}: {report}"
    );
    assert_eq!(report["trigger"]["kind"], "bucket-created");
    assert_eq!(report["resources"][0]["id"], bucket);
    assert_eq!(
        report["resources"][0]["controls"][0]["status"],
        "remediated"
    );

    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let summary = lines
        .iter()
        .find(|l| l["message"] == "invocation summary")
        .expect("a JSON summary line");
    assert_eq!(summary["trigger"], "bucket-created");
    assert!(summary["elapsed_ms"].is_u64());
    assert!(
        summary["counts"]
            .as_str()
            .unwrap()
            .contains("\"remediated\":3")
    );
    let emf = lines
        .iter()
        .find(|l| l.get("_aws").is_some())
        .expect("an EMF line");
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "RekognitionGuard"
    );
    assert_eq!(emf["Status.remediated"], 3);
}

#[tokio::test]
async fn a_failed_control_is_an_invocation_error_so_lambda_retries() {
    let bucket = common::console_bucket("lambda").await;
    let ((path, error), logs) = invoke_lambda(
        common::console_event(&bucket),
        &[("GUARD_KMS_KEY_ID", "alias/missing")],
    );
    assert!(path.ends_with("/invocation/req-1/error"), "{path}: {error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("1 failed control"),
        "{error}"
    );
    assert!(logs.contains("invocation failed"), "the report is logged");
}

#[tokio::test]
async fn ocsf_log_lines_and_a_rejected_finding_is_an_invocation_error() {
    let hub = aws_sdk_securityhub::Client::new(&common::sdk_config().await);
    // Idempotent: moto answers a second EnableSecurityHub with success.
    hub.enable_security_hub().send().await.unwrap();
    let proxy = common::proxy::Proxy::start(&common::moto().endpoint);
    proxy.set_rules(serde_json::json!([
        {"operation": "BatchImportFindings", "fault": "failed-findings", "count": 1}
    ]));
    let bucket = common::console_bucket("lambda-sh").await;
    let ((path, error), logs) = invoke_lambda(
        common::console_event(&bucket),
        &[
            ("AWS_ENDPOINT_URL", proxy.endpoint.as_str()),
            ("GUARD_SECURITY_HUB", "on"),
            ("GUARD_REPORT_FORMAT", "ocsf"),
        ],
    );
    assert!(path.ends_with("/invocation/req-1/error"), "{path}: {error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Security Hub import failed (1 findings)"),
        "{error}"
    );
    let ocsf: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["class_uid"] == 2003)
        .collect();
    assert_eq!(ocsf.len(), 4, "one OCSF line per result: {logs}");
    assert!(
        ocsf.iter()
            .all(|e| e["cloud"]["account"]["uid"] == common::ACCOUNT)
    );
}
