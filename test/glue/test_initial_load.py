"""Tests of infra/glue/initial_load.py without Spark: the work functions against DynamoDB Local.

Run: DYNAMODB_ENDPOINT=http://127.0.0.1:8000 /usr/bin/python3 -m unittest discover -s test/glue -v
(test/integration/glue-script.test.ts starts DynamoDB Local and does exactly this under `npm test`).
STS AssumeRole and S3 GetObject, which DynamoDB Local lacks, are served by fake_aws.FakeAws; the
export engine's AWS-only calls (DescribeContinuousBackups, ExportTableToPointInTime,
DescribeExport) by botocore's Stubber, which validates every request against the service model.
"""

import datetime
import gzip
import io
import json
import sys
import unittest
import uuid
from pathlib import Path
from unittest import mock

import boto3
from botocore.exceptions import ClientError
from botocore.stub import Stubber

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra" / "glue"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import initial_load as il  # noqa: E402
from fake_aws import FakeAws  # noqa: E402
from glue_test_support import REGION, close_local_clients, dynamodb_endpoint, local_client, run_glue_main, use_job_environment  # noqa: E402

ROLE_ARN = "arn:aws:iam::222222222222:role/ddb-replicate-target"
EXTERNAL_ID = "ext-7f3a"
FIXTURE_ROOT = Path(__file__).resolve().parent / "fixtures" / "export"
EXPORT_BUCKET = "export-bucket"
EXPORT_DIR = "initial-load/AWSDynamoDB/01764201600000-a1b2c3d4"

# Every AttributeValue type, at its edges. Written by hand, independent of the code under test.
ALL_TYPES_ITEM = {
    "pk": {"S": "all-types"},
    "sk": {"N": "1"},
    "s": {"S": "héllo ✓ 日本語 🚀"},
    "empty_s": {"S": ""},
    "n38": {"N": "12345678901234567890123456789012345678"},
    "nfrac": {"N": "-0.12345678901234567890123456789012345678"},
    "nexp": {"N": "1.5E-120"},
    "b": {"B": b"\x00\x01\xfe\xff"},
    "empty_b": {"B": b""},
    "ss": {"SS": ["a", "b", "ü"]},
    "ns": {"NS": ["1", "-2.5", "99999999999999999999999999999999999999"]},
    "bs": {"BS": [b"\x00", b"\xff\xfe"]},
    "m": {"M": {"inner": {"S": "x"}, "deep": {"M": {"l": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}, {"M": {}}]}}}}},
    "l": {"L": [{"S": ""}, {"B": b"\x01"}, {"SS": ["z"]}, {"L": []}, {"BS": ["日本".encode("utf-8")]}]},
    "null": {"NULL": True},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "ünïcödé key": {"S": "v"},
}
FIXTURE_ITEMS = [
    ALL_TYPES_ITEM,
    {"pk": {"S": "plain-1"}, "sk": {"N": "10"}, "v": {"S": "eins – ü 😀"}},
    {"pk": {"S": "plain-2"}, "sk": {"N": "20"}, "v": {"S": "two"}, "secret": {"S": "dropped when excluded"}},
    {"pk": {"S": "plain-3"}, "sk": {"N": "-3.25"}, "v": {"NS": ["3", "1E+5"]}},
]


def tearDownModule():
    close_local_clients()


def create_table(client, sort_key=True, sort_type="N"):
    name = "glue-" + uuid.uuid4().hex[:12]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    defs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        defs.append({"AttributeName": "sk", "AttributeType": sort_type})
    client.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=defs, BillingMode="PAY_PER_REQUEST")
    return name


def key_of(item):
    return {"pk": item["pk"], "sk": item["sk"]}


def get_raw(client, table, key):
    return client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def scan_all(client, table):
    items, request = [], {"TableName": table}
    while True:
        page = client.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def base_args(**overrides):
    args = {"source_table": "src", "source_region": REGION, "target_table": "dst", "target_region": REGION,
            "target_role_arn": ROLE_ARN, "external_id": EXTERNAL_ID}
    args.update(overrides)
    return args


class FakeClock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


# --------------------------------------------------------------------------- no I/O


class ConfigTests(unittest.TestCase):
    def test_defaults(self):
        cfg = il.build_config(base_args(), default_parallelism=8)
        self.assertEqual(cfg["engine"], "scan")
        self.assertEqual(cfg["segments"], 32)
        self.assertEqual(cfg["write_rate"], 0.0)
        self.assertEqual(cfg["exclude_attributes"], [])
        self.assertFalse(cfg["consistent_read"])
        self.assertIsNone(cfg["page_limit"])

    def test_parses_every_option(self):
        cfg = il.build_config(base_args(engine="export", segments="12", write_rate="500", exclude_attributes=" a, b ,,",
                                        export_bucket="bkt", export_prefix="p/q", consistent_read="true", page_limit="50"), 4)
        self.assertEqual((cfg["engine"], cfg["segments"], cfg["write_rate"]), ("export", 12, 500.0))
        self.assertEqual(cfg["exclude_attributes"], ["a", "b"])
        self.assertEqual((cfg["export_bucket"], cfg["export_prefix"], cfg["consistent_read"], cfg["page_limit"]), ("bkt", "p/q", True, 50))

    def test_rejects_bad_arguments_with_the_argument_named(self):
        cases = [
            (base_args(source_table=""), "--source_table"),
            ({k: v for k, v in base_args().items() if k != "external_id"}, "--external_id"),
            (base_args(engine="dump"), "--engine"),
            (base_args(segments="0"), "--segments"),
            (base_args(segments="x"), "--segments"),
            (base_args(write_rate="-1"), "--write_rate"),
            (base_args(write_rate="fast"), "--write_rate"),
            (base_args(write_rate="nan"), "--write_rate"),
            (base_args(engine="export"), "--export_bucket"),
            (base_args(consistent_read="yes"), "--consistent_read"),
        ]
        for args, named in cases:
            with self.subTest(named=named), self.assertRaises(il.ConfigurationError) as caught:
                il.build_config(args, 2)
            self.assertIn(named, str(caught.exception))

    def test_write_rate_is_split_over_concurrent_tasks(self):
        self.assertEqual(il.per_task_write_rate(1000, units=40, parallelism=8), 125)
        self.assertEqual(il.per_task_write_rate(1000, units=2, parallelism=8), 500)
        self.assertEqual(il.per_task_write_rate(0, units=40, parallelism=8), 0)


class ExclusionTests(unittest.TestCase):
    def test_refuses_key_attributes(self):
        with self.assertRaises(il.ConfigurationError) as caught:
            il.validate_exclusions(["secret", "sk"], ["pk", "sk"])
        self.assertIn("sk", str(caught.exception))
        self.assertIn("key attributes are always copied", str(caught.exception))
        il.validate_exclusions(["secret"], ["pk", "sk"])  # non-key names are fine

    def test_removes_named_attributes_without_touching_the_input(self):
        item = {"pk": {"S": "a"}, "secret": {"S": "x"}, "keep": {"N": "1"}}
        self.assertEqual(il.exclude_attributes(item, {"secret", "absent"}), {"pk": {"S": "a"}, "keep": {"N": "1"}})
        self.assertIn("secret", item)
        self.assertIs(il.exclude_attributes(item, set()), item)


VECTORS = json.loads((REPO / "test" / "fixtures" / "redaction-vectors.json").read_text(encoding="utf-8"))


def _boto_item(wire):
    """A wire-form item (JSON, binary as base64) -> the boto3 low-level form the script handles."""
    return {name: il._export_value(value) for name, value in wire.items()}


class TargetViewVectorTests(unittest.TestCase):
    """The vectors are generated from the TypeScript (test/unit/redaction-vectors.test.ts): same strings, same views."""

    def test_sha256_redaction_is_identical_to_typescript(self):
        self.assertGreaterEqual(len(VECTORS["sha256"]), 10)
        for vector in VECTORS["sha256"]:
            with self.subTest(vector["name"]):
                value = il._export_value(vector["value"])
                self.assertEqual(il.redacted_value(value, {"sha256": True}), vector["redacted"])

    def test_canonical_json_orders_keys_by_utf16_code_units_like_javascript(self):
        self.assertEqual(il.canonical_json({"\uff01": 1, "\U0001f600": 2, "a": None}), '{"a":null,"\U0001f600":2,"\uff01":1}')

    def test_item_views_are_identical_to_typescript(self):
        for vector in VECTORS["views"]:
            with self.subTest(vector["name"]):
                policy = il.parse_target_policy(json.dumps(VECTORS["policies"][vector["policy"]]))
                view = il.target_view(policy)(_boto_item(vector["item"]))
                self.assertEqual(None if view is None else il._wire_value({"M": view})["M"], vector["view"])

    def test_no_policy_keeps_every_item_as_is(self):
        item = _boto_item(VECTORS["views"][0]["item"])
        self.assertIs(il.target_view(il.parse_target_policy(""))(item), item)

    def test_bad_policies_are_refused(self):
        for raw, message in (("{", "not JSON"), ('{"partitionKeyPrefixes": []}', "partitionKeyName"),
                             ('{"partitionKeyName": "pk", "redaction": {"redactWith": {}}}', "redactWith")):
            with self.subTest(raw), self.assertRaisesRegex(il.ConfigurationError, message):
                il.parse_target_policy(raw)
        with self.assertRaisesRegex(il.ConfigurationError, "key attribute.*sk"):
            il.validate_target_policy({"redaction": {"exclude": [], "redact": ["sk"]}}, ["pk", "sk"])


class ExportLineTests(unittest.TestCase):
    def test_every_type(self):
        line = ('{"Item":{"s":{"S":"\\u00fc"},"e":{"S":""},"n":{"N":"-1.5E-120"},"b":{"B":"AAH+/w=="},"eb":{"B":""},'
                '"ss":{"SS":["a"]},"ns":{"NS":["1","2"]},"bs":{"BS":["AA==","//4="]},"nul":{"NULL":true},"t":{"BOOL":true},'
                '"m":{"M":{"x":{"L":[{"B":"AQ=="},{"M":{"y":{"BS":["AQ=="]}}},{"N":"12345678901234567890123456789012345678"}]}}}}}\n')
        self.assertEqual(il.parse_export_line(line), {
            "s": {"S": "ü"}, "e": {"S": ""}, "n": {"N": "-1.5E-120"}, "b": {"B": b"\x00\x01\xfe\xff"}, "eb": {"B": b""},
            "ss": {"SS": ["a"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"\x00", b"\xff\xfe"]}, "nul": {"NULL": True},
            "t": {"BOOL": True},
            "m": {"M": {"x": {"L": [{"B": b"\x01"}, {"M": {"y": {"BS": [b"\x01"]}}}, {"N": "12345678901234567890123456789012345678"}]}}},
        })

    def test_names_that_are_javascript_object_properties_are_ordinary_attributes(self):
        line = '{"Item":{"pk":{"S":"a"},"__proto__":{"M":{"__proto__":{"N":"1"},"constructor":{"S":"c"}}},"toString":{"S":"t"}}}'
        self.assertEqual(il.parse_export_line(line), {
            "pk": {"S": "a"}, "__proto__": {"M": {"__proto__": {"N": "1"}, "constructor": {"S": "c"}}}, "toString": {"S": "t"},
        })

    def test_blank_line_is_no_item(self):
        self.assertIsNone(il.parse_export_line("  \n"))

    def test_rejects_malformed_lines(self):
        for line in ['{"pk":{"S":"a"}}', '{"Item":{"a":{"X":"1"}}}', '{"Item":{"a":{"S":"1","N":"1"}}}', '{"Item":{"a":{"B":"not base64!"}}}', "{"]:
            with self.subTest(line=line), self.assertRaises(ValueError):
                il.parse_export_line(line)


class BackoffAndRateTests(unittest.TestCase):
    def test_full_jitter_is_bounded_by_the_capped_exponential(self):
        self.assertEqual(il.backoff_delay(3, 0.05, 10.0, rand=lambda: 1.0), 0.4)
        self.assertEqual(il.backoff_delay(30, 0.05, 10.0, rand=lambda: 1.0), 10.0)
        self.assertEqual(il.backoff_delay(3, 0.05, 10.0, rand=lambda: 0.0), 0.0)

    def test_token_bucket_holds_the_average_rate(self):
        clock = FakeClock()
        bucket = il.TokenBucket(50, clock=clock, sleep=clock.sleep)
        for _ in range(8):
            bucket.acquire(25)
        # 200 items at 50/s with a 50-item burst: 150 items wait 3 s in total.
        self.assertAlmostEqual(sum(clock.slept), 3.0, places=6)

    def test_results_fail_the_job_when_any_unit_failed(self):
        ok = {"segment": 0, "scanned": 3, "written": 3, "excluded_attrs": 0, "seconds": 0.1}
        self.assertEqual(il.summarize([ok, {"segment": 1, "error": "X: y"}])["failed"], 1)
        il.check_results([ok])
        with self.assertRaisesRegex(il.InitialLoadError, r"1 of 2 units failed: 1: X: y"):
            il.check_results([ok, {"segment": 1, "error": "X: y"}])
        with self.assertRaisesRegex(il.ExportFailedError, "lists 4 items but 3 were read"):
            il.check_results([ok], expected_items=4)


class CredentialRefreshTests(unittest.TestCase):
    """The bug this fixes: the original sample assumed the role once and died after its one-hour token."""

    def _credentials(self, number, expiration):
        return {"Credentials": {"AccessKeyId": f"ASIAFAKE{number:08d}", "SecretAccessKey": f"secret-{number}",
                                "SessionToken": f"token-{number}", "Expiration": expiration}}

    def test_refreshes_before_expiry_and_passes_the_external_id(self):
        clock = FakeClock()
        start = datetime.datetime.fromtimestamp(clock.now, tz=datetime.timezone.utc)
        sts = boto3.client("sts", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
        expected = {"RoleArn": ROLE_ARN, "RoleSessionName": il.ROLE_SESSION_NAME, "ExternalId": EXTERNAL_ID}
        with Stubber(sts) as stub:
            stub.add_response("assume_role", self._credentials(1, start + datetime.timedelta(hours=1)), expected)
            stub.add_response("assume_role", self._credentials(2, start + datetime.timedelta(hours=1, minutes=55)), expected)
            session = il.target_session(ROLE_ARN, EXTERNAL_ID, REGION, sts_client=sts, clock=clock)
            credentials = session.get_credentials()
            self.assertEqual(credentials.get_frozen_credentials().access_key, "ASIAFAKE00000001")
            clock.now += 30 * 60  # 30 min left: still valid, no call
            self.assertEqual(credentials.get_frozen_credentials().access_key, "ASIAFAKE00000001")
            clock.now += 25 * 60  # 5 min left: inside botocore's mandatory refresh window
            frozen = credentials.get_frozen_credentials()
            self.assertEqual((frozen.access_key, frozen.secret_key, frozen.token), ("ASIAFAKE00000002", "secret-2", "token-2"))
            stub.assert_no_pending_responses()
        self.assertEqual(session.region_name, REGION)

    def test_refused_role_fails_before_any_work(self):
        sts = boto3.client("sts", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
        with Stubber(sts) as stub:
            stub.add_client_error("assume_role", "AccessDenied", "not authorized", 403)
            with self.assertRaises(ClientError):
                il.target_session(ROLE_ARN, "wrong", REGION, sts_client=sts)


class ExportEngineTests(unittest.TestCase):
    TABLE_ARN = "arn:aws:dynamodb:us-east-1:111111111111:table/source-table"
    HINT = ("aws dynamodb update-continuous-backups --table-name source-table "
            "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true")

    def setUp(self):
        self.client = boto3.client("dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
        self.stub = Stubber(self.client)
        self.stub.activate()
        self.addCleanup(self.stub.deactivate)

    def _pitr(self, status):
        self.stub.add_response("describe_continuous_backups", {"ContinuousBackupsDescription": {
            "ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": status}}},
            {"TableName": "source-table"})

    def test_pitr_disabled_says_how_to_enable_it(self):
        self._pitr("DISABLED")
        with self.assertRaises(il.PointInTimeRecoveryDisabledError) as caught:
            il.start_export(self.client, self.TABLE_ARN, "bkt", "pfx")
        self.assertIn(self.HINT, str(caught.exception))
        self.stub.assert_no_pending_responses()

    def test_pitr_unavailable_from_the_export_call_says_the_same(self):
        self._pitr("ENABLED")
        self.stub.add_client_error("export_table_to_point_in_time", "PointInTimeRecoveryUnavailableException", "PITR off")
        with self.assertRaises(il.PointInTimeRecoveryDisabledError) as caught:
            il.start_export(self.client, self.TABLE_ARN, "bkt", "pfx")
        self.assertIn(self.HINT, str(caught.exception))
        self.assertIsInstance(caught.exception.__cause__, ClientError)

    def test_starts_a_dynamodb_json_export_and_waits_for_it(self):
        arn = self.TABLE_ARN + "/export/01764201600000-a1b2c3d4"
        self._pitr("ENABLED")
        self.stub.add_response("export_table_to_point_in_time", {"ExportDescription": {"ExportArn": arn, "ExportStatus": "IN_PROGRESS"}},
                               {"TableArn": self.TABLE_ARN, "S3Bucket": "bkt", "S3Prefix": "pfx", "ExportFormat": "DYNAMODB_JSON"})
        self.stub.add_response("describe_export", {"ExportDescription": {"ExportArn": arn, "ExportStatus": "IN_PROGRESS"}}, {"ExportArn": arn})
        done = {"ExportArn": arn, "ExportStatus": "COMPLETED", "S3Bucket": "bkt", "ExportManifest": EXPORT_DIR + "/manifest-summary.json"}
        self.stub.add_response("describe_export", {"ExportDescription": done}, {"ExportArn": arn})
        self.assertEqual(il.start_export(self.client, self.TABLE_ARN, "bkt", "pfx"), arn)
        clock, seen = FakeClock(), []
        description = il.wait_for_export(self.client, arn, poll_seconds=20, sleep=clock.sleep, clock=clock, on_progress=seen.append)
        self.assertEqual(description["ExportManifest"], done["ExportManifest"])
        self.assertEqual((seen, clock.slept), (["IN_PROGRESS", "COMPLETED"], [20]))
        self.stub.assert_no_pending_responses()

    def test_failed_export_raises_with_the_reason(self):
        arn = self.TABLE_ARN + "/export/x"
        self.stub.add_response("describe_export", {"ExportDescription": {
            "ExportArn": arn, "ExportStatus": "FAILED", "FailureCode": "S3AccessDenied", "FailureMessage": "no PutObject"}})
        with self.assertRaisesRegex(il.ExportFailedError, "S3AccessDenied: no PutObject"):
            il.wait_for_export(self.client, arn, sleep=lambda s: None)


# --------------------------------------------------------------------------- against S3 (fake) and DynamoDB Local


class FakeAwsTestCase(unittest.TestCase):
    """Points the script's own clients at DynamoDB Local and the fake STS/S3, as Glue's would point at AWS."""

    @classmethod
    def setUpClass(cls):
        cls.client = local_client()
        cls.fake = FakeAws(ROLE_ARN, EXTERNAL_ID)
        cls.addClassCleanup(cls.fake.stop)
        for path in FIXTURE_ROOT.rglob("*"):
            if path.is_file():
                cls.fake.objects[(EXPORT_BUCKET, path.relative_to(FIXTURE_ROOT).as_posix())] = path.read_bytes()

    def setUp(self):
        use_job_environment(self, self.fake)

    def config(self, source, target, **overrides):
        cfg = il.build_config(base_args(source_table=source, target_table=target, **overrides), default_parallelism=1)
        return il.check_tables(local_client(), local_client(), cfg)


class ExportFileTests(FakeAwsTestCase):
    def test_committed_fixture_is_what_its_script_writes(self):
        from fixtures import make_export_fixture as fixture
        for name, lines in fixture.DATA_FILES.items():
            data = gzip.decompress((FIXTURE_ROOT / fixture.EXPORT_DIR / name).read_bytes()).decode("utf-8")
            self.assertEqual(data, "".join(line + "\n" for line in lines), name)

    def test_manifest_lists_the_data_files(self):
        s3 = il.s3_client(REGION)
        files = il.list_export_data_files(s3, EXPORT_BUCKET, EXPORT_DIR + "/manifest-summary.json")
        self.assertEqual([f["item_count"] for f in files], [3, 0, 1])
        self.assertTrue(all(f["key"].startswith(EXPORT_DIR + "/data/") and f["key"].endswith(".json.gz") for f in files))

    def test_reads_every_type_from_the_gzip_files(self):
        s3 = il.s3_client(REGION)
        files = il.list_export_data_files(s3, EXPORT_BUCKET, EXPORT_DIR + "/manifest-summary.json")
        items = [item for f in files for item in il.read_export_file(s3, EXPORT_BUCKET, f["key"])]
        self.assertEqual(items, FIXTURE_ITEMS)

    def test_a_bad_line_names_file_and_line(self):
        key = EXPORT_DIR + "/data/broken.json.gz"
        self.fake.objects[(EXPORT_BUCKET, key)] = gzip.compress(b'{"Item":{"pk":{"S":"a"}}}\n{"Item":{"pk":{"B":"%%"}}}\n')
        with self.assertRaisesRegex(il.ExportFailedError, r"broken\.json\.gz line 2"):
            list(il.read_export_file(il.s3_client(REGION), EXPORT_BUCKET, key))

    def test_copy_export_file_writes_the_items_exactly(self):
        source, target = create_table(self.client), create_table(self.client)
        cfg = self.config(source, target, engine="export", export_bucket=EXPORT_BUCKET, exclude_attributes="secret")
        files = il.list_export_data_files(il.s3_client(REGION), EXPORT_BUCKET, EXPORT_DIR + "/manifest-summary.json")
        results = [il.run_unit(il.copy_export_file, cfg, f["key"], "file") for f in files]
        il.check_results(results, expected_items=sum(f["item_count"] for f in files))
        self.assertEqual([(r["scanned"], r["written"], r["excluded_attrs"]) for r in results], [(3, 3, 1), (0, 0, 0), (1, 1, 0)])
        # DynamoDB normalises numbers on write, so the expectation is what it returns for the same item put directly.
        for item in FIXTURE_ITEMS:
            self.client.put_item(TableName=source, Item=il.exclude_attributes(item, {"secret"}))
            self.assertEqual(get_raw(self.client, target, key_of(item)), get_raw(self.client, source, key_of(item)))
        self.assertEqual(len(scan_all(self.client, target)), len(FIXTURE_ITEMS))


class ScanCopyTests(FakeAwsTestCase):
    def test_every_attribute_value_type_is_copied_exactly(self):
        source, target = create_table(self.client), create_table(self.client)
        self.client.put_item(TableName=source, Item=ALL_TYPES_ITEM)
        result = il.copy_segment(self.config(source, target, segments="1"), 0)
        self.assertEqual((result["segment"], result["scanned"], result["written"], result["excluded_attrs"]), (0, 1, 1, 0))
        copied = get_raw(self.client, target, key_of(ALL_TYPES_ITEM))
        self.assertEqual(copied, get_raw(self.client, source, key_of(ALL_TYPES_ITEM)))
        # Beyond source == target: the values that most often get mangled are still what was written.
        self.assertEqual(copied["n38"], {"N": "12345678901234567890123456789012345678"})
        self.assertEqual((copied["b"], copied["empty_b"], copied["empty_s"]), ({"B": b"\x00\x01\xfe\xff"}, {"B": b""}, {"S": ""}))
        self.assertEqual(copied["m"], ALL_TYPES_ITEM["m"])
        self.assertEqual(copied["ünïcödé key"], {"S": "v"})
        self.assertIsInstance(copied["bs"]["BS"][0], bytes)

    def test_attributes_named_proto_constructor_and_tostring_are_copied_exactly(self):
        source, target = create_table(self.client), create_table(self.client)
        item = {"pk": {"S": "proto"}, "sk": {"N": "1"}, "__proto__": {"M": {"__proto__": {"S": "in"}, "constructor": {"N": "2"}}},
                "toString": {"L": [{"M": {"__proto__": {"BOOL": True}}}]}, "prototype": {"S": "p"}}
        self.client.put_item(TableName=source, Item=item)
        result = il.copy_segment(self.config(source, target, segments="1"), 0)
        self.assertEqual((result["scanned"], result["written"]), (1, 1))
        self.assertEqual(get_raw(self.client, target, key_of(item)), item)

    def test_parallel_segments_copy_each_item_exactly_once(self):
        source, target = create_table(self.client), create_table(self.client)
        items = [{"pk": {"S": f"item-{i:04d}"}, "sk": {"N": str(i % 7)}, "payload": {"S": "x" * (i % 50)}, "secret": {"N": str(i)}}
                 for i in range(300)]
        il.write_items(self.client, source, items)
        cfg = self.config(source, target, segments="4", page_limit="7", exclude_attributes="secret")

        seen = []
        for segment in range(4):  # what each task reads: disjoint segments covering the table
            seen.extend(item["pk"]["S"] for item in il.scan_segment(self.client, source, segment, 4, page_limit=7))
        self.assertEqual(sorted(seen), sorted(item["pk"]["S"] for item in items))

        results = [il.run_unit(il.copy_segment, cfg, segment, "segment") for segment in range(4)]
        il.check_results(results)
        summary = il.summarize(results)
        self.assertEqual((summary["scanned"], summary["written"], summary["excluded_attrs"]), (300, 300, 300))
        self.assertTrue(all(r["written"] > 0 for r in results), results)
        copied = scan_all(self.client, target)
        self.assertEqual(len(copied), 300)
        self.assertTrue(all("secret" not in item for item in copied))
        self.assertEqual({item["pk"]["S"]: item["payload"] for item in copied}, {item["pk"]["S"]: item["payload"] for item in items})

    def test_a_prefix_filter_copies_only_the_items_in_the_view(self):
        source, target = create_table(self.client), create_table(self.client)
        items = [{"pk": {"S": f"{tenant}#{i}"}, "sk": {"N": "1"}} for tenant in ("eu", "us", "euro") for i in range(10)]
        il.write_items(self.client, source, items)
        policy = {"partitionKeyName": "pk", "partitionKeyPrefixes": ["eu#"], "attributeEquals": [], "redaction": None}
        cfg = self.config(source, target, segments="2", target_policy=json.dumps(policy))
        summary = il.summarize([il.run_unit(il.copy_segment, cfg, segment, "segment") for segment in range(2)])
        self.assertEqual((summary["scanned"], summary["written"], summary["skipped"], summary["failed"]), (30, 10, 20, 0))
        self.assertEqual(sorted(item["pk"]["S"] for item in scan_all(self.client, target)), sorted(f"eu#{i}" for i in range(10)))

    def test_the_policy_redacts_and_excludes_and_exclude_attributes_still_applies(self):
        source, target = create_table(self.client), create_table(self.client)
        item = {"pk": {"S": "a"}, "sk": {"N": "1"}, "status": {"S": "active"}, "email": {"S": "a@example.com"},
                "card": {"M": {"n": {"S": "4111"}}}, "ssn": {"S": "123"}, "legacy": {"S": "x"}, "keep": {"B": b"\x00"}}
        self.client.put_item(TableName=source, Item=item)
        self.client.put_item(TableName=source, Item={"pk": {"S": "b"}, "sk": {"N": "1"}, "status": {"S": "closed"}})
        policy = {"partitionKeyName": "pk", "partitionKeyPrefixes": [],
                  "attributeEquals": [{"attribute": "status", "anyOf": [{"S": "active"}]}],
                  "redaction": {"exclude": ["ssn"], "redact": ["email", "card"], "redactWith": {"sha256": True}}}
        cfg = self.config(source, target, segments="1", exclude_attributes="legacy", target_policy=json.dumps(policy))
        result = il.copy_segment(cfg, 0)
        self.assertEqual((result["scanned"], result["written"], result["skipped"], result["excluded_attrs"]), (2, 1, 1, 1))
        copied = scan_all(self.client, target)
        self.assertEqual(len(copied), 1)
        self.assertEqual(set(copied[0]), {"pk", "sk", "status", "email", "card", "keep"})
        self.assertEqual(copied[0]["email"], il.redacted_value({"S": "a@example.com"}, {"sha256": True}))
        self.assertTrue(copied[0]["card"]["S"].startswith("sha256:"))
        self.assertEqual(copied[0]["keep"], {"B": b"\x00"})

    def test_a_token_redaction_replaces_the_value(self):
        source, target = create_table(self.client), create_table(self.client)
        self.client.put_item(TableName=source, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "email": {"S": "a@example.com"}})
        policy = {"partitionKeyName": "pk", "redaction": {"exclude": [], "redact": ["email"], "redactWith": {"token": "REDACTED"}}}
        il.copy_segment(self.config(source, target, segments="1", target_policy=json.dumps(policy)), 0)
        self.assertEqual(scan_all(self.client, target)[0]["email"], {"S": "REDACTED"})

    def test_check_tables_refuses_a_policy_that_redacts_a_key(self):
        source, target = create_table(self.client), create_table(self.client)
        policy = {"partitionKeyName": "pk", "redaction": {"exclude": ["pk"], "redact": [], "redactWith": {"token": "X"}}}
        with self.assertRaisesRegex(il.ConfigurationError, "key attribute.*pk"):
            self.config(source, target, target_policy=json.dumps(policy))

    def test_pagination_follows_last_evaluated_key(self):
        source = create_table(self.client)
        il.write_items(self.client, source, [{"pk": {"S": f"p{i}"}, "sk": {"N": "0"}} for i in range(23)])
        calls = []

        class CountingClient:
            def scan(self, **request):
                calls.append(dict(request))
                return local_client().scan(**request)

        keys = [item["pk"]["S"] for item in il.scan_segment(CountingClient(), source, 0, 1, page_limit=5, consistent_read=True)]
        self.assertEqual(sorted(keys), sorted(f"p{i}" for i in range(23)))
        self.assertGreaterEqual(len(calls), 5)  # 23 items at 5 per page
        self.assertNotIn("ExclusiveStartKey", calls[0])
        self.assertTrue(all(c["Limit"] == 5 and c["ConsistentRead"] is True for c in calls))
        self.assertTrue(all("ExclusiveStartKey" in c for c in calls[1:]))

    def test_check_tables_refuses_key_exclusion_and_key_mismatch(self):
        source, same, other = create_table(self.client), create_table(self.client), create_table(self.client, sort_type="S")
        with self.assertRaisesRegex(il.ConfigurationError, "key attribute.*pk"):
            self.config(source, same, exclude_attributes="pk,secret")
        with self.assertRaisesRegex(il.ConfigurationError, "primary keys differ"):
            self.config(source, other)
        cfg = self.config(source, same)
        self.assertEqual(cfg["key_attributes"], ["pk", "sk"])
        self.assertTrue(cfg["source_table_arn"].endswith(":table/" + source))

    def test_tasks_assume_the_target_role_with_the_external_id(self):
        source, target = create_table(self.client), create_table(self.client)
        before = len(self.fake.assume_role_requests)
        il.copy_segment(self.config(source, target, segments="1"), 0)
        request = self.fake.assume_role_requests[before]
        self.assertEqual((request["RoleArn"], request["ExternalId"], request["RoleSessionName"]), (ROLE_ARN, EXTERNAL_ID, il.ROLE_SESSION_NAME))

    def test_a_refused_role_fails_the_unit_and_the_job(self):
        source, target = create_table(self.client), create_table(self.client)
        self.client.put_item(TableName=source, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
        cfg = {**self.config(source, target, segments="1"), "external_id": "wrong"}
        with mock.patch("sys.stderr", io.StringIO()):  # run_unit prints the traceback for the executor log
            result = il.run_unit(il.copy_segment, cfg, 0, "segment")
        self.assertEqual(result["segment"], 0)
        self.assertIn("AccessDenied", result["error"])
        with self.assertRaisesRegex(il.InitialLoadError, "1 of 1 units failed"):
            il.check_results([result])
        self.assertEqual(scan_all(self.client, target), [])


class GlueEntryPointTests(FakeAwsTestCase):
    """main() with stand-ins for the two Glue/Spark imports: checks the wiring (arguments, units, summary, failure)."""

    def run_main(self, **args):
        calls = run_glue_main(il.main, "initial_load.py", args)
        calls["slices"] = calls["slices"][0] if len(calls["slices"]) == 1 else calls["slices"]
        return calls

    def test_module_imports_without_spark(self):
        self.assertNotIn("pyspark", sys.modules)
        self.assertNotIn("awsglue", sys.modules)

    def test_scan_engine_end_to_end(self):
        source, target = create_table(self.client), create_table(self.client)
        il.write_items(self.client, source, [{"pk": {"S": f"m{i}"}, "sk": {"N": str(i)}} for i in range(40)])
        calls = self.run_main(**base_args(source_table=source, target_table=target, write_rate="100000"))
        self.assertEqual(calls["slices"], 8)  # default: 4 x defaultParallelism
        start, units, summary = calls["lines"][0]["start"], calls["lines"][1:-1], calls["lines"][-1]["summary"]
        self.assertEqual((start["engine"], start["units"], start["write_rate_per_task"]), ("scan", 8, 50000))
        self.assertEqual(sorted(u["segment"] for u in units), list(range(8)))
        self.assertEqual((summary["scanned"], summary["written"], summary["failed"]), (40, 40, 0))
        self.assertEqual(len(scan_all(self.client, target)), 40)

    def test_export_engine_end_to_end(self):
        source, target = create_table(self.client), create_table(self.client)
        arn = f"arn:aws:dynamodb:ddblocal:000000000000:table/{source}/export/01764201600000-a1b2c3d4"
        description = {"ExportArn": arn, "ExportStatus": "COMPLETED", "S3Bucket": EXPORT_BUCKET,
                       "ExportManifest": EXPORT_DIR + "/manifest-summary.json"}
        # DynamoDB Local has no export API: the two calls that need it are replaced, the rest is real.
        with mock.patch.object(il, "start_export", return_value=arn) as start, \
                mock.patch.object(il, "wait_for_export", return_value=description):
            calls = self.run_main(**base_args(source_table=source, target_table=target, engine="export",
                                              export_bucket=EXPORT_BUCKET, export_prefix="initial-load"))
        self.assertEqual(start.call_args.args[1:], (f"arn:aws:dynamodb:ddblocal:000000000000:table/{source}", EXPORT_BUCKET, "initial-load"))
        self.assertEqual(calls["slices"], 3)
        self.assertEqual(calls["lines"][-1]["summary"]["written"], 4)
        self.assertEqual(len(scan_all(self.client, target)), 4)

    def test_failed_units_fail_the_job_after_reporting(self):
        source, target = create_table(self.client), create_table(self.client)
        il.write_items(self.client, source, [{"pk": {"S": "a"}, "sk": {"N": "1"}}])
        real_copy = il.copy_segment

        def copy_failing_segment_1(cfg, segment):
            if segment == 1:
                raise il.WriteFailedError("simulated")
            return real_copy(cfg, segment)

        with mock.patch.object(il, "copy_segment", copy_failing_segment_1), mock.patch("sys.stderr", io.StringIO()):
            with self.assertRaisesRegex(il.InitialLoadError, "1 of 3 units failed: 1: WriteFailedError: simulated"):
                self.run_main(**base_args(source_table=source, target_table=target, segments="3"))


class UnprocessedItemsTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = local_client()

    def test_unprocessed_items_are_retried_until_written(self):
        table = create_table(self.client)
        items = [{"pk": {"S": f"u{i}"}, "sk": {"N": str(i)}, "b": {"B": bytes([i])}} for i in range(60)]
        real = self.client
        calls = []

        class PartlyThrottledClient:
            """Writes only the first half of each request, twice, and returns the rest as UnprocessedItems."""

            def batch_write_item(self, RequestItems):
                (name, requests), = RequestItems.items()
                calls.append(len(requests))
                if len(calls) <= 2 and len(requests) > 1:
                    half = len(requests) // 2
                    real.batch_write_item(RequestItems={name: requests[:half]})
                    return {"UnprocessedItems": {name: requests[half:]}}
                return real.batch_write_item(RequestItems=RequestItems)

        delays = []
        written = il.write_items(PartlyThrottledClient(), table, iter(items), sleep=delays.append, rand=lambda: 0.5)
        self.assertEqual(written, 60)
        self.assertEqual(calls[:4], [25, 13, 7, 25])  # 25 → 12 written, 13 back → 6 written, 7 back → all
        self.assertEqual(delays, [0.5 * 0.05 * 2, 0.5 * 0.05 * 4])  # full jitter over the exponential
        stored = {item["pk"]["S"]: item for item in scan_all(self.client, table)}
        self.assertEqual(stored, {item["pk"]["S"]: item for item in items})

    def test_items_left_after_the_attempts_raise(self):
        class AlwaysThrottledClient:
            calls = 0

            def batch_write_item(self, RequestItems):
                AlwaysThrottledClient.calls += 1
                return {"UnprocessedItems": RequestItems}

        items = [{"pk": {"S": f"x{i}"}, "sk": {"N": "1"}} for i in range(3)]
        with self.assertRaisesRegex(il.WriteFailedError, "3 of 3 items for t1 still unprocessed after 4 BatchWriteItem attempts"):
            il.write_items(AlwaysThrottledClient(), "t1", items, max_attempts=4, sleep=lambda s: None)
        self.assertEqual(AlwaysThrottledClient.calls, 4)

    def test_rate_limiter_is_charged_per_batch(self):
        charged = []

        class Limiter:
            def acquire(self, count):
                charged.append(count)

        table = create_table(self.client)
        items = [{"pk": {"S": f"r{i}"}, "sk": {"N": "1"}} for i in range(60)]
        self.assertEqual(il.write_items(self.client, table, items, rate_limiter=Limiter()), 60)
        self.assertEqual(charged, [25, 25, 10])


if __name__ == "__main__":
    unittest.main()
