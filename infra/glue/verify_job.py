"""Verify a replication target against its source on AWS Glue 5 (Python 3.11, Spark 3.5): the
algorithm of the `verify` command (cli/operator/verify.ts), with Spark tasks doing the scans.

  1. pass 1: each task scans one parallel-scan segment of one table (the source in the target's view,
     or the target through the assumed target role) and adds each item's digest into one of
     ``--buckets`` bucket digests chosen by a hash of its key (item_digest.py, the twin of
     handlers/core/item-digest.ts: same canonical bytes, same bucket, same sum mod 2^256); the
     digests are summed across tasks and the driver compares source with target;
  2. pass 2, only if bucket digests differ: the tasks re-scan and keep the keys (and item hashes) of
     the mismatching buckets only; the driver diffs them key by key;
  3. after ``--settle_seconds`` (time for the pipeline to apply what was in flight), the driver reads
     each differing key again from both sides (consistent GetItem): only keys still differing count.
Memory: 32 bytes per bucket per task, plus the keys of mismatching buckets.

Reports go to ``s3://<report_bucket>/<report_prefix>/<run_id>/`` (``--local``: ``<report_dir>/``):
  progress.json      rewritten at each phase change and every PROGRESS_SECONDS during the scans
  summary.json       when done (the field names of VerifyResult in cli/operator/verify.ts)
  differences.jsonl  one line per confirmed difference, keys only (never values), B as base64 --
                     the line format of the `verify` command's --report file
Differences are not an error (the summary says them); any error fails the job.

Job arguments (Glue ``--name value``):
  required  --source_table --source_region --target_table --target_region --key_schema (JSON,
            handlers/core/key-schema.ts KeySchema) --run_id; --report_bucket (not with --local)
  optional  --target_role_arn + --external_id (without a role: the default credentials, --local only)
            --target_policy JSON (as initial_load.py) --report_prefix (verify) --buckets N (65536)
            --segments N (4 x Spark parallelism; --local: 4) --settle_seconds S (10) --page_size N (250)

Local runner, no Spark (the `verify --engine glue --local` path): the same work functions in a
thread pool, DynamoDB at $DYNAMODB_ENDPOINT when set, reports written to --report_dir:
  python3 infra/glue/verify_job.py --local --report_dir DIR --source_table ... (same arguments)

pyspark/awsglue are imported only inside ``main()``: every work function is importable and tested
without Spark (test/glue/test_verify_job.py, against DynamoDB Local).
"""

import concurrent.futures
import contextlib
import datetime
import json
import os
import sys
import threading
import time
from pathlib import Path

import item_digest
from replication_common import (
    MAX_SEGMENTS, ConfigurationError, ReplicationJobError, parse_int_arg, parse_target_policy, s3_client,
    scan_segment, service_endpoint, source_dynamodb_client, target_dynamodb_client, target_view,
    validate_target_policy, from_wire_value, to_wire_value,
)

ROLE_SESSION_NAME = "ddb-replicate-verify"
REPORT_VERSION = 1
DEFAULT_BUCKETS = 65_536
MAX_BUCKETS = 1 << 24  # as BucketDigests in handlers/core/item-digest.ts
DEFAULT_PAGE_SIZE = 250
DEFAULT_SETTLE_SECONDS = 10
DEFAULT_REPORT_PREFIX = "verify"
LOCAL_SEGMENTS = 4  # as the `verify` command's default
PROGRESS_SECONDS = 30
RECHECK_CONCURRENCY = 16  # concurrent GetItem pairs, as cli/operator/verify.ts
SIDES = ("source", "target")

REQUIRED_ARGS = ("source_table", "source_region", "target_table", "target_region", "key_schema", "run_id")
OPTIONAL_ARGS = (
    "target_role_arn", "external_id", "target_policy", "report_bucket", "report_prefix", "buckets", "segments",
    "settle_seconds", "page_size",
)
_MOD = 1 << 256


class VerifyError(ReplicationJobError):
    """A verify run that could not complete (a scan or read failed)."""


# --------------------------------------------------------------------------- configuration


def parse_key_schema(raw):
    """``--key_schema`` JSON ({"partitionKey": {"name", "type"}, "sortKey"?: {...}}) -> dict."""
    try:
        schema = json.loads(str(raw or ""))
    except ValueError as error:
        raise ConfigurationError("--key_schema is not JSON") from error

    def valid(attribute):
        return isinstance(attribute, dict) and isinstance(attribute.get("name"), str) and attribute["name"] \
            and attribute.get("type") in ("S", "N", "B")

    if not isinstance(schema, dict) or not valid(schema.get("partitionKey")) or \
            (schema.get("sortKey") is not None and not valid(schema["sortKey"])):
        raise ConfigurationError('--key_schema must be {"partitionKey": {"name", "type": S|N|B}, "sortKey"?: {...}}')
    return {"partitionKey": schema["partitionKey"], **({"sortKey": schema["sortKey"]} if schema.get("sortKey") else {})}


def _parse_seconds(args, name, default):
    raw = str(args.get(name) or "").strip()
    if raw == "":
        return float(default)
    try:
        value = float(raw)
    except ValueError as error:
        raise ConfigurationError(f"--{name} must be a number of seconds, got {raw!r}") from error
    if not value >= 0 or value == float("inf"):
        raise ConfigurationError(f"--{name} must be >= 0, got {raw!r}")
    return value


def build_config(args, default_segments, local=False):
    """Validates the job arguments (a plain dict, as getResolvedOptions returns) into the config every task gets."""
    missing = [name for name in REQUIRED_ARGS if not str(args.get(name) or "").strip()]
    if not local and not str(args.get("report_bucket") or "").strip():
        missing.append("report_bucket")
    if str(args.get("target_role_arn") or "").strip() and not str(args.get("external_id") or "").strip():
        missing.append("external_id")
    if missing:
        raise ConfigurationError("missing job argument(s): " + ", ".join("--" + name for name in missing))
    role_arn = str(args.get("target_role_arn") or "").strip()
    if not role_arn and not local:
        raise ConfigurationError("missing job argument(s): --target_role_arn (only a --local run may use the default credentials)")
    key_schema = parse_key_schema(args["key_schema"])
    policy = parse_target_policy(args.get("target_policy"))
    key_names = item_digest.key_names(key_schema)
    validate_target_policy(policy, key_names)
    return {
        "source_table": args["source_table"].strip(),
        "source_region": args["source_region"].strip(),
        "target_table": args["target_table"].strip(),
        "target_region": args["target_region"].strip(),
        "target_role_arn": role_arn,
        "external_id": args.get("external_id") or "",
        "role_session_name": ROLE_SESSION_NAME,
        "key_schema": key_schema,
        "key_names": key_names,
        "target_policy": policy,
        "report_bucket": str(args.get("report_bucket") or "").strip(),
        "report_prefix": str(args.get("report_prefix") or DEFAULT_REPORT_PREFIX).strip().strip("/"),
        "run_id": args["run_id"].strip().strip("/"),
        "buckets": parse_int_arg(args, "buckets", DEFAULT_BUCKETS, 1, MAX_BUCKETS),
        # More segments than cores keeps every core busy while slow segments finish.
        "segments": parse_int_arg(args, "segments", max(1, int(default_segments)), 1, MAX_SEGMENTS),
        "settle_seconds": _parse_seconds(args, "settle_seconds", DEFAULT_SETTLE_SECONDS),
        "page_size": parse_int_arg(args, "page_size", DEFAULT_PAGE_SIZE, 1),
    }


def check_key_schemas(cfg, source_client, target_client):
    """Both tables' primary keys must be --key_schema: a different key would bucket items apart and
    report every item as missing and extra."""
    expected = [(a["name"], a["type"]) for a in (cfg["key_schema"]["partitionKey"], cfg["key_schema"].get("sortKey")) if a]
    for side, client in (("source", source_client), ("target", target_client)):
        table = client.describe_table(TableName=_table(cfg, side))["Table"]
        types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
        actual = [(k["AttributeName"], types[k["AttributeName"]]) for k in table["KeySchema"]]
        if actual != expected:
            def show(keys):
                return ", ".join(f"{name} {attribute_type}" for name, attribute_type in keys)
            raise ConfigurationError(f"the {side} table {_table(cfg, side)} has primary key [{show(actual)}], --key_schema says [{show(expected)}]")


def check_tables(cfg):
    """check_key_schemas with the job's own clients (the driver's first calls: a wrong role fails here)."""
    with contextlib.ExitStack() as stack:
        check_key_schemas(cfg, _client(cfg, "source", stack), _client(cfg, "target", stack))


# --------------------------------------------------------------------------- work functions (tasks)


def _client(cfg, side, stack):
    if side == "source":
        return stack.enter_context(contextlib.closing(source_dynamodb_client(cfg)))
    if side == "target":
        return stack.enter_context(contextlib.closing(target_dynamodb_client(cfg)))
    raise ValueError(f"side must be source or target, got {side!r}")


def _table(cfg, side):
    return cfg["source_table"] if side == "source" else cfg["target_table"]


def _items_in_view(cfg, side, segment, stack, counts):
    """The side's items of one segment as the comparison sees them: the source in the target's view
    (items outside it counted in ``counts["outOfView"]``), the target as it is. Consistent reads, as the CLI."""
    client = _client(cfg, side, stack)
    view = target_view(cfg.get("target_policy")) if side == "source" else (lambda item: item)
    for raw in scan_segment(client, _table(cfg, side), segment, cfg["segments"], cfg.get("page_size"), consistent_read=True):
        counts["items"] += 1
        item = view(raw)
        if item is None:
            counts["outOfView"] += 1
            continue
        yield item


def empty_digests():
    """Pass-1 result of no work: mergeable with merge_digests."""
    return {"units": 0, "sourceItems": 0, "targetItems": 0, "outOfView": 0, "source": {}, "target": {}}


def scan_segment_digests(cfg, side, segment):
    """Pass 1 of one segment of one side: {"units": 1, "<side>Items", "outOfView", "<side>": {bucket: digest int}}."""
    counts = {"items": 0, "outOfView": 0}
    digests = {}
    with contextlib.ExitStack() as stack:
        for item in _items_in_view(cfg, side, segment, stack, counts):
            item_digest.add_to_buckets(digests, cfg["buckets"], item, cfg["key_names"])
    result = empty_digests()
    result.update({"units": 1, side + "Items": counts["items"], "outOfView": counts["outOfView"], side: digests})
    return result


def merge_digests(a, b):
    """Sums two pass-1 results (associative and commutative: Spark's treeReduce may merge in any order)."""
    merged = {name: a[name] + b[name] for name in ("units", "sourceItems", "targetItems", "outOfView")}
    for side in SIDES:
        small, large = sorted((a[side], b[side]), key=len)
        total = dict(large)
        for bucket, value in small.items():
            total[bucket] = (total.get(bucket, 0) + value) % _MOD
        merged[side] = total
    return merged


def mismatching_buckets(totals):
    """Buckets whose digests differ between source and target, ascending (as BucketDigests.mismatching)."""
    source, target = totals["source"], totals["target"]
    return sorted(b for b in set(source) | set(target) if source.get(b, 0) != target.get(b, 0))


def keys_of(item, key_names):
    """The key attributes in wire form (B as base64), in key-schema order: what a report line holds."""
    return {name: to_wire_value(item[name]) for name in key_names}


def collect_bucket_keys(cfg, side, segment, wanted):
    """Pass 2 of one segment of one side: {key_bytes hex: [wire keys, item hash hex]} for items in ``wanted`` buckets."""
    wanted = wanted if isinstance(wanted, (set, frozenset)) else set(wanted)
    found = {}
    counts = {"items": 0, "outOfView": 0}
    with contextlib.ExitStack() as stack:
        for item in _items_in_view(cfg, side, segment, stack, counts):
            key_bytes, key_hash, item_hash = item_digest.item_digest(item, cfg["key_names"])
            if key_hash % cfg["buckets"] in wanted:
                found[key_bytes.hex()] = [keys_of(item, cfg["key_names"]), item_hash.hex()]
    return {"side": side, "segment": segment, "keys": found}


def diff_keys(source_keys, target_keys):
    """Candidates [{"kind", "keys"}] from the pass-2 maps of both sides: missing and different in source
    order, then extra (the order of cli/operator/verify.ts)."""
    candidates = []
    for key, (keys, item_hash) in source_keys.items():
        other = target_keys.get(key)
        if other is None:
            candidates.append({"kind": "missing", "keys": keys})
        elif other[1] != item_hash:
            candidates.append({"kind": "different", "keys": keys})
    candidates.extend({"kind": "extra", "keys": keys} for key, (keys, _) in target_keys.items() if key not in source_keys)
    return candidates


def _item_hash(item, key_names):
    return None if item is None else item_digest.item_digest(item, key_names)[2]


def recheck(cfg, candidates, concurrency=RECHECK_CONCURRENCY):
    """Reads each candidate again from both sides (consistent GetItem) and returns the differences that
    remain, [{"kind", "keys"}] in candidate order, the kind as it is now."""
    if not candidates:
        return []
    view = target_view(cfg.get("target_policy"))
    local = threading.local()
    clients = []
    lock = threading.Lock()

    def clients_of_thread():
        # boto3 clients are thread-safe, but one pair per worker keeps the connection pools small and simple.
        if not hasattr(local, "pair"):
            local.pair = (source_dynamodb_client(cfg), target_dynamodb_client(cfg))
            with lock:
                clients.extend(local.pair)
        return local.pair

    def check(candidate):
        source_client, target_client = clients_of_thread()
        key = {name: from_wire_value(value) for name, value in candidate["keys"].items()}
        source = source_client.get_item(TableName=cfg["source_table"], Key=key, ConsistentRead=True).get("Item")
        target = target_client.get_item(TableName=cfg["target_table"], Key=key, ConsistentRead=True).get("Item")
        source = None if source is None else view(source)
        if source is None and target is None:
            return None
        if _item_hash(source, cfg["key_names"]) == _item_hash(target, cfg["key_names"]):
            return None
        kind = "extra" if source is None else "missing" if target is None else "different"
        return {"kind": kind, "keys": candidate["keys"]}

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(candidates)))) as pool:
            return [found for found in pool.map(check, candidates) if found is not None]
    finally:
        for client in clients:
            client.close()


# --------------------------------------------------------------------------- reports


def _now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def difference_line(difference):
    """One differences.jsonl line, as JSON.stringify({kind, keys}) writes the `verify` command's --report lines."""
    return json.dumps({"kind": difference["kind"], "keys": difference["keys"]}, ensure_ascii=False, separators=(",", ":")) + "\n"


class LocalReports:
    """Report files in a directory (the --local runner)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, name, text):
        # Write then rename: a reader polling progress.json never sees half a file.
        partial = self.directory / (name + ".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.directory / name)

    def location(self):
        return str(self.directory)


class S3Reports:
    """Report objects under s3://bucket/prefix/run_id/ (the Glue job)."""

    def __init__(self, cfg):
        self.bucket = cfg["report_bucket"]
        self.prefix = "/".join(part for part in (cfg["report_prefix"], cfg["run_id"]) if part)
        self.client = s3_client(cfg["source_region"])

    def put(self, name, text):
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}", Body=text.encode("utf-8"),
                               ContentType="application/json")

    def location(self):
        return f"s3://{self.bucket}/{self.prefix}/"


class Progress:
    """progress.json: rewritten at each phase change, and every ``interval`` seconds while a scan runs."""

    def __init__(self, reports, segments_total, interval=PROGRESS_SECONDS):
        self.reports = reports
        self.interval = interval
        self.state = {"v": REPORT_VERSION, "phase": "pass1", "segmentsDone": 0, "segmentsTotal": segments_total,
                      "sourceItems": 0, "targetItems": 0}
        self._lock = threading.Lock()

    def update(self, write=False, **fields):
        with self._lock:
            self.state.update(fields)
            if write:
                self._write()

    def write(self):
        with self._lock:
            self._write()

    def _write(self):
        self.reports.put("progress.json", json.dumps({**self.state, "updatedAt": _now_iso()}, separators=(",", ":")) + "\n")

    @contextlib.contextmanager
    def periodically(self):
        """Writes every ``interval`` seconds until the block ends (a daemon thread: the scan's work is elsewhere)."""
        stop = threading.Event()

        def loop():
            while not stop.wait(self.interval):
                self.write()

        thread = threading.Thread(target=loop, name="verify-progress", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()


# --------------------------------------------------------------------------- the run (driver)


class LocalRunner:
    """Runs the units of a pass in a thread pool (the --local runner and the tests)."""

    def __init__(self, workers=8):
        self.workers = workers

    def pass1(self, cfg, units, on_unit):
        totals = empty_digests()
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            for result in pool.map(lambda unit: scan_segment_digests(cfg, *unit), units):
                totals = merge_digests(totals, result)
                on_unit(totals)
        return totals

    def pass2(self, cfg, units, wanted, on_unit):
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            results = []
            for result in pool.map(lambda unit: collect_bucket_keys(cfg, unit[0], unit[1], wanted), units):
                results.append(result)
                on_unit(len(results))
        return results


class SparkRunner:
    """Runs the units of a pass as Spark tasks, one per (side, segment); progress from accumulators,
    which the driver sees as tasks finish."""

    def __init__(self, sc):
        self.sc = sc

    def _run(self, action, on_tick):
        # The Spark action blocks; it runs in a thread so the driver can write progress meanwhile.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(action)
            while True:
                try:
                    return future.result(timeout=5)
                except concurrent.futures.TimeoutError:
                    on_tick()

    def pass1(self, cfg, units, on_unit):
        sc = self.sc
        done, source_items, target_items = sc.accumulator(0), sc.accumulator(0), sc.accumulator(0)

        def task(unit):
            result = scan_segment_digests(cfg, *unit)
            done.add(1)
            source_items.add(result["sourceItems"])
            target_items.add(result["targetItems"])
            return result

        def tick():
            on_unit({"units": done.value, "sourceItems": source_items.value, "targetItems": target_items.value})

        rdd = sc.parallelize(units, len(units)).map(task)
        # treeReduce sums the bucket digests on the executors: the driver gets one result, not one per task.
        return self._run(lambda: rdd.treeReduce(merge_digests), tick)

    def pass2(self, cfg, units, wanted, on_unit):
        sc = self.sc
        done = sc.accumulator(0)
        wanted_broadcast = sc.broadcast(frozenset(wanted))

        def task(unit):
            result = collect_bucket_keys(cfg, unit[0], unit[1], wanted_broadcast.value)
            done.add(1)
            return result

        rdd = sc.parallelize(units, len(units)).map(task)
        return self._run(rdd.collect, lambda: on_unit(done.value))


def run_verify(cfg, runner, reports, sleep=time.sleep, clock=time.time, progress_interval=PROGRESS_SECONDS):
    """The whole verify: pass 1, pass 2, settle, recheck; writes progress.json, summary.json and
    differences.jsonl; returns the summary."""
    started_at = _now_iso()
    units = [(side, segment) for segment in range(cfg["segments"]) for side in SIDES]
    progress = Progress(reports, len(units), interval=progress_interval)
    progress.write()

    def pass1_progress(totals):
        progress.update(segmentsDone=totals["units"], sourceItems=totals["sourceItems"], targetItems=totals["targetItems"])

    with progress.periodically():
        totals = runner.pass1(cfg, units, pass1_progress)
    pass1_progress(totals)
    mismatching = mismatching_buckets(totals)

    candidates = []
    if mismatching:
        progress.update(write=True, phase="pass2", segmentsDone=0)
        with progress.periodically():
            results = runner.pass2(cfg, units, mismatching, lambda done: progress.update(segmentsDone=done))
        sides = {side: {} for side in SIDES}
        for result in results:
            sides[result["side"]].update(result["keys"])
        candidates = diff_keys(sides["source"], sides["target"])

    confirmed, settled_ms = [], 0
    if candidates:
        progress.update(write=True, phase="settle")
        settled_ms = int(round(cfg["settle_seconds"] * 1000))
        if settled_ms > 0:
            sleep(cfg["settle_seconds"])
        progress.update(write=True, phase="recheck")
        confirmed = recheck(cfg, candidates)

    def count(kind):
        return sum(1 for d in confirmed if d["kind"] == kind)

    summary = {
        "v": REPORT_VERSION, "mode": "full",
        "sourceItems": totals["sourceItems"], "targetItems": totals["targetItems"],
        "checked": totals["sourceItems"] - totals["outOfView"], "outOfView": totals["outOfView"],
        "buckets": cfg["buckets"], "mismatchingBuckets": len(mismatching),
        "missing": count("missing"), "extra": count("extra"), "different": count("different"),
        "resolvedOnRecheck": len(candidates) - len(confirmed), "settledMs": settled_ms,
        "startedAt": started_at, "finishedAt": _now_iso(),
    }
    # differences.jsonl first: once summary.json exists, the run's reports are complete.
    reports.put("differences.jsonl", "".join(difference_line(d) for d in confirmed))
    reports.put("summary.json", json.dumps(summary, separators=(",", ":")) + "\n")
    progress.update(write=True, phase="done", segmentsDone=len(units))
    return summary


# --------------------------------------------------------------------------- entry points


def parse_cli_args(argv):
    """``--name value`` pairs and the ``--local`` flag (the local runner's command line)."""
    args, local, i = {}, False, 0
    while i < len(argv):
        name = argv[i]
        if name == "--local":
            local = True
            i += 1
            continue
        if not name.startswith("--") or i + 1 >= len(argv):
            raise ConfigurationError(f"expected --name value, got {name!r}")
        args[name[2:]] = argv[i + 1]
        i += 2
    return args, local


def main_local(argv):
    """``python3 verify_job.py --local --report_dir DIR ...``: no Spark, reports in DIR; prints the summary."""
    args, _ = parse_cli_args(argv)
    report_dir = str(args.pop("report_dir", "") or "").strip()
    if not report_dir:
        raise ConfigurationError("missing argument: --report_dir (where a --local run writes its reports)")
    # DYNAMODB_ENDPOINT (DynamoDB Local) unless an AWS_ENDPOINT_URL_DYNAMODB is set already.
    if os.environ.get("DYNAMODB_ENDPOINT") and not service_endpoint("dynamodb"):
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = os.environ["DYNAMODB_ENDPOINT"]
    cfg = build_config(args, LOCAL_SEGMENTS, local=True)
    check_tables(cfg)
    summary = run_verify(cfg, LocalRunner(workers=min(32, 2 * cfg["segments"])), LocalReports(report_dir))
    print(json.dumps(summary), flush=True)
    return summary


def main():
    from awsglue.utils import getResolvedOptions  # Glue/Spark only here: the functions above run without them
    from pyspark.context import SparkContext

    present = [name for name in OPTIONAL_ARGS if "--" + name in sys.argv]
    args = getResolvedOptions(sys.argv, list(REQUIRED_ARGS) + present)
    sc = SparkContext.getOrCreate()
    cfg = build_config(args, 4 * int(sc.defaultParallelism))
    check_tables(cfg)
    reports = S3Reports(cfg)
    print(json.dumps({"start": {"segments": cfg["segments"], "buckets": cfg["buckets"], "reports": reports.location()}}), flush=True)
    summary = run_verify(cfg, SparkRunner(sc), reports)
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    if "--local" in sys.argv[1:]:
        try:
            main_local(sys.argv[1:])
        except ConfigurationError as error:
            print(f"verify_job: {error}", file=sys.stderr)
            sys.exit(2)
    else:
        main()
