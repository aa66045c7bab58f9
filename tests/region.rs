//! `src/region.rs` is kept in step with the endpoint partitions the AWS SDK embeds:
//! the `partitions.json` compiled into aws-sdk-rekognition (found with `cargo metadata`,
//! so the version compared is the one this build links). A partition or Region AWS adds
//! fails here until the table has it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use rekognition_guard::region::{PARTITIONS, is_region, partition};
use serde_json::Value;
use std::process::Command;

/// The partitions JSON of the linked aws-sdk-rekognition.
fn sdk_partitions() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            // Not --offline: metadata reads the manifests of every platform's dependencies,
            // which a build for this platform alone has not downloaded.
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "aws-sdk-rekognition")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("aws-sdk-rekognition in the dependency graph")
        .to_owned();
    let source = std::path::Path::new(&manifest).with_file_name("src/endpoint_lib.rs");
    let source = std::fs::read_to_string(&source).unwrap();
    let start = source
        .find("new_from_json(b\"")
        .expect("embedded partitions")
        + 16;
    let end = start + source[start..].find("\")").unwrap();
    // A Rust byte-string literal: only \" and \\ are escaped in it.
    let json = source[start..end]
        .replace("\\\\", "\u{0}")
        .replace("\\\"", "\"")
        .replace('\u{0}', "\\");
    serde_json::from_str(&json).unwrap()
}

/// `^(us|eu)\-\w+\-\d+$` or `^us\-iso\-\w+\-\d+$` → the leading labels' alternatives.
fn leading_labels(regex: &str) -> Vec<Vec<String>> {
    let inner = regex
        .strip_prefix('^')
        .and_then(|r| r.strip_suffix("\\-\\w+\\-\\d+$"))
        .unwrap_or_else(|| panic!("a regionRegex of a new shape: {regex}"));
    inner
        .split("\\-")
        .map(|label| {
            let label = label
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .unwrap_or(label);
            assert!(
                label.bytes().all(|b| b.is_ascii_lowercase() || b == b'|'),
                "a regionRegex of a new shape: {regex}"
            );
            label.split('|').map(str::to_owned).collect()
        })
        .collect()
}

#[test]
fn the_table_is_the_sdks_partitions() {
    let sdk = sdk_partitions();
    let sdk = sdk["partitions"].as_array().unwrap();
    let ids: Vec<&str> = sdk.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let ours: Vec<&str> = PARTITIONS.iter().map(|p| p.id).collect();
    assert_eq!(ours, ids, "partition ids and order");
    for (p, table) in sdk.iter().zip(PARTITIONS) {
        let want = leading_labels(p["regionRegex"].as_str().unwrap());
        let have: Vec<Vec<String>> = table
            .leading
            .iter()
            .map(|alts| alts.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        assert_eq!(have, want, "regionRegex of {}", table.id);
        for region in p["regions"].as_object().unwrap().keys() {
            if region.ends_with("-global") {
                continue; // pseudo-regions of global endpoints, never in an event
            }
            assert!(is_region(region), "{region}");
            assert_eq!(partition(region), table.id, "{region}");
        }
    }
}

#[test]
fn sample_regions_of_each_pattern_resolve_to_one_partition() {
    for table in PARTITIONS {
        let mut prefixes = vec![String::new()];
        for alts in table.leading {
            prefixes = prefixes
                .iter()
                .flat_map(|p| alts.iter().map(move |a| format!("{p}{a}-")))
                .collect();
        }
        for prefix in prefixes {
            for region in [format!("{prefix}east-1"), format!("{prefix}southwest-9")] {
                assert_eq!(partition(&region), table.id, "{region}");
            }
        }
    }
}
