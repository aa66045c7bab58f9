//! Where the change record is kept: the state table (`GUARD_STATE_TABLE`, one item per
//! change, TTL `GUARD_HISTORY_DAYS`), else a local JSON-lines file (`GUARD_HISTORY_FILE`)
//! for the CLI; a Lambda without a table writes each record to its log.

use super::ChangeRecord;
use crate::aws::dynamodb;
use crate::config::Config;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Store {
    Table {
        client: aws_sdk_dynamodb::Client,
        table: String,
        days: u32,
    },
    File(PathBuf),
    /// A Lambda without a state table: the log line is the record.
    Log,
}

impl Store {
    /// The store the configuration names; `central` act in the guard account.
    pub fn configured(config: &Config, central: &crate::aws::clients::Clients) -> Self {
        match &config.state_table {
            Some(table) => Store::Table {
                client: central.dynamodb(),
                table: table.clone(),
                days: config.history_days,
            },
            None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Store::Log,
            None => Store::File(config.history_file.clone()),
        }
    }

    /// Where, as the report says it.
    pub fn describe(&self) -> String {
        match self {
            Store::Table { table, .. } => format!("dynamodb:{table}"),
            Store::File(path) => path.display().to_string(),
            Store::Log => "log".to_owned(),
        }
    }

    /// Keeps every record, or says which could not be kept.
    pub async fn append(&self, records: &[ChangeRecord], now_secs: u64) -> Result<(), String> {
        let encoded = records
            .iter()
            .map(|r| serde_json::to_string(r).map(|json| (r, json)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot encode a change record: {e}"))?;
        match self {
            Store::Table {
                client,
                table,
                days,
            } => {
                let expires = now_secs + u64::from(*days) * 86_400;
                let puts = encoded.iter().map(|(r, json)| async move {
                    dynamodb::put_change(client, table, &r.id, json, expires)
                        .await
                        .map_err(|e| format!("{}: {e}", r.id))
                });
                let failed: Vec<String> = futures::future::join_all(puts)
                    .await
                    .into_iter()
                    .filter_map(Result::err)
                    .collect();
                match failed.is_empty() {
                    true => Ok(()),
                    false => Err(failed.join("; ")),
                }
            }
            Store::File(path) => {
                let mut text = String::new();
                for (_, json) in &encoded {
                    text.push_str(json);
                    text.push('\n');
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_data()))
                    .map_err(|e| format!("cannot append to {}: {e}", path.display()))
            }
            Store::Log => {
                for (r, json) in &encoded {
                    tracing::info!(change_id = %r.id, record = %json, "change recorded");
                }
                Ok(())
            }
        }
    }

    /// Every record kept, oldest first.
    pub async fn list(&self) -> Result<Vec<ChangeRecord>, String> {
        let lines: Vec<String> = match self {
            Store::Table { client, table, .. } => dynamodb::scan_changes(client, table)
                .await
                .map_err(|e| format!("cannot read the change record: {e}"))?,
            Store::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_owned)
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            },
            Store::Log => {
                return Err(
                    "no change record here: set GUARD_STATE_TABLE (the function logs its records)"
                        .to_owned(),
                );
            }
        };
        let mut records = lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str::<ChangeRecord>(line)
                    .map_err(|e| format!("{}: record {}: {e}", self.describe(), i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        records.sort_by(|a, b| a.time.cmp(&b.time).then(a.id.cmp(&b.id)));
        Ok(records)
    }
}
