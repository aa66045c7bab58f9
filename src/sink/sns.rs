//! The SNS alert: one message per invocation that has anything other than
//! `compliant`/`skipped` (DESIGN.md, "Alerts"). The message is `alert`'s: the e-mail text
//! for every protocol, a custom notification for HTTPS (chat); publishing is `aws::sns`.
//! Published with the function's own account's clients (the topic is there).

use super::{Accounts, Delivery, Sink};
use crate::alert;
use crate::aws::sns;
use crate::config::Config;
use crate::report::{AlertOutcome, Report};
use futures::future::BoxFuture;

pub struct Alert {
    topic: Option<String>,
}

impl Alert {
    pub fn new(config: &Config) -> Self {
        Self {
            topic: config.alert_topic_arn.clone(),
        }
    }
}

impl Sink for Alert {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn deliver<'a>(
        &'a self,
        report: &'a Report,
        accounts: Accounts<'a>,
    ) -> BoxFuture<'a, Delivery> {
        Box::pin(
            async move { Delivery::Alert(publish(self.topic.as_deref(), report, accounts).await) },
        )
    }

    fn unfinished(&self, why: &str) -> Delivery {
        Delivery::Alert(AlertOutcome {
            error: Some(format!("alert {why}")),
            ..AlertOutcome::default()
        })
    }
}

async fn publish(topic: Option<&str>, report: &Report, accounts: Accounts<'_>) -> AlertOutcome {
    if !report.needs_attention() {
        return AlertOutcome {
            reason: Some("nothing needs attention".to_owned()),
            ..AlertOutcome::default()
        };
    }
    let Some(topic) = topic else {
        return AlertOutcome {
            reason: Some("GUARD_ALERT_TOPIC_ARN is not set; logged only".to_owned()),
            ..AlertOutcome::default()
        };
    };
    let region = sns::topic_region(topic).unwrap_or_default();
    let attributes = alert::attributes(report);
    match sns::publish(
        &accounts.function.sns(&region),
        topic,
        &alert::subject(report),
        &alert::message(report),
        &attributes,
    )
    .await
    {
        Ok(message_id) => AlertOutcome {
            published: true,
            message_id: Some(message_id),
            ..AlertOutcome::default()
        },
        Err(e) => {
            tracing::error!(topic, error = %e, "alert publish failed");
            AlertOutcome {
                error: Some(e.to_string()),
                ..AlertOutcome::default()
            }
        }
    }
}
