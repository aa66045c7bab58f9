//! EventBridge Scheduler: notify-then-remediate's one-time schedules. A schedule's name
//! is derived from what it remediates, so a second event during the grace finds it
//! (`ConflictException`) instead of creating another.

use super::AwsError;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};

/// One schedule to create.
pub struct OneTime<'a> {
    pub group: &'a str,
    pub name: &'a str,
    /// `at(yyyy-mm-ddThh:mm:ss)`, UTC.
    pub at: &'a str,
    pub target_arn: &'a str,
    pub role_arn: &'a str,
    /// The event the target receives.
    pub input: &'a str,
    pub description: &'a str,
}

/// Created, or already there (the grace is already running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Exists,
}

pub async fn create_one_time(
    client: &aws_sdk_scheduler::Client,
    s: &OneTime<'_>,
) -> Result<Created, AwsError> {
    const OP: &str = "CreateSchedule";
    let target = Target::builder()
        .arn(s.target_arn)
        .role_arn(s.role_arn)
        .input(s.input)
        .build()
        .map_err(|e| AwsError::build(OP, e))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| AwsError::build(OP, e))?;
    let result = client
        .create_schedule()
        .group_name(s.group)
        .name(s.name)
        .schedule_expression(format!("at({})", s.at))
        .schedule_expression_timezone("UTC")
        .flexible_time_window(window)
        .target(target)
        .action_after_completion(ActionAfterCompletion::Delete)
        .description(s.description)
        .send()
        .await;
    match result {
        Ok(_) => Ok(Created::New),
        Err(e) if e.code() == Some("ConflictException") => Ok(Created::Exists),
        Err(e) => Err(AwsError::from_sdk(OP, e)),
    }
}
