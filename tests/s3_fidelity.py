"""S3 fidelity layer for the test harness: answers as Amazon S3 does where moto does not.

moto accepts what S3 refuses, so a test can pass against it and the same call fail in
production. tests/fault_proxy.py, started with --fidelity, routes every S3 request through
`Fidelity.handle` before (or instead of) moto. Each behaviour below names the AWS page it
follows; nothing here is a fake of S3 as a whole: state lives in moto, except what moto cannot
hold (a bucket's blocked encryption types, which moto 5.2.1 drops).

Behaviours (one function each, below):
  CreateBucket            -> default encryption SSE-S3 (AES256), SSE-C blocked
  GetBucketEncryption     -> the rule carries <BlockedEncryptionTypes>
  PutBucketEncryption     -> records what the body says about BlockedEncryptionTypes
  DeleteBucketEncryption  -> resets to SSE-S3, as S3 documents
  PutBucketPolicy         -> refuses over 20 KB, unique-id principals, and a public policy
                             under BlockPublicPolicy, with S3's status, code and XML body
  GetBucketPolicyStatus   -> computed from the policy with `is_public_policy`

The module imports nothing outside the standard library and makes no network call of its own:
the proxy hands it a `send(method, path, body, headers)` that reaches moto on loopback.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import uuid
import xml.etree.ElementTree as ET

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

# --------------------------------------------------------------------------------------------
# Errors, in S3's REST error format.
# https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#RESTErrorResponses
# --------------------------------------------------------------------------------------------


def error(status: int, code: str, message: str, resource: str = "") -> tuple[int, list, bytes]:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{_xml_escape(message)}</Message>"
        + (f"<Resource>{_xml_escape(resource)}</Resource>" if resource else "")
        + f"<RequestId>{request_id}</RequestId><HostId>s3-fidelity</HostId></Error>"
    )
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    return status, headers, body.encode()


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --------------------------------------------------------------------------------------------
# "Is this bucket policy public?"
# Follows "The meaning of 'public'" > "Bucket policies", Amazon S3 User Guide:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
#
#   "When evaluating a bucket policy, Amazon S3 begins by assuming that the policy is public. It
#    then evaluates the policy to determine whether it qualifies as non-public. To be considered
#    non-public, a bucket policy must grant access only to fixed values (values that don't
#    contain a wildcard or an AWS Identity and Access Management Policy Variable) for one or
#    more of the following: an AWS principal, user, role, or service principal (e.g.
#    aws:PrincipalOrgID); a set of CIDR blocks, using aws:SourceIp [...]; aws:SourceArn;
#    aws:SourceVpc; aws:SourceVpce; aws:SourceOwner; aws:SourceAccount; aws:userid, outside the
#    pattern "AROLEID:*"; s3:DataAccessPointArn [...]; s3:DataAccessPointAccount."
#
# So: the policy is public when any Allow statement grants access to a principal that is not
# fixed (`*`, `{"AWS": "*"}`, an ARN with a wildcard, NotPrincipal) and no condition of that
# statement pins one of the keys below to fixed values with an operator that narrows.
# --------------------------------------------------------------------------------------------

# The page's keys. The principal category is open ("e.g. aws:PrincipalOrgID"); the keys that name
# the calling principal are aws:PrincipalOrgID, aws:PrincipalAccount and aws:PrincipalArn.
# (Older revisions of the page also listed s3:x-amz-server-side-encryption-aws-kms-key-id; the
# current one does not, so it does not make a statement non-public here.)
PRINCIPAL_KEYS = {"aws:principalorgid", "aws:principalaccount", "aws:principalarn"}
FIXED_VALUE_KEYS = PRINCIPAL_KEYS | {
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:userid",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
}
SOURCE_IP = "aws:sourceip"
# Operators that narrow who may act (the negated ones, Null and `...IfExists` do not: a request
# without the key, or with any other value, passes them).
NARROWING_STRING_OPS = {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
NARROWING_IP_OPS = {"ipaddress"}
# The page's note: "very broad IP ranges (for example, 0.0.0.0/1) are evaluated as 'public'.
# This includes values broader than /8 for IPv4 and /32 for IPv6 (excluding RFC1918 private
# ranges)."
RFC1918 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _has_wildcard(value) -> bool:
    """A value that is not fixed: a wildcard or an IAM policy variable (`${...}`)."""
    text = str(value)
    return "*" in text or "?" in text or "${" in text


def _fixed_principal(principal) -> bool:
    """An AWS principal, user, role or service principal given by fixed values only."""
    if principal is None:
        return False
    if isinstance(principal, str):
        return principal != "*" and not _has_wildcard(principal)
    if not isinstance(principal, dict) or not principal:
        return False
    values = [v for vs in principal.values() for v in _as_list(vs)]
    return bool(values) and all(isinstance(v, str) and not _has_wildcard(v) for v in values)


def _cidr_is_fixed(value) -> bool:
    """aws:SourceIp narrows only to a CIDR no broader than /8 (IPv4) or /32 (IPv6), or private."""
    if not isinstance(value, str) or _has_wildcard(value):
        return False
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return False
    if net.version == 4 and any(net.subnet_of(p) for p in RFC1918):
        return True
    return net.prefixlen >= (8 if net.version == 4 else 32)


def _value_is_fixed(key: str, value) -> bool:
    if not isinstance(value, str):
        # Numbers and booleans carry no wildcard.
        return isinstance(value, (int, float, bool))
    if key == "aws:userid" and re.fullmatch(r"[A-Z0-9]+:\*", value):
        # "aws:userid, outside the pattern 'AROLEID:*'": a fixed role id with any session.
        return True
    if key == "s3:dataaccesspointarn":
        # "this value can contain a wildcard for the access point name without rendering the
        # policy public, as long as the account ID is fixed."
        parts = value.split(":", 5)
        return (
            len(parts) == 6
            and not any(_has_wildcard(p) for p in parts[:5])
            and parts[5].startswith("accesspoint/")
            and not _has_wildcard(parts[5].split("/", 1)[0])
        )
    return not _has_wildcard(value)


def _operator(name: str) -> tuple[str, bool]:
    """(base operator, narrows?) of a condition operator such as `ForAnyValue:StringEquals`."""
    op = name.lower()
    if op.startswith("forallvalues:"):
        # An empty request set satisfies ForAllValues: it does not narrow.
        return op.split(":", 1)[1], False
    if op.startswith("foranyvalue:"):
        op = op.split(":", 1)[1]
    if op.endswith("ifexists"):
        # Passes when the key is absent: does not narrow.
        return op[: -len("ifexists")], False
    return op, True


def _conditions_make_non_public(condition) -> bool:
    """True when some condition pins one of the page's keys to fixed values."""
    if not isinstance(condition, dict):
        return False
    for op_name, block in condition.items():
        op, narrows = _operator(str(op_name))
        if not narrows or not isinstance(block, dict):
            continue
        for key, values in block.items():
            key = str(key).lower()
            values = _as_list(values)
            if not values:
                continue
            if key == SOURCE_IP and op in NARROWING_IP_OPS and all(_cidr_is_fixed(v) for v in values):
                return True
            if key in FIXED_VALUE_KEYS and op in NARROWING_STRING_OPS and all(
                _value_is_fixed(key, v) for v in values
            ):
                return True
    return False


def statement_is_public(statement) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    if "NotPrincipal" in statement:
        # Allow to everyone but a few: not a fixed principal.
        return not _conditions_make_non_public(statement.get("Condition"))
    if _fixed_principal(statement.get("Principal")):
        return False
    return not _conditions_make_non_public(statement.get("Condition"))


def is_public_policy(policy) -> bool:
    """S3's verdict on a bucket policy (a parsed document or its JSON text)."""
    if isinstance(policy, (str, bytes)):
        policy = json.loads(policy)
    if not isinstance(policy, dict):
        return False
    return any(statement_is_public(s) for s in _as_list(policy.get("Statement")))


# --------------------------------------------------------------------------------------------
# PutBucketPolicy checks.
# --------------------------------------------------------------------------------------------

# "Bucket policies are limited to 20 KB in size." (Adding a bucket policy by using the Amazon S3
# console: https://docs.aws.amazon.com/AmazonS3/latest/userguide/add-bucket-policy.html). S3
# counts the document without insignificant whitespace.
MAX_POLICY_BYTES = 20 * 1024
# S3's error list (ErrorResponses.html) does not document the code for this case. The code and
# message are those S3-compatible servers return "as per the S3 API" (MinIO's PolicyTooLarge,
# HTTP 400, "Policy exceeds the maximum allowed document size."); AWS has not been observed here.
POLICY_TOO_LARGE = (400, "PolicyTooLarge", "Policy exceeds the maximum allowed document size.")

# IAM unique ids (Understanding unique ID prefixes:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-prefixes).
# A bucket policy whose principal was deleted shows that principal's unique id ("If an IAM
# identity is deleted after you update your bucket policy, the bucket policy will show a unique
# identifier in the principal element instead of an ARN":
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-bucket-user-policy-specifying-principal-intro.html),
# and S3 refuses to have such a policy put back: HTTP 400 MalformedPolicy "Invalid principal in
# policy" (as PutBucketPolicy answers for a principal it cannot resolve; seen from AWS for an
# `AROA...` principal in ministryofjustice/analytical-platform#4932).
UNIQUE_ID = re.compile(r"^(AIDA|AROA|AGPA|AIPA|ANPA|ANVA|APKA|ASCA|ASIA|AKIA)[A-Z0-9]{12,}$")
INVALID_PRINCIPAL = (400, "MalformedPolicy", "Invalid principal in policy")
# Not JSON at all: S3's MalformedPolicy for a document it cannot parse.
NOT_JSON = (400, "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")


def minified_size(policy) -> int:
    return len(json.dumps(policy, separators=(",", ":"), ensure_ascii=False).encode())


def unique_id_principals(policy) -> list[str]:
    found = []
    for statement in _as_list(policy.get("Statement") if isinstance(policy, dict) else None):
        if not isinstance(statement, dict):
            continue
        for field in ("Principal", "NotPrincipal"):
            principal = statement.get(field)
            if isinstance(principal, dict):
                for value in _as_list(principal.get("AWS")):
                    if isinstance(value, str) and UNIQUE_ID.match(value):
                        found.append(value)
    return found


# --------------------------------------------------------------------------------------------
# The layer: a handler per S3 operation, state per bucket.
# --------------------------------------------------------------------------------------------

# "By default, all buckets have a default encryption configuration that uses server-side
# encryption with Amazon S3 managed keys (SSE-S3)." (PutBucketEncryption:
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html)
SSE_S3_CONFIG = (
    f'<ServerSideEncryptionConfiguration xmlns="{S3_XMLNS}"><Rule><ApplyServerSideEncryptionByDefault>'
    "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
    "<BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"
).encode()
# "Starting April 2026, Amazon S3 automatically disables server-side encryption with
# customer-provided keys (SSE-C) for all new general purpose buckets." (Blocking or unblocking
# SSE-C for a general purpose bucket:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/blocking-unblocking-s3-c-encryption-gpb.html)
NEW_BUCKET_BLOCKED = ["SSE-C"]
# Headers that carry who is calling (moto picks the account from the access key).
IDENTITY_HEADERS = ("authorization", "x-amz-security-token", "x-amz-date", "user-agent")


class Fidelity:
    """Per-proxy state and the S3 behaviours moto lacks. Thread-safe."""

    def __init__(self, account: str = "123456789012"):
        self.lock = threading.Lock()
        # bucket -> blocked encryption types, for buckets created through this layer (a bucket
        # it did not see created is one from before April 2026: nothing is blocked).
        self.blocked: dict[str, list[str]] = {}
        self.account = account

    def reset(self):
        with self.lock:
            self.blocked.clear()

    def blocked_types(self, bucket: str) -> list[str] | None:
        with self.lock:
            got = self.blocked.get(bucket)
            return list(got) if got is not None else None

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, operation, method, path, query, headers, body, send):
        """(status, headers, body, behaviour) or None (forward unchanged).

        `path` and `query` are the request's, split; handlers get them joined back (`target`).

        `send(method, path, body, headers)` reaches moto and returns (status, headers, body).
        """
        if path.startswith("/moto-api/"):
            if path.startswith("/moto-api/reset"):
                self.reset()
            return None
        bucket = path.strip("/").split("/", 1)[0]
        if not bucket:
            return None
        handler = {
            "CreateBucket": self.create_bucket,
            "DeleteBucket": self.delete_bucket,
            "GetBucketEncryption": self.get_bucket_encryption,
            "PutBucketEncryption": self.put_bucket_encryption,
            "DeleteBucketEncryption": self.delete_bucket_encryption,
            "PutBucketPolicy": self.put_bucket_policy,
            "GetBucketPolicyStatus": self.get_bucket_policy_status,
        }.get(operation)
        if handler is None:
            return None
        identity = {k: v for k, v in headers.items() if k.lower() in IDENTITY_HEADERS}
        target = path + ("?" + query if query else "")
        return handler(bucket, method, target, body, headers, identity, send)

    # -- default encryption ---------------------------------------------------------------

    def create_bucket(self, bucket, method, path, body, headers, identity, send):
        """A new bucket gets SSE-S3 default encryption and SSE-C blocked.

        Default encryption: "Amazon S3 now applies server-side encryption with Amazon S3 managed
        keys (SSE-S3) as the base level of encryption for every bucket" (Setting default
        server-side encryption behavior for Amazon S3 buckets:
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-encryption.html).
        SSE-C: blocked on every new general purpose bucket since April 2026 (Default SSE-C
        setting for new buckets FAQ:
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-s3-c-encryption-setting-faq.html).
        A CreateBucket of a bucket that exists changes nothing (us-east-1 answers 200 to its
        owner), so the defaults apply only when the bucket did not exist before.
        """
        existed = send("HEAD", "/" + bucket, b"", identity)[0] == 200
        status, rheaders, data = send(method, path, body, headers)
        if status != 200 or existed:
            return status, rheaders, data, None
        put = send("PUT", f"/{bucket}?encryption", SSE_S3_CONFIG, dict(identity, **{"Content-Type": "application/xml"}))
        with self.lock:
            self.blocked[bucket] = list(NEW_BUCKET_BLOCKED)
        return status, rheaders, data, "new-bucket-defaults" if put[0] == 200 else "new-bucket-defaults-failed"

    def delete_bucket(self, bucket, method, path, body, headers, identity, send):
        status, rheaders, data = send(method, path, body, headers)
        if status == 204:
            with self.lock:
                self.blocked.pop(bucket, None)
        return status, rheaders, data, None

    def get_bucket_encryption(self, bucket, method, path, body, headers, identity, send):
        """The rule carries BlockedEncryptionTypes, as GetBucketEncryption returns it
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketEncryption.html, response
        element ServerSideEncryptionConfiguration > Rule > BlockedEncryptionTypes > EncryptionType;
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_BlockedEncryptionTypes.html).
        moto drops the element: it is added here from this layer's state."""
        status, rheaders, data = send(method, path, body, headers)
        blocked = self.blocked_types(bucket)
        if status != 200 or not blocked or b"</Rule>" not in data:
            return status, rheaders, data, None
        element = (
            "<BlockedEncryptionTypes>"
            + "".join(f"<EncryptionType>{_xml_escape(t)}</EncryptionType>" for t in blocked)
            + "</BlockedEncryptionTypes>"
        ).encode()
        data = data.replace(b"</Rule>", element + b"</Rule>")
        return status, _without_length(rheaders), data, "blocked-encryption-types"

    def put_bucket_encryption(self, bucket, method, path, body, headers, identity, send):
        """Records BlockedEncryptionTypes from the request (valid values NONE | SSE-C:
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_BlockedEncryptionTypes.html).

        A request that omits the element leaves the bucket's setting as it was: the element is
        optional ("Required: No", same page), S3 documents no reset for its absence, and a put
        without it does not clear a block in practice (Terraform configurations that omit it keep
        showing SSE-C blocked after every apply: serverless-ca/terraform-aws-ca#677). The proxy
        log says whether the request carried it (`blocked_encryption_types_sent`), so a test can
        still require a writer to carry what it read."""
        sent = blocked_types_in(body)
        status, rheaders, data = send(method, path, body, headers)
        if status == 200 and sent is not None:
            with self.lock:
                self.blocked[bucket] = sent
        return status, rheaders, data, "blocked-encryption-types-recorded" if sent is not None else None

    def delete_bucket_encryption(self, bucket, method, path, body, headers, identity, send):
        """"This implementation of the DELETE action resets the default encryption for the bucket
        as server-side encryption with Amazon S3 managed keys (SSE-S3)."
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucketEncryption.html). moto
        removes the configuration instead: SSE-S3 is written back. The page says nothing of
        blocked encryption types: they stay as they were."""
        status, rheaders, data = send(method, path, body, headers)
        if status != 204:
            return status, rheaders, data, None
        send("PUT", f"/{bucket}?encryption", SSE_S3_CONFIG, dict(identity, **{"Content-Type": "application/xml"}))
        return status, rheaders, data, "reset-to-sse-s3"

    # -- bucket policy --------------------------------------------------------------------

    def put_bucket_policy(self, bucket, method, path, body, headers, identity, send):
        """PutBucketPolicy (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html)
        refuses, before anything is stored:
          - a document over 20 KB (see MAX_POLICY_BYTES);
          - a principal given as an IAM unique id (see UNIQUE_ID);
          - a public policy while the bucket's BlockPublicPolicy is on: "Setting this element to
            TRUE causes Amazon S3 to reject calls to PUT Bucket policy if the specified bucket
            policy allows public access." (PublicAccessBlockConfiguration:
            https://docs.aws.amazon.com/AmazonS3/latest/API/API_PublicAccessBlockConfiguration.html),
            with HTTP 403 AccessDenied "... is not authorized to perform: s3:PutBucketPolicy on
            resource: "arn:aws:s3:::BUCKET" because public policies are blocked by the
            BlockPublicPolicy block public access setting." (S3's answer, e.g.
            hashicorp Terraform runs quoted across GitHub).
        Anything else goes to moto."""
        try:
            policy = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return (*error(*NOT_JSON), "malformed-policy")
        if minified_size(policy) > MAX_POLICY_BYTES:
            return (*error(*POLICY_TOO_LARGE), "policy-too-large")
        if unique_id_principals(policy):
            return (*error(*INVALID_PRINCIPAL), "invalid-principal")
        if is_public_policy(policy) and self.block_public_policy(bucket, identity, send):
            caller = f"arn:aws:iam::{self.account}:root"
            message = (
                f"User: {caller} is not authorized to perform: s3:PutBucketPolicy on resource: "
                f'"arn:aws:s3:::{bucket}" because public policies are blocked by the '
                "BlockPublicPolicy block public access setting."
            )
            return (*error(403, "AccessDenied", message), "public-policy-blocked")
        return None

    def block_public_policy(self, bucket, identity, send) -> bool:
        """The bucket's BlockPublicPolicy, read from moto
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetPublicAccessBlock.html)."""
        status, _, data = send("GET", f"/{bucket}?publicAccessBlock", b"", identity)
        if status != 200:
            return False
        return _xml_flag(data, "BlockPublicPolicy")

    def get_bucket_policy_status(self, bucket, method, path, body, headers, identity, send):
        """GetBucketPolicyStatus
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicyStatus.html):
        `<PolicyStatus><IsPublic>true|false</IsPublic></PolicyStatus>` by the rules of "The meaning
        of 'public'" (is_public_policy). A bucket without a policy answers as GetBucketPolicy does
        (404 NoSuchBucketPolicy), and so does a bucket that does not exist (404 NoSuchBucket)."""
        status, rheaders, data = send("GET", f"/{bucket}?policy", b"", identity)
        if status != 200:
            return status, rheaders, data, "policy-status"
        try:
            public = is_public_policy(data.decode("utf-8"))
        except ValueError:
            public = True
        answer = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<PolicyStatus xmlns="{S3_XMLNS}"><IsPublic>{"true" if public else "false"}</IsPublic></PolicyStatus>'
        ).encode()
        return 200, [("Content-Type", "application/xml")], answer, "policy-status"


def blocked_types_in(body: bytes) -> list[str] | None:
    """EncryptionType values under BlockedEncryptionTypes in a PutBucketEncryption body, or None
    when the request has no BlockedEncryptionTypes element."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    found = None
    for el in root.iter():
        if _local(el.tag) == "BlockedEncryptionTypes":
            found = found or []
            found += [(t.text or "").strip() for t in el if _local(t.tag) == "EncryptionType"]
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_flag(data: bytes, name: str) -> bool:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return False
    for el in root.iter():
        if _local(el.tag) == name:
            return (el.text or "").strip().lower() == "true"
    return False


def _without_length(headers):
    return [(k, v) for k, v in headers if k.lower() != "content-length"]
