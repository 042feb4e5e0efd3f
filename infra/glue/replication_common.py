"""What the Glue jobs share (initial_load.py, verify_job.py): endpoints, argument parsing, the target
role's refreshing credentials, clients, parallel-scan reading, AttributeValue wire form and the
target's view of an item.

Glue ships this file next to each job's script (PySparkEtlJob ``extraPythonFiles``,
infra/constructs/glue-job-support.ts), so ``import replication_common`` works on the driver and on
every executor. Like the scripts, it imports neither pyspark nor awsglue: everything here runs and
is tested without Spark (test/glue).
"""

import base64
import datetime
import hashlib
import json
import os
import time

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.utils import parse_timestamp

MAX_SEGMENTS = 1_000_000  # DynamoDB Scan TotalSegments limit
DEFAULT_ROLE_SESSION_NAME = "ddb-replicate-glue"

# Throttling errors are retried by botocore itself (standard mode).
CLIENT_CONFIG = Config(retries={"max_attempts": 10, "mode": "standard"}, connect_timeout=10, read_timeout=60)


class ReplicationJobError(Exception):
    """Root of the errors the Glue scripts raise (mirrors handlers/core/errors.ts ReplicationError)."""


class ConfigurationError(ReplicationJobError):
    """Job arguments or table definitions that make the job impossible; raised before any work starts."""


# --------------------------------------------------------------------------- configuration


def service_endpoint(service):
    """Endpoint override from AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL, else None (the AWS default).

    botocore honours these variables itself only from 1.31; Debian 12's python3-boto3 ships 1.29, so
    they are read here and passed as endpoint_url (harmless, and identical, on newer botocore).
    """
    return os.environ.get("AWS_ENDPOINT_URL_" + service.upper()) or os.environ.get("AWS_ENDPOINT_URL") or None


def parse_int_arg(args, name, default, minimum, maximum=None):
    raw = str(args.get(name) or "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ConfigurationError(f"--{name} must be an integer, got {raw!r}") from error
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigurationError(f"--{name} must be {bounds}, got {value}")
    return value


def parse_bool_arg(args, name):
    raw = str(args.get(name) or "false").strip().lower()
    if raw not in ("true", "false"):
        raise ConfigurationError(f"--{name} must be true or false, got {raw!r}")
    return raw == "true"



# --------------------------------------------------------------------------- credentials


class _AssumedRoleProvider(CredentialProvider):
    METHOD = "assume-role-external-id"

    def __init__(self, credentials):
        super().__init__()
        self._credentials = credentials

    def load(self):
        return self._credentials


def default_sts_client(region):
    session = _new_botocore_session()
    # Older botocore defaults to the global endpoint; the regional one is what Glue (and a VPC endpoint) reach.
    session.set_config_variable("sts_regional_endpoints", "regional")
    return session.create_client("sts", region_name=region, endpoint_url=service_endpoint("sts"), config=CLIENT_CONFIG)


def target_session(role_arn, external_id, region, sts_client=None, clock=time.time, session_name=DEFAULT_ROLE_SESSION_NAME):
    """A boto3 Session on the target role (AssumeRole with ExternalId) whose credentials refresh themselves.

    A chained AssumeRole lasts at most one hour, shorter than a big load: botocore's
    RefreshableCredentials calls ``refresh`` again 15 min (advisory) / 10 min (mandatory) before
    expiry. It is built with its constructor rather than ``create_from_metadata`` only to pass
    ``time_fetcher`` (from ``clock``) so the refresh is testable without waiting an hour.
    """
    sts = sts_client or default_sts_client(region)

    def refresh():
        response = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, ExternalId=external_id)
        credentials = response["Credentials"]
        expiration = credentials["Expiration"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": expiration.isoformat() if isinstance(expiration, datetime.datetime) else str(expiration),
        }

    metadata = refresh()  # fail fast (wrong role, missing ExternalId) before any work starts
    credentials = RefreshableCredentials(
        access_key=metadata["access_key"],
        secret_key=metadata["secret_key"],
        token=metadata["token"],
        expiry_time=parse_timestamp(metadata["expiry_time"]),
        refresh_using=refresh,
        method=_AssumedRoleProvider.METHOD,
        time_fetcher=lambda: datetime.datetime.fromtimestamp(clock(), tz=datetime.timezone.utc),
    )
    session = _new_botocore_session()
    session.get_component("credential_provider").insert_before("env", _AssumedRoleProvider(credentials))
    return boto3.Session(botocore_session=session, region_name=region)


_LOADER = []


def _new_botocore_session():
    """A botocore session sharing one data loader: a session per client, because boto3's default
    session is not safe to create clients from in several threads at once (the verify job's local
    runner and re-check use threads), without parsing the service models again for each one."""
    session = botocore.session.get_session()
    if not _LOADER:
        _LOADER.append(session.get_component("data_loader"))
    session.register_component("data_loader", _LOADER[0])
    return session


def _new_session():
    return boto3.session.Session(botocore_session=_new_botocore_session())


def source_dynamodb_client(cfg):
    return _new_session().client("dynamodb", region_name=cfg["source_region"], endpoint_url=service_endpoint("dynamodb"), config=CLIENT_CONFIG)


def target_dynamodb_client(cfg, sts_client=None):
    """A client on the target table's Region: through the target role (cfg ``target_role_arn``), or,
    without one (a local run against one account or DynamoDB Local), the default credentials."""
    if not cfg.get("target_role_arn"):
        return _new_session().client("dynamodb", region_name=cfg["target_region"], endpoint_url=service_endpoint("dynamodb"), config=CLIENT_CONFIG)
    session = target_session(cfg["target_role_arn"], cfg["external_id"], cfg["target_region"], sts_client=sts_client,
                             session_name=cfg.get("role_session_name") or DEFAULT_ROLE_SESSION_NAME)
    return session.client("dynamodb", endpoint_url=service_endpoint("dynamodb"), config=CLIENT_CONFIG)


def s3_client(region):
    endpoint = service_endpoint("s3")
    # A local endpoint (tests, emulators) has no per-bucket DNS names.
    config = CLIENT_CONFIG.merge(Config(s3={"addressing_style": "path"})) if endpoint else CLIENT_CONFIG
    return _new_session().client("s3", region_name=region, endpoint_url=endpoint, config=config)


# --------------------------------------------------------------------------- reading


def scan_segment(client, table, segment, total_segments, page_limit=None, consistent_read=False):
    """Yields the raw items (AttributeValue maps) of one parallel-scan segment, following LastEvaluatedKey."""
    request = {"TableName": table, "Segment": segment, "TotalSegments": total_segments, "ConsistentRead": consistent_read}
    if page_limit:
        request["Limit"] = page_limit
    while True:
        page = client.scan(**request)
        yield from page.get("Items", [])
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return
        request["ExclusiveStartKey"] = last_key


def from_wire_value(value):
    """A wire-form AttributeValue (JSON, binary as base64: a DYNAMODB_JSON export line, a verify report key) -> the boto3 low-level form."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError("an AttributeValue must be an object with exactly one type key")
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner, validate=True)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v, validate=True) for v in inner]}
    if kind == "M":
        return {"M": {name: from_wire_value(v) for name, v in inner.items()}}
    if kind == "L":
        return {"L": [from_wire_value(v) for v in inner]}
    if kind in ("S", "N", "SS", "NS", "BOOL", "NULL"):
        return {kind: inner}
    raise ValueError(f"unknown AttributeValue type {kind!r}")


# --------------------------------------------------------------------------- the target's view
#
# The same function as handlers/core/target-policy.ts ``view`` (and redaction.ts ``redactedValue``):
# an item outside the target's filter is not copied, the others are copied with the redaction
# applied. test/fixtures/redaction-vectors.json, generated from the TypeScript, holds both to the
# same results (test/unit/redaction-vectors.test.ts, test/glue/test_initial_load.py).


def parse_target_policy(raw):
    """``--target_policy`` JSON -> dict, or None when unset (every item, as is)."""
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        policy = json.loads(text)
    except ValueError as error:
        raise ConfigurationError("--target_policy is not JSON") from error
    if not isinstance(policy, dict) or not isinstance(policy.get("partitionKeyName"), str):
        raise ConfigurationError("--target_policy must be an object with partitionKeyName (as infra/constructs/initial-load-job.ts initialLoadTargetPolicy writes it)")
    redaction = policy.get("redaction")
    if redaction is not None:
        redact_with = redaction.get("redactWith") or {}
        if not (isinstance(redact_with.get("token"), str) or redact_with.get("sha256") is True):
            raise ConfigurationError("--target_policy redaction.redactWith must be {token} or {sha256: true}")
    return {
        "partitionKeyName": policy["partitionKeyName"],
        "partitionKeyPrefixes": list(policy.get("partitionKeyPrefixes") or []),
        "attributeEquals": list(policy.get("attributeEquals") or []),
        "redaction": redaction,
    }


def validate_target_policy(policy, key_attribute_names):
    """Keys are always replicated as they are (the config refuses this too; a wrong key would write a different item)."""
    redaction = (policy or {}).get("redaction") or {}
    keys = sorted((set(redaction.get("exclude") or []) | set(redaction.get("redact") or [])) & set(key_attribute_names))
    if keys:
        raise ConfigurationError(
            f"--target_policy redaction names key attribute(s) {', '.join(keys)}; keys are always replicated as they are"
        )


def to_wire_value(value):
    """A boto3 low-level AttributeValue -> the JSON wire form TypeScript hashes (binary as base64 text)."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(inner)).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(bytes(v)).decode("ascii") for v in inner]}
    if kind == "M":
        return {"M": {name: to_wire_value(v) for name, v in inner.items()}}
    if kind == "L":
        return {"L": [to_wire_value(v) for v in inner]}
    return {kind: inner}


def _utf16_order(text):
    # JavaScript compares strings by UTF-16 code units; Python by code points. They differ for
    # characters above U+FFFF against U+E000-U+FFFF, so sort as JavaScript does.
    return text.encode("utf-16-be")


def canonical_json(value):
    """JSON with object keys sorted at every level, byte-identical to canonicalJson in handlers/core/redaction.ts.

    json.dumps(ensure_ascii=False) escapes exactly what JSON.stringify escapes (quote, backslash, the
    short escapes b f n r t, other control characters as lowercase u00xx) and leaves the rest as is.
    """
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, dict):
        entries = sorted(value.items(), key=lambda entry: _utf16_order(entry[0]))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical_json(v) for k, v in entries) + "}"
    return json.dumps(value, ensure_ascii=False)


def redacted_value(value, redact_with):
    """The replacement of a redacted attribute (a boto3 AttributeValue) as TypeScript's redactedValue computes it."""
    if "token" in redact_with:
        return {"S": redact_with["token"]}
    digest = hashlib.sha256(canonical_json(to_wire_value(value)).encode("utf-8")).hexdigest()
    return {"S": "sha256:" + digest}


def _matches(actual, expected):
    (kind, wanted), = expected.items()
    return actual is not None and kind in actual and actual[kind] == wanted and type(actual[kind]) is type(wanted)


def target_view(policy):
    """A function item -> the target's view of it (a new dict), or None when the item is outside its filter."""
    if policy is None:
        return lambda item: item
    pk_name = policy["partitionKeyName"]
    prefixes = policy["partitionKeyPrefixes"]
    conditions = policy["attributeEquals"]
    redaction = policy["redaction"] or {}
    exclude = set(redaction.get("exclude") or [])
    redact = set(redaction.get("redact") or [])
    redact_with = redaction.get("redactWith") or {"token": "REDACTED"}

    def view(item):
        if prefixes:
            pk = (item.get(pk_name) or {}).get("S")
            if pk is None or not any(pk.startswith(prefix) for prefix in prefixes):
                return None
        for condition in conditions:
            if not any(_matches(item.get(condition["attribute"]), v) for v in condition["anyOf"]):
                return None
        if not exclude and not redact:
            return item
        return {
            name: (redacted_value(value, redact_with) if name in redact else value)
            for name, value in item.items() if name not in exclude
        }

    return view

