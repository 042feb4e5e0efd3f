"""Initial load of a DynamoDB table into a table in another account (AWS Glue 5: Python 3.11, Spark 3.5).

Spark only distributes plain boto3 work: each task scans one parallel-scan segment (engine ``scan``)
or reads one data file of a native point-in-time export (engine ``export``), and writes the items
with BatchWriteItem through the assumed target role. Items stay raw AttributeValue maps from end to
end -- no TypeDeserializer, no DataFrame type mapping -- so 38-digit numbers, sets, binary, nested
maps/lists and empty strings arrive exactly as they left.

pyspark/awsglue are imported only inside ``main()``: every work function below is importable and
tested without Spark (test/glue/test_initial_load.py, against DynamoDB Local).

Job arguments (Glue ``--name value``):
  required  --source_table --source_region --target_table --target_region
            --target_role_arn --external_id
  optional  --engine scan|export (scan)        --segments N (4 x Spark default parallelism)
            --write_rate items/s for the whole job, 0 = unlimited (0)
            --exclude_attributes a,b (never a key attribute)
            --target_policy JSON (the target's view: partition-key prefixes, attribute
              equalities, redaction; see target_view) -- items outside it are skipped
            --export_bucket / --export_prefix (engine export)
            --consistent_read true|false (false) --page_limit N (Scan Limit, unset)

The driver prints one JSON line per segment/file and a summary line; the job fails if any unit
failed, or if an export's item count differs from its manifest.
"""

import contextlib
import gzip
import io
import json
import math
import random
import sys
import time
import traceback

from botocore.exceptions import ClientError

# Shared with verify_job.py; shipped next to this script by the Glue job (extraPythonFiles). The
# names are re-exported: this module's callers and tests use them as initial_load.<name>.
import replication_common
from replication_common import (  # noqa: F401
    CLIENT_CONFIG, MAX_SEGMENTS, ConfigurationError, ReplicationJobError, canonical_json, default_sts_client,
    parse_target_policy, redacted_value, s3_client, scan_segment, service_endpoint, source_dynamodb_client,
    target_dynamodb_client, target_view, validate_target_policy,
)
from replication_common import from_wire_value as _export_value  # noqa: F401
from replication_common import parse_bool_arg as _parse_bool
from replication_common import parse_int_arg as _parse_int
from replication_common import to_wire_value as _wire_value  # noqa: F401

BATCH_WRITE_MAX_ITEMS = 25  # DynamoDB BatchWriteItem limit per request
ROLE_SESSION_NAME = "ddb-replicate-initial-load"
ENGINES = ("scan", "export")

REQUIRED_ARGS = ("source_table", "source_region", "target_table", "target_region", "target_role_arn", "external_id")
OPTIONAL_ARGS = (
    "engine", "segments", "write_rate", "exclude_attributes", "export_bucket", "export_prefix",
    "consistent_read", "page_limit", "target_policy",
)


class InitialLoadError(ReplicationJobError):
    """Root of the errors only this script raises (ConfigurationError is shared: replication_common)."""


class WriteFailedError(InitialLoadError):
    """Items still unprocessed after the bounded BatchWriteItem attempts."""


class PointInTimeRecoveryDisabledError(InitialLoadError):
    """The export engine needs PITR on the source table."""


class ExportFailedError(InitialLoadError):
    """The native export ended FAILED, timed out, or its files do not match its manifest."""


def target_session(role_arn, external_id, region, sts_client=None, clock=time.time):
    """replication_common.target_session under this job's role session name (what CloudTrail shows)."""
    return replication_common.target_session(role_arn, external_id, region, sts_client=sts_client, clock=clock,
                                             session_name=ROLE_SESSION_NAME)


# --------------------------------------------------------------------------- configuration


def build_config(args, default_parallelism):
    """Validates the job arguments (a plain dict, as getResolvedOptions returns) into the config every task gets."""
    missing = [name for name in REQUIRED_ARGS if not str(args.get(name) or "").strip()]
    if missing:
        raise ConfigurationError("missing job argument(s): " + ", ".join("--" + name for name in missing))
    engine = str(args.get("engine") or "scan").strip().lower()
    if engine not in ENGINES:
        raise ConfigurationError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    try:
        write_rate = float(str(args.get("write_rate") or "0"))
    except ValueError as error:
        raise ConfigurationError(f"--write_rate must be a number of items per second, got {args.get('write_rate')!r}") from error
    if not math.isfinite(write_rate) or write_rate < 0:
        raise ConfigurationError(f"--write_rate must be >= 0 (0 = unlimited), got {args.get('write_rate')!r}")
    excluded = [name.strip() for name in str(args.get("exclude_attributes") or "").split(",") if name.strip()]
    policy = parse_target_policy(args.get("target_policy"))
    cfg = {
        "source_table": args["source_table"].strip(),
        "source_region": args["source_region"].strip(),
        "target_table": args["target_table"].strip(),
        "target_region": args["target_region"].strip(),
        "target_role_arn": args["target_role_arn"].strip(),
        "external_id": args["external_id"],
        "engine": engine,
        # More segments than cores keeps every core busy while slow segments finish.
        "segments": _parse_int(args, "segments", max(1, 4 * int(default_parallelism)), 1, MAX_SEGMENTS),
        "write_rate": write_rate,
        "exclude_attributes": excluded,
        "export_bucket": str(args.get("export_bucket") or "").strip(),
        "export_prefix": str(args.get("export_prefix") or "").strip(),
        "consistent_read": _parse_bool(args, "consistent_read"),
        "page_limit": _parse_int(args, "page_limit", None, 1),
        "target_policy": policy,
        "role_session_name": ROLE_SESSION_NAME,
    }
    if engine == "export" and not cfg["export_bucket"]:
        raise ConfigurationError("--engine export needs --export_bucket (the S3 bucket the native export writes to)")
    return cfg


def per_task_write_rate(write_rate, units, parallelism):
    """The job-wide cap split over the tasks that run at once (at most one per core), 0 = unlimited."""
    if write_rate <= 0:
        return 0.0
    return write_rate / max(1, min(int(units), int(parallelism)))


def validate_exclusions(names, key_attribute_names):
    """Excluding a key attribute would make every write invalid: refuse it up front."""
    keys = sorted(set(names) & set(key_attribute_names))
    if keys:
        raise ConfigurationError(
            f"--exclude_attributes names key attribute(s) {', '.join(keys)}; key attributes are always copied"
        )


def _key_schema(description):
    types = {d["AttributeName"]: d["AttributeType"] for d in description["AttributeDefinitions"]}
    return [(k["AttributeName"], k["KeyType"], types[k["AttributeName"]]) for k in description["KeySchema"]]


def check_tables(source_client, target_client, cfg):
    """Describes both tables, checks their primary keys match and the exclusions spare them.

    Returns cfg plus ``key_attributes`` and ``source_table_arn`` (what the tasks and the export need).
    """
    source = source_client.describe_table(TableName=cfg["source_table"])["Table"]
    target = target_client.describe_table(TableName=cfg["target_table"])["Table"]
    source_keys, target_keys = _key_schema(source), _key_schema(target)
    if source_keys != target_keys:
        def show(keys):
            return ", ".join(f"{name} {key_type} {attr_type}" for name, key_type, attr_type in keys)
        raise ConfigurationError(
            f"primary keys differ: source {cfg['source_table']} has [{show(source_keys)}], "
            f"target {cfg['target_table']} has [{show(target_keys)}]"
        )
    key_attributes = [name for name, _, _ in source_keys]
    validate_exclusions(cfg["exclude_attributes"], key_attributes)
    validate_target_policy(cfg.get("target_policy"), key_attributes)
    return {**cfg, "key_attributes": key_attributes, "source_table_arn": source["TableArn"]}


# --------------------------------------------------------------------------- reading


def parse_export_line(line):
    """One line of a DYNAMODB_JSON export data file (``{"Item": {...}}``) -> the raw item, or None for a blank line."""
    text = line.strip()
    if not text:
        return None
    record = json.loads(text)
    if not isinstance(record, dict) or not isinstance(record.get("Item"), dict):
        raise ValueError('an export line must be a JSON object {"Item": {...}}')
    return {name: _export_value(value) for name, value in record["Item"].items()}


def read_export_file(s3, bucket, key):
    """Streams the items of one export data file (gzip, one item per line) without loading it whole."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    raw = gzip.GzipFile(fileobj=body, mode="rb") if key.endswith(".gz") else body
    try:
        for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), start=1):
            try:
                item = parse_export_line(line)
            except ValueError as error:  # json.JSONDecodeError and binascii.Error are ValueErrors
                raise ExportFailedError(f"s3://{bucket}/{key} line {number}: {error}") from error
            if item is not None:
                yield item
    finally:
        body.close()


def list_export_data_files(s3, bucket, manifest_summary_key):
    """The export's data files from its manifests: [{"key", "item_count"}] (DynamoDB developer guide, "export output format")."""
    summary = json.loads(s3.get_object(Bucket=bucket, Key=manifest_summary_key)["Body"].read())
    output_format = summary.get("outputFormat", "DYNAMODB_JSON")
    if output_format != "DYNAMODB_JSON":
        raise ExportFailedError(f"export {manifest_summary_key} is {output_format}; only DYNAMODB_JSON is supported")
    files_key = summary["manifestFilesS3Key"]
    text = s3.get_object(Bucket=bucket, Key=files_key)["Body"].read().decode("utf-8")
    files = []
    for line in text.splitlines():
        if line.strip():
            entry = json.loads(line)
            files.append({"key": entry["dataFileS3Key"], "item_count": int(entry["itemCount"])})
    return files


# --------------------------------------------------------------------------- native export


def _table_name_from_arn(table_arn):
    return table_arn.split(":table/", 1)[-1].split("/", 1)[0]


def pitr_hint(table_name):
    return (
        f"point-in-time recovery (PITR) is not enabled on table {table_name}; the export engine needs it. "
        f"Enable it with: aws dynamodb update-continuous-backups --table-name {table_name} "
        f"--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true "
        f"(or run the initial load with --engine scan)"
    )


def start_export(client, table_arn, bucket, prefix):
    """Starts ExportTableToPointInTime (DYNAMODB_JSON) and returns its ARN; a clear error if PITR is off."""
    table_name = _table_name_from_arn(table_arn)
    backups = client.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
    status = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
    if status != "ENABLED":
        raise PointInTimeRecoveryDisabledError(pitr_hint(table_name))
    request = {"TableArn": table_arn, "S3Bucket": bucket, "ExportFormat": "DYNAMODB_JSON"}
    if prefix:
        request["S3Prefix"] = prefix
    try:
        return client.export_table_to_point_in_time(**request)["ExportDescription"]["ExportArn"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "PointInTimeRecoveryUnavailableException":
            raise PointInTimeRecoveryDisabledError(pitr_hint(table_name)) from error
        raise


def wait_for_export(client, export_arn, poll_seconds=30, timeout_seconds=48 * 3600, sleep=time.sleep,
                    clock=time.monotonic, on_progress=None):
    """Polls DescribeExport until COMPLETED (returns the ExportDescription); FAILED or timeout raise."""
    deadline = clock() + timeout_seconds
    while True:
        description = client.describe_export(ExportArn=export_arn)["ExportDescription"]
        status = description["ExportStatus"]
        if on_progress:
            on_progress(status)
        if status == "COMPLETED":
            return description
        if status == "FAILED":
            raise ExportFailedError(
                f"export {export_arn} failed: {description.get('FailureCode', '?')}: {description.get('FailureMessage', '')}"
            )
        if clock() >= deadline:
            raise ExportFailedError(f"export {export_arn} still {status} after {timeout_seconds} s")
        sleep(poll_seconds)


# --------------------------------------------------------------------------- writing


def exclude_attributes(item, names):
    """The item without the named attributes (a new dict; the input is not modified)."""
    if not names:
        return item
    return {name: value for name, value in item.items() if name not in names}


class TokenBucket:
    """Average ``rate`` acquisitions per second, bursts up to one second's worth."""

    def __init__(self, rate, clock=time.monotonic, sleep=time.sleep):
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = float(rate)
        self._capacity = max(self.rate, 1.0)
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()

    def acquire(self, count=1):
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        # Going into debt lets a batch larger than the bucket through, paid for by waiting.
        self._tokens -= count
        if self._tokens < 0:
            self._sleep(-self._tokens / self.rate)


def backoff_delay(attempt, base_delay, max_delay, rand=random.random):
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
    return rand() * min(max_delay, base_delay * (2 ** attempt))


def _write_batch(client, table, items, max_attempts, base_delay, max_delay, sleep, rand):
    requests = [{"PutRequest": {"Item": item}} for item in items]
    for attempt in range(max_attempts):
        if attempt:
            sleep(backoff_delay(attempt, base_delay, max_delay, rand))
        response = client.batch_write_item(RequestItems={table: requests})
        requests = response.get("UnprocessedItems", {}).get(table, [])
        if not requests:
            return
    raise WriteFailedError(
        f"{len(requests)} of {len(items)} items for {table} still unprocessed after {max_attempts} BatchWriteItem "
        f"attempts: the target table is throttling; raise its capacity or lower --write_rate"
    )


def write_items(client, table, items, rate_limiter=None, max_attempts=10, base_delay=0.05, max_delay=10.0,
                sleep=time.sleep, rand=random.random):
    """Puts every item (any iterable, consumed lazily) with BatchWriteItem in chunks of 25; returns how many.

    UnprocessedItems are retried with exponential backoff and full jitter, at most ``max_attempts``
    requests per chunk; items still left raise WriteFailedError.
    """
    written = 0
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == BATCH_WRITE_MAX_ITEMS:
            written += _flush(client, table, chunk, rate_limiter, max_attempts, base_delay, max_delay, sleep, rand)
            chunk = []
    if chunk:
        written += _flush(client, table, chunk, rate_limiter, max_attempts, base_delay, max_delay, sleep, rand)
    return written


def _flush(client, table, chunk, rate_limiter, max_attempts, base_delay, max_delay, sleep, rand):
    if rate_limiter is not None:
        rate_limiter.acquire(len(chunk))
    _write_batch(client, table, chunk, max_attempts, base_delay, max_delay, sleep, rand)
    return len(chunk)


# --------------------------------------------------------------------------- tasks


def _copy(cfg, items, counts, started, stack):
    validate_exclusions(cfg["exclude_attributes"], cfg["key_attributes"])
    validate_target_policy(cfg.get("target_policy"), cfg["key_attributes"])
    excluded = set(cfg["exclude_attributes"])
    view = target_view(cfg.get("target_policy"))
    sts = stack.enter_context(contextlib.closing(default_sts_client(cfg["target_region"])))
    target = stack.enter_context(contextlib.closing(target_dynamodb_client(cfg, sts_client=sts)))
    rate = cfg.get("write_rate_per_task") or 0
    limiter = TokenBucket(rate) if rate > 0 else None

    def kept_items():
        for raw in items:
            counts["scanned"] += 1
            item = view(raw)
            if item is None:  # outside the target's view: not copied
                counts["skipped"] += 1
                continue
            # --exclude_attributes predates the policy's redaction.exclude; both apply.
            kept = exclude_attributes(item, excluded)
            counts["excluded_attrs"] += len(item) - len(kept)
            yield kept

    counts["written"] = write_items(target, cfg["target_table"], kept_items(), rate_limiter=limiter)
    counts["seconds"] = round(time.monotonic() - started, 3)
    return counts


# Clients are closed after each unit: an executor process runs many units, each with its own clients.


def copy_segment(cfg, segment):
    """Copies one parallel-scan segment; returns {segment, scanned, written, skipped, excluded_attrs, seconds}."""
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(contextlib.closing(source_dynamodb_client(cfg)))
        items = scan_segment(source, cfg["source_table"], segment, cfg["segments"], cfg.get("page_limit"),
                             cfg.get("consistent_read", False))
        return _copy(cfg, items, {"segment": segment, "scanned": 0, "written": 0, "skipped": 0, "excluded_attrs": 0}, started, stack)


def copy_export_file(cfg, key):
    """Copies one export data file; returns {file, scanned, written, skipped, excluded_attrs, seconds}."""
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        s3 = stack.enter_context(contextlib.closing(s3_client(cfg["source_region"])))
        items = read_export_file(s3, cfg["export_bucket"], key)
        return _copy(cfg, items, {"file": key, "scanned": 0, "written": 0, "skipped": 0, "excluded_attrs": 0}, started, stack)


def run_unit(work, cfg, unit, label):
    """Runs one task's work; a failure becomes an ``error`` entry so the driver reports every failed unit, then fails the job."""
    try:
        return work(cfg, unit)
    except Exception as error:  # not swallowed: check_results() raises it on the driver, with every other failure
        traceback.print_exc(file=sys.stderr)
        return {label: unit, "error": f"{type(error).__name__}: {error}"}


def summarize(results):
    """The job's totals over the per-unit counts."""
    return {
        "units": len(results),
        "scanned": sum(r.get("scanned", 0) for r in results),
        "written": sum(r.get("written", 0) for r in results),
        "skipped": sum(r.get("skipped", 0) for r in results),
        "excluded_attrs": sum(r.get("excluded_attrs", 0) for r in results),
        "failed": sum(1 for r in results if "error" in r),
    }


def check_results(results, expected_items=None):
    """Raises InitialLoadError if any unit failed, ExportFailedError if fewer/more items were read than the manifest lists."""
    failed = [r for r in results if "error" in r]
    if failed:
        details = "; ".join(f"{r.get('segment', r.get('file'))}: {r['error']}" for r in failed)
        raise InitialLoadError(f"{len(failed)} of {len(results)} units failed: {details}")
    scanned = sum(r.get("scanned", 0) for r in results)
    if expected_items is not None and scanned != expected_items:
        raise ExportFailedError(f"the export manifest lists {expected_items} items but {scanned} were read")


# --------------------------------------------------------------------------- Glue entry point


def main():
    from awsglue.utils import getResolvedOptions  # Glue/Spark only here: the functions above run without them
    from pyspark.context import SparkContext

    present = [name for name in OPTIONAL_ARGS if "--" + name in sys.argv]
    args = getResolvedOptions(sys.argv, list(REQUIRED_ARGS) + present)
    sc = SparkContext.getOrCreate()
    parallelism = sc.defaultParallelism
    cfg = build_config(args, parallelism)
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(contextlib.closing(source_dynamodb_client(cfg)))
        sts = stack.enter_context(contextlib.closing(default_sts_client(cfg["target_region"])))
        target = stack.enter_context(contextlib.closing(target_dynamodb_client(cfg, sts_client=sts)))
        cfg = check_tables(source, target, cfg)

        expected_items = None
        if cfg["engine"] == "scan":
            units, work, label = list(range(cfg["segments"])), copy_segment, "segment"
        else:
            def progress(status):
                print(json.dumps({"export": export_arn, "status": status}), flush=True)

            export_arn = start_export(source, cfg["source_table_arn"], cfg["export_bucket"], cfg["export_prefix"])
            description = wait_for_export(source, export_arn, on_progress=progress)
            s3 = stack.enter_context(contextlib.closing(s3_client(cfg["source_region"])))
            files = list_export_data_files(s3, description["S3Bucket"], description["ExportManifest"])
            cfg = {**cfg, "export_bucket": description["S3Bucket"]}
            units, work, label = [f["key"] for f in files], copy_export_file, "file"
            expected_items = sum(f["item_count"] for f in files)
    cfg["write_rate_per_task"] = per_task_write_rate(cfg["write_rate"], len(units), parallelism)
    print(json.dumps({"start": {"engine": cfg["engine"], "units": len(units), "parallelism": parallelism,
                                "write_rate_per_task": cfg["write_rate_per_task"]}}), flush=True)

    results = []
    if units:
        results = sc.parallelize(units, len(units)).map(lambda unit: run_unit(work, cfg, unit, label)).collect()
    for result in results:
        print(json.dumps(result), flush=True)
    print(json.dumps({"summary": summarize(results)}), flush=True)
    check_results(results, expected_items)


if __name__ == "__main__":
    main()
