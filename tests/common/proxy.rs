//! Fault-injecting proxy harness (see tests/fault_proxy.py): a Python process between the
//! function and moto that forwards every request, answers chosen operations with AWS's
//! own errors (or resets, or delays them), and logs every request it saw.
//!
//! The proxy exits when its stdin closes, so it dies with the test process; `Drop` also
//! kills it. The control calls use a tiny blocking HTTP/1.1 client over `TcpStream`:
//! no HTTP client crate is worth the build time for three endpoints on loopback.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One run of the built binary.
pub struct Invocation {
    /// `None`: killed at the time limit (or by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Invocation {
    /// The JSON report on stdout (`Null` when there is none).
    pub fn report(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or(Value::Null)
    }
}

pub struct Proxy {
    /// `http://127.0.0.1:PORT`: point the function here instead of at moto.
    pub endpoint: String,
    pub port: u16,
    child: Child,
    stdin: Mutex<Option<ChildStdin>>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (moto's endpoint) and waits for it to listen.
    pub fn start(upstream: &str) -> Proxy {
        Proxy::start_with(upstream, &[])
    }

    /// The S3 fidelity layer (`fault_proxy.py --fidelity`, see tests/s3_fidelity.py) in front
    /// of `upstream`: what `Moto::start` puts in front of moto for every test.
    pub fn start_fidelity(upstream: &str) -> Proxy {
        // It lives as long as the test binary's emulator, past the default hour if need be.
        Proxy::start_with(upstream, &["--fidelity", "--max-seconds", "14400"])
    }

    fn start_with(upstream: &str, args: &[&str]) -> Proxy {
        let script = format!("{}/tests/fault_proxy.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(super::python())
            .arg(script)
            .arg("--upstream")
            .arg(upstream)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/fault_proxy.py (python3)");
        let stdin = child.stdin.take().expect("proxy stdin");
        let stdout = child.stdout.take().expect("proxy stdout");
        // One line, then the proxy never writes to stdout again. A proxy that dies
        // before printing closes the pipe, so this read ends either way.
        let mut line = String::new();
        BufReader::new(stdout)
            .take(256)
            .read_line(&mut line)
            .expect("read the proxy's LISTENING line");
        let port: u16 = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("fault_proxy.py did not start: {line:?}"));
        Proxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child,
            stdin: Mutex::new(Some(stdin)),
        }
    }

    /// Replaces the fault rules, e.g.
    /// `json!([{"operation": "PutBucketPolicy", "fault": "slowdown-503", "times": 2}])`.
    pub fn set_rules(&self, rules: Value) {
        let (status, body) = self.call("POST", "/__proxy/rules", &rules.to_string());
        assert_eq!(status, 200, "proxy refused the rules {rules}: {body}");
    }

    /// Clears the rules and the log.
    pub fn reset(&self) {
        let (status, body) = self.call("POST", "/__proxy/reset", "");
        assert_eq!(status, 200, "proxy reset: {body}");
    }

    /// Every request the proxy received since the last reset, in order: `method`, `path`,
    /// `query`, `service`, `operation`, `status` (returned), `fault` (or null), `write`.
    pub fn log(&self) -> Vec<Value> {
        let (status, body) = self.call("GET", "/__proxy/log", "");
        assert_eq!(status, 200, "proxy log: {body}");
        serde_json::from_str(&body).expect("proxy log is JSON")
    }

    /// Write requests received (S3 PUT/POST/DELETE, SNS Publish), faulted or not.
    pub fn writes(&self) -> usize {
        self.log().iter().filter(|e| e["write"] == true).count()
    }

    /// Requests for `operation` received, and how many of them were faulted.
    pub fn count(&self, operation: &str) -> (usize, usize) {
        let log = self.log();
        let matching: Vec<&Value> = log.iter().filter(|e| e["operation"] == operation).collect();
        let faulted = matching.iter().filter(|e| !e["fault"].is_null()).count();
        (matching.len(), faulted)
    }

    /// Requests the proxy answered with (or applied) a fault.
    pub fn faults(&self) -> usize {
        self.log().iter().filter(|e| !e["fault"].is_null()).count()
    }

    /// Environment for a child process of the built binary: like `Moto::env()`, but
    /// every AWS call goes through the proxy.
    pub fn env(&self) -> Vec<(String, String)> {
        super::env_for(&self.endpoint)
    }

    /// Runs `rekognition-guard invoke --event FILE` with every AWS call through this
    /// proxy, no `AWS_*`/`GUARD_*`/`RUST_LOG` variable of the developer's but `env`, and a
    /// time limit past which it is killed.
    pub fn invoke(&self, event_file: &Path, env: &[(&str, &str)], limit: Duration) -> Invocation {
        let file = event_file.to_string_lossy();
        self.run(&["invoke", "--event", &file], env, limit)
    }

    /// Runs the built binary with `args`, as [`Proxy::invoke`] does.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Invocation {
        let scratch = tempfile::tempdir().unwrap();
        let (out, err) = (scratch.path().join("stdout"), scratch.path().join("stderr"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"));
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("AWS_") || key.starts_with("GUARD_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .args(args)
            .envs(self.env())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("run the built binary");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Invocation {
            code: status.and_then(|s| s.code()),
            stdout: std::fs::read_to_string(&out).unwrap_or_default(),
            stderr: String::from_utf8_lossy(&std::fs::read(&err).unwrap_or_default()).into_owned(),
        }
    }

    /// One control request; returns the status code and body.
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to proxy");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n{body}",
            port = self.port,
            len = body.len()
        );
        stream.write_all(request.as_bytes()).expect("send to proxy");
        // `Connection: close`: the proxy closes after its answer, so read to the end.
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .expect("read the proxy's answer");
        let raw = String::from_utf8(raw).expect("proxy answers in UTF-8");
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("malformed proxy answer: {raw:?}"));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("malformed proxy status line: {head:?}"));
        (status, body.to_owned())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Closing stdin makes the proxy exit by itself; kill it in case it is stuck.
        if let Ok(mut stdin) = self.stdin.lock() {
            stdin.take();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
