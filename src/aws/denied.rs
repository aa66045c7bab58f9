//! What an access-denied answer means for this function: which IAM action was denied, on which
//! resource, to which role, and what to check.
//!
//! The action comes from `src/aws/operations.json`, the one operation → IAM action table (from
//! AWS's Service Authorization Reference) that `make iam` also evaluates requests with. The
//! resource and the role come from the denied request itself: the clients' request interceptor
//! ([`note_request`], [`annotate_response`]) keeps the request's signing scope and the
//! parameters that name its resource, and passes them to the error on local response headers
//! (never sent anywhere). Member credentials are recognised by their access key id, registered
//! when `sts:AssumeRole` issues them ([`remember_role`]); any other key is the function's own role.

use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

const TABLE: &str = include_str!("operations.json");
const SERVICE_HEADER: &str = "x-rekognition-guard-denied-service";
const RESOURCE_HEADER: &str = "x-rekognition-guard-denied-resource";
const ROLE_HEADER: &str = "x-rekognition-guard-denied-role";
/// Request parameters that name the resource, in the order they are preferred.
const RESOURCE_PARAMS: &[&str] = &[
    "RoleArn",
    "TopicArn",
    "KeyId",
    "QueueUrl",
    "TableName",
    "ProjectArn",
    "Name",
    "TargetId",
    "PolicyId",
];

/// `(signing service, operation)` → IAM action (`None`: the operation needs no permission).
fn table() -> &'static HashMap<(String, String), Option<String>> {
    static TABLE_MAP: OnceLock<HashMap<(String, String), Option<String>>> = OnceLock::new();
    TABLE_MAP.get_or_init(|| {
        let doc: serde_json::Value = serde_json::from_str(TABLE).unwrap_or_default();
        let mut out = HashMap::new();
        if let Some(services) = doc["operations"].as_object() {
            for (service, ops) in services {
                for (op, spec) in ops.as_object().into_iter().flatten() {
                    let action = spec["action"].as_str().map(str::to_owned);
                    out.insert((service.clone(), op.clone()), action);
                }
            }
        }
        out
    })
}

/// The IAM action that authorizes `operation` (as AWS names it) of `service` (its signing
/// name: `s3`, `kms`, `sts`, …), when the table knows it.
pub fn iam_action(service: &str, operation: &str) -> Option<String> {
    table()
        .get(&(service.to_owned(), operation.to_owned()))
        .cloned()
        .flatten()
}

fn roles() -> &'static Mutex<HashMap<String, String>> {
    static ROLES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    ROLES.get_or_init(Mutex::default)
}

/// Credentials issued for `role_arn` (an AssumeRole answer) sign with `access_key_id`.
pub fn remember_role(access_key_id: &str, role_arn: &str) {
    let mut roles = roles()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Bounded: a long-lived process assumes a role per account per hour.
    if roles.len() >= 10_000 {
        roles.clear();
    }
    roles.insert(access_key_id.to_owned(), role_arn.to_owned());
}

fn role_of(access_key_id: &str) -> Option<String> {
    roles()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(access_key_id)
        .cloned()
}

/// What a request was about, kept from transmit to the answer.
#[derive(Debug, Clone)]
struct Target {
    service: String,
    resource: String,
    role: String,
}

impl Storable for Target {
    type Storer = StoreReplace<Self>;
}

/// The role that signed the request, the service it went to and the resource it names.
fn target_of(request: &HttpRequest) -> Option<Target> {
    let auth = request.headers().get("authorization")?;
    let scope: Vec<&str> = auth
        .split_once("Credential=")?
        .1
        .split(',')
        .next()?
        .split('/')
        .collect();
    let (access_key, region, service) = (*scope.first()?, *scope.get(2)?, *scope.get(3)?);
    let role = role_of(access_key);
    let resource = if service == "s3" {
        s3_bucket(request.uri())
            .map(|b| format!("arn:{}:s3:::{b}", crate::region::partition(region)))
    } else {
        request.body().bytes().and_then(resource_param)
    };
    Some(Target {
        service: service.to_owned(),
        resource: resource.unwrap_or_else(|| "*".to_owned()),
        role: role.unwrap_or_default(),
    })
}

/// The bucket of an S3 request, path-style (`host/bucket/...`) or virtual-hosted
/// (`bucket.s3.<region>.amazonaws.com`).
fn s3_bucket(uri: &str) -> Option<String> {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.split(':').next().unwrap_or(host);
    if let Some((bucket, _)) = host.split_once(".s3.").or_else(|| host.split_once(".s3-")) {
        return Some(bucket.to_owned());
    }
    let first = path.split(['/', '?']).next().unwrap_or("");
    (!first.is_empty()).then(|| first.to_owned())
}

/// The first resource-naming parameter of a JSON or form-encoded request body.
fn resource_param(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if text.starts_with('{') {
        let doc: serde_json::Value = serde_json::from_str(text).ok()?;
        return RESOURCE_PARAMS
            .iter()
            .find_map(|k| doc[*k].as_str().map(str::to_owned));
    }
    let form: HashMap<String, String> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    RESOURCE_PARAMS.iter().find_map(|k| form.get(*k).cloned())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Interceptor hook, before transmit: remember what the request is about.
pub fn note_request(request: &HttpRequest, cfg: &mut ConfigBag) {
    if let Some(target) = target_of(request) {
        cfg.interceptor_state().store_put(target);
    }
}

/// Interceptor hook, before deserialization: a client error's answer carries what the request
/// was about (local headers), so [`crate::aws::AwsError`] can say what was denied.
pub fn annotate_response(response: &mut HttpResponse, cfg: &ConfigBag) {
    if !matches!(response.status().as_u16(), 400 | 403) {
        return;
    }
    let Some(target) = cfg.load::<Target>() else {
        return;
    };
    let headers = response.headers_mut();
    let _ = headers.try_insert(SERVICE_HEADER, target.service.clone());
    let _ = headers.try_insert(RESOURCE_HEADER, target.resource.clone());
    if !target.role.is_empty() {
        let _ = headers.try_insert(ROLE_HEADER, target.role.clone());
    }
}

/// A denied request, as the report and the alert state it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The IAM action, e.g. `s3:PutBucketPolicy` (the operation's name when the table lacks it).
    pub action: String,
    /// The resource ARN (or the parameter that names it); `*` for actions without a resource.
    pub resource: String,
    /// The member role's ARN, or `None`: the function's own role.
    pub member_role: Option<String>,
}

impl Denied {
    /// From a denied answer's local headers (see [`annotate_response`]).
    pub fn from_response(operation: &str, response: Option<&HttpResponse>) -> Denied {
        let header = |name: &str| {
            response
                .and_then(|r| r.headers().get(name))
                .map(str::to_owned)
        };
        let service = header(SERVICE_HEADER).unwrap_or_default();
        Denied {
            action: iam_action(&service, operation).unwrap_or_else(|| {
                if service.is_empty() {
                    operation.to_owned()
                } else {
                    format!("{service}:{operation}")
                }
            }),
            resource: header(RESOURCE_HEADER).unwrap_or_else(|| "*".to_owned()),
            member_role: header(ROLE_HEADER),
        }
    }

    /// `<action> on <resource> denied to <role>: <what to check>`.
    pub fn explain(&self) -> String {
        let on = if self.resource == "*" {
            String::new()
        } else {
            format!(" on {}", self.resource)
        };
        match &self.member_role {
            Some(role) => format!(
                "{action}{on} denied to the member role {role}: is the member role's StackSet instance current \
                 in that account (deploy/member-role.yaml grants {action})? An SCP, RCP or resource policy may also deny it",
                action = self.action
            ),
            None => format!(
                "{action}{on} denied to this function's role: does the stack's role grant it (template.yaml \
                 RemediationPolicy, with this resource in its bucket prefixes or patterns)? An SCP, RCP, permissions \
                 boundary or resource policy may also deny it",
                action = self.action
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_maps_s3_operations_to_their_permission_names() {
        assert!(table().len() > 40, "operations.json did not parse");
        assert_eq!(
            iam_action("s3", "GetBucketEncryption").as_deref(),
            Some("s3:GetEncryptionConfiguration")
        );
        assert_eq!(
            iam_action("s3", "PutPublicAccessBlock").as_deref(),
            Some("s3:PutBucketPublicAccessBlock")
        );
        assert_eq!(
            iam_action("s3", "GetBucketReplication").as_deref(),
            Some("s3:GetReplicationConfiguration")
        );
        assert_eq!(iam_action("sts", "GetCallerIdentity"), None);
        assert_eq!(
            iam_action("sqs", "SendMessageBatch").as_deref(),
            Some("sqs:SendMessage")
        );
    }

    /// Every action the code declares is the action of some operation in the table.
    #[test]
    fn every_declared_action_is_in_the_table() {
        let actions: Vec<String> = table().values().flatten().cloned().collect();
        for (action, _) in super::super::permissions::IAM_ACTIONS
            .iter()
            .chain(super::super::permissions::ORG_ACTIONS)
            .chain(super::super::permissions::MEMBER_ACTIONS)
        {
            assert!(actions.iter().any(|a| a == action), "{action}");
        }
    }

    #[test]
    fn buckets_from_path_style_and_virtual_hosted_uris() {
        assert_eq!(
            s3_bucket("http://127.0.0.1:5000/my-bucket?policy").as_deref(),
            Some("my-bucket")
        );
        assert_eq!(
            s3_bucket("https://my-bucket.s3.eu-west-1.amazonaws.com/?policy").as_deref(),
            Some("my-bucket")
        );
        assert_eq!(s3_bucket("https://s3.us-east-1.amazonaws.com/"), None);
    }

    #[test]
    fn resources_from_json_and_form_bodies() {
        assert_eq!(
            resource_param(br#"{"KeyId":"arn:aws:kms:us-east-1:1:key/k"}"#).as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/k")
        );
        assert_eq!(
            resource_param(b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&X=1")
                .as_deref(),
            Some("arn:aws:iam::1:role/r")
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn a_member_denial_says_to_check_the_stack_set_instance() {
        let d = Denied {
            action: "s3:PutBucketPolicy".into(),
            resource: "arn:aws:s3:::b".into(),
            member_role: Some("arn:aws:iam::111122223333:role/RekognitionGuardMember".into()),
        };
        let text = d.explain();
        assert!(text.starts_with("s3:PutBucketPolicy on arn:aws:s3:::b denied to the member role arn:aws:iam::111122223333:role/RekognitionGuardMember"), "{text}");
        assert!(
            text.contains("is the member role's StackSet instance current"),
            "{text}"
        );
    }
}
