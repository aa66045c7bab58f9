//! Member credentials: `sts:AssumeRole` into `GUARD_MEMBER_ROLE_NAME` through the regional
//! STS endpoint, with the ExternalId when one is configured, cached per account until five
//! minutes before expiry. The guard account itself is served with the function's own.

use super::{ACCESS_CONTROL, Router, role_arn, session_name, single};
use crate::aws::sts;
use crate::handler::App;
use crate::report::{ControlResult, Resource, ResourceType, Status};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{info, warn};

/// Member credentials are renewed this long before they expire.
const CREDENTIAL_MARGIN: Duration = Duration::from_secs(300);

pub(super) struct Member {
    app: Arc<App>,
    expires: SystemTime,
}

pub(super) type MemberSlot = Arc<tokio::sync::Mutex<Option<Member>>>;

impl Router {
    /// The `App` acting in `account`: the function's own for the guard account, else one
    /// built from the member role's credentials (cached per account until 5 minutes
    /// before they expire). A failure is the `member-access` resource to report.
    pub async fn account_app(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Arc<App>, Box<Resource>> {
        if let Ok(own) = self.app.account().await
            && own == account
        {
            return Ok(Arc::clone(&self.app));
        }
        let slot = Arc::clone(
            self.members
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(account.to_owned())
                .or_default(),
        );
        let mut slot = slot.lock().await;
        if let Some(member) = &*slot
            && member.expires > SystemTime::now() + CREDENTIAL_MARGIN
        {
            return Ok(Arc::clone(&member.app));
        }
        let role = role_arn(region, account, &self.config().member_role_name);
        match sts::assume_role(
            &self.app.central.sts_in(region),
            &role,
            &session_name(),
            self.config().member_external_id.as_deref(),
        )
        .await
        {
            Ok(credentials) => {
                info!(account, role = %role, "assumed the member role");
                let clients = self.app.central.for_credentials(credentials.credentials);
                let app = Arc::new(self.app.for_account(account, clients));
                *slot = Some(Member {
                    app: Arc::clone(&app),
                    expires: credentials.expires,
                });
                Ok(app)
            }
            Err(e) => {
                warn!(account, role = %role, error = %e, "member role not assumed");
                let why = if e.is_access_denied() {
                    "access denied"
                } else {
                    "failed"
                };
                Err(Box::new(single(
                    ResourceType::Account,
                    account,
                    ControlResult::new(
                        ACCESS_CONTROL,
                        Status::Failed,
                        format!(
                            "account not onboarded: sts:AssumeRole on {role} {why} ({e}); none of the account's resources were read or changed"
                        ),
                    ),
                )))
            }
        }
    }
}
