//! Destinations: each sink takes the finished report and delivers it somewhere.
//!
//! Adding a destination = one file here and one line in [`configured`]. The handler
//! calls every configured sink the same way, concurrently, each bounded by the
//! invocation's deadline, and records what each did in the report. A failed delivery
//! fails the invocation (so it is retried) and never undoes a remediation. Severity is
//! not decided here: `alert::classify` has already filled it in.

use crate::aws::clients::Clients;
use crate::config::Config;
use crate::report::{AlertOutcome, FindingsOutcome, Report};
use futures::future::BoxFuture;

pub mod securityhub;
pub mod sns;

/// The `event_name` of a `scan --bucket` report: a sweep of chosen buckets only, so a
/// bucket it did not see is not gone.
pub const SCAN_SELECTED: &str = "ScanBuckets";

/// The clients a sink may use. `function`: the account the function runs in (its alert
/// topic). `subject`: the account the report is about — the same in account scope; in
/// organization scope, the member account's clients (AssumeRole credentials), since
/// Security Hub only accepts findings whose `AwsAccountId` is the caller's.
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a> {
    pub function: &'a Clients,
    pub subject: &'a Clients,
}

impl<'a> Accounts<'a> {
    /// Account scope: the function guards its own account.
    pub fn single(clients: &'a Clients) -> Self {
        Self {
            function: clients,
            subject: clients,
        }
    }
}

/// What one sink did, recorded in the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Alert(AlertOutcome),
    Findings(FindingsOutcome),
}

impl Delivery {
    pub fn record(self, report: &mut Report) {
        match self {
            Delivery::Alert(a) => report.alert = a,
            Delivery::Findings(f) => report.security_hub = Some(f),
        }
    }
}

pub trait Sink: Send + Sync {
    fn name(&self) -> &'static str;
    /// Delivers the report; never panics, never returns early without saying why.
    fn deliver<'a>(&'a self, report: &'a Report, accounts: Accounts<'a>)
    -> BoxFuture<'a, Delivery>;
    /// What to record when the delivery did not finish before the deadline.
    fn unfinished(&self, why: &str) -> Delivery;
}

/// Every sink the configuration turns on, in delivery order.
pub fn configured(config: &Config) -> Vec<Box<dyn Sink>> {
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(sns::Alert::new(config))];
    if config.security_hub {
        sinks.push(Box::new(securityhub::Findings));
    }
    sinks
}

/// Runs every sink concurrently, each until `stop`, and records what each did.
pub async fn deliver_all(
    sinks: &[Box<dyn Sink>],
    report: &mut Report,
    accounts: Accounts<'_>,
    stop: tokio::time::Instant,
    unfinished: &str,
) {
    let shared: &Report = report;
    let deliveries = futures::future::join_all(sinks.iter().map(|sink| async move {
        match tokio::time::timeout_at(stop, sink.deliver(shared, accounts)).await {
            Ok(delivery) => delivery,
            Err(_) => {
                tracing::error!(
                    sink = sink.name(),
                    "delivery not finished before the deadline"
                );
                sink.unfinished(unfinished)
            }
        }
    }))
    .await;
    for delivery in deliveries {
        delivery.record(report);
    }
}
