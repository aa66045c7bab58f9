//! S3 Inventory as a source of the census (`objects --inventory`): the manifest of an
//! inventory delivery (`manifest.json`: `fileFormat`, `fileSchema`, `files`) and its CSV
//! rows. Pure; `aws::objects` finds the newest delivery and reads its (gzip) files.
//!
//! An inventory row has `EncryptionStatus` (`NOT-SSE`, `SSE-S3`, `SSE-KMS`, `DSSE-KMS`,
//! `SSE-C`) but not the KMS key: SSE-KMS objects are counted together, under no key. The
//! list is as old as the delivery (daily or weekly).

use super::{Count, Encryption};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub source_bucket: String,
    pub file_format: String,
    pub file_schema: String,
    #[serde(default)]
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ManifestFile {
    pub key: String,
}

pub fn parse_manifest(text: &str) -> Result<Manifest, String> {
    let m: Manifest =
        serde_json::from_str(text).map_err(|e| format!("not an S3 Inventory manifest: {e}"))?;
    if !m.file_format.eq_ignore_ascii_case("csv") {
        return Err(format!(
            "the inventory is {}: only CSV inventories are read",
            m.file_format
        ));
    }
    Ok(m)
}

/// The columns the census needs, by position in `fileSchema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    key: usize,
    size: Option<usize>,
    encryption: usize,
    is_latest: Option<usize>,
    delete_marker: Option<usize>,
}

pub fn columns(schema: &str) -> Result<Columns, String> {
    let names: Vec<&str> = schema.split(',').map(str::trim).collect();
    let find = |n: &str| names.iter().position(|c| c.eq_ignore_ascii_case(n));
    Ok(Columns {
        key: find("Key").ok_or("the inventory has no Key field")?,
        size: find("Size"),
        encryption: find("EncryptionStatus").ok_or(
            "the inventory has no EncryptionStatus field: add it to the inventory configuration",
        )?,
        is_latest: find("IsLatest"),
        delete_marker: find("IsDeleteMarker"),
    })
}

/// An inventory's `EncryptionStatus` as the census counts it (`SSE-KMS` without its key).
pub fn encryption(status: &str) -> Option<Encryption> {
    match status {
        "NOT-SSE" => Some(Encryption::None),
        "SSE-S3" => Some(Encryption::SseS3),
        "SSE-KMS" => Some(Encryption::Kms(String::new())),
        "DSSE-KMS" => Some(Encryption::Dsse(None)),
        "SSE-C" => Some(Encryption::SseC),
        _ => None,
    }
}

/// Counts of one CSV file's rows by encryption, under `prefix`; delete markers are skipped,
/// and with `current_only` so are versions that are not the latest. Returns the rows counted.
pub fn count_csv(
    text: &str,
    cols: Columns,
    prefix: Option<&str>,
    current_only: bool,
    by: &mut BTreeMap<Encryption, Count>,
) -> u64 {
    let mut counted = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f = split_csv(line);
        let get = |i: Option<usize>| i.and_then(|i| f.get(i)).map(String::as_str);
        let Some(key) = get(Some(cols.key)) else {
            continue;
        };
        // Inventory keys are URL-encoded.
        let key = decode_key(key);
        if prefix.is_some_and(|p| !key.starts_with(p))
            || get(cols.delete_marker) == Some("true")
            || (current_only && get(cols.is_latest) == Some("false"))
        {
            continue;
        }
        let Some(e) = get(Some(cols.encryption)).and_then(encryption) else {
            continue;
        };
        let c = by.entry(e).or_default();
        c.objects += 1;
        c.bytes += get(cols.size)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        counted += 1;
    }
    counted
}

/// One CSV line's fields: comma-separated, `"…"` quoting with `""` for a quote.
pub fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The newest delivery among the date folders of a configuration
/// (`…/YYYY-MM-DDTHH-MMZ/`): they sort by name.
pub fn newest(folders: &[String]) -> Option<&String> {
    folders
        .iter()
        .filter(|f| {
            f.trim_end_matches('/')
                .rsplit('/')
                .next()
                .is_some_and(|d| d.len() >= 10 && d.as_bytes()[4] == b'-')
        })
        .max()
}

/// An inventory key, URL-encoded (`%XX`, and `+` for a space as S3 writes them).
pub fn decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
