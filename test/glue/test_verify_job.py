"""Tests of infra/glue/verify_job.py without Spark: the work functions and the whole run against DynamoDB Local.

Run: DYNAMODB_ENDPOINT=http://127.0.0.1:8000 /usr/bin/python3 -m unittest discover -s test/glue -v
(test/integration/glue-script.test.ts starts DynamoDB Local and does exactly this under `npm test`).
The target is read through the assumed target role: STS AssumeRole (and S3 PutObject for the
reports of main()) are served by fake_aws.FakeAws. Expected differences are written by hand.
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import unittest
import uuid
from pathlib import Path

import boto3
from botocore.stub import Stubber

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra" / "glue"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import replication_common as common  # noqa: E402
import verify_job as vj  # noqa: E402
from fake_aws import FakeAws  # noqa: E402
from glue_test_support import REGION, close_local_clients, dynamodb_endpoint, local_client, run_glue_main, use_job_environment  # noqa: E402

ROLE_ARN = "arn:aws:iam::222222222222:role/ddbrepl-orders-dr-target"
EXTERNAL_ID = "ext-verify-1"
KEY_SCHEMA = {"partitionKey": {"name": "pk", "type": "S"}, "sortKey": {"name": "sk", "type": "N"}}
DIGEST_VECTORS = json.loads((REPO / "test" / "fixtures" / "digest-vectors.json").read_text(encoding="utf-8"))
SUMMARY_FIELDS = {"v", "mode", "sourceItems", "targetItems", "checked", "outOfView", "buckets", "mismatchingBuckets", "missing",
                  "extra", "different", "resolvedOnRecheck", "settledMs", "startedAt", "finishedAt"}


def tearDownModule():
    close_local_clients()


def create_table(sort_type="N"):
    name = "verify-" + uuid.uuid4().hex[:12]
    local_client().create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": sort_type}])
    return name


def put(table, *items):
    for item in items:
        local_client().put_item(TableName=table, Item=item)


def item(pk, sk, **attributes):
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}, **attributes}


def args(source, target, **overrides):
    base = {"source_table": source, "source_region": REGION, "target_table": target, "target_region": REGION,
            "target_role_arn": ROLE_ARN, "external_id": EXTERNAL_ID, "key_schema": json.dumps(KEY_SCHEMA),
            "report_bucket": "reports", "run_id": "run-1", "segments": "3", "settle_seconds": "0"}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def read_reports(directory):
    directory = Path(directory)
    lines = (directory / "differences.jsonl").read_text(encoding="utf-8").splitlines()
    return (json.loads((directory / "summary.json").read_text(encoding="utf-8")), [json.loads(line) for line in lines],
            json.loads((directory / "progress.json").read_text(encoding="utf-8")))


class ConfigTests(unittest.TestCase):
    def test_defaults(self):
        cfg = vj.build_config(args("s", "t", segments=None, settle_seconds=None), default_segments=8)
        self.assertEqual((cfg["buckets"], cfg["segments"], cfg["settle_seconds"], cfg["page_size"]), (65536, 8, 10.0, 250))
        self.assertEqual((cfg["report_prefix"], cfg["run_id"], cfg["key_names"]), ("verify", "run-1", ["pk", "sk"]))
        self.assertIsNone(cfg["target_policy"])

    def test_rejects_bad_arguments_with_the_argument_named(self):
        cases = [
            (args("s", "t", key_schema=None), "--key_schema"),
            (args("s", "t", key_schema='{"partitionKey": {"name": "pk", "type": "X"}}'), "--key_schema"),
            (args("s", "t", key_schema="{"), "--key_schema"),
            (args("s", "t", run_id=None), "--run_id"),
            (args("s", "t", report_bucket=None), "--report_bucket"),
            (args("s", "t", target_role_arn=None), "--target_role_arn"),
            (args("s", "t", external_id=None), "--external_id"),
            (args("s", "t", buckets="0"), "--buckets"),
            (args("s", "t", buckets=str((1 << 24) + 1)), "--buckets"),
            (args("s", "t", segments="x"), "--segments"),
            (args("s", "t", settle_seconds="-1"), "--settle_seconds"),
            (args("s", "t", page_size="0"), "--page_size"),
            (args("s", "t", target_policy='{"partitionKeyName": "pk", "redaction": {"redact": ["sk"], "redactWith": {"token": "x"}}}'), "key attribute"),
        ]
        for arguments, named in cases:
            with self.subTest(named=named), self.assertRaises(common.ConfigurationError) as caught:
                vj.build_config(arguments, 4)
            self.assertIn(named, str(caught.exception))

    def test_a_local_run_needs_neither_role_nor_bucket(self):
        cfg = vj.build_config(args("s", "t", target_role_arn=None, external_id=None, report_bucket=None), 4, local=True)
        self.assertEqual((cfg["target_role_arn"], cfg["report_bucket"]), ("", ""))


class CredentialTests(unittest.TestCase):
    """The shared refreshing target session (replication_common), under the verify job's session name."""

    def test_the_target_session_refreshes_before_expiry(self):
        now = [1_800_000_000.0]
        start = datetime.datetime.fromtimestamp(now[0], tz=datetime.timezone.utc)
        sts = boto3.client("sts", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
        expected = {"RoleArn": ROLE_ARN, "RoleSessionName": "ddb-replicate-verify", "ExternalId": EXTERNAL_ID}

        def credentials(number, expiration):
            return {"Credentials": {"AccessKeyId": f"ASIAFAKE{number:08d}", "SecretAccessKey": f"s{number}",
                                    "SessionToken": f"t{number}", "Expiration": expiration}}

        with Stubber(sts) as stub:
            stub.add_response("assume_role", credentials(1, start + datetime.timedelta(hours=1)), expected)
            stub.add_response("assume_role", credentials(2, start + datetime.timedelta(hours=2)), expected)
            session = common.target_session(ROLE_ARN, EXTERNAL_ID, REGION, sts_client=sts, clock=lambda: now[0],
                                            session_name=vj.ROLE_SESSION_NAME)
            frozen = session.get_credentials()
            self.assertEqual(frozen.get_frozen_credentials().access_key, "ASIAFAKE00000001")
            now[0] += 55 * 60  # 5 min left: inside botocore's mandatory refresh window
            self.assertEqual(frozen.get_frozen_credentials().access_key, "ASIAFAKE00000002")
            stub.assert_no_pending_responses()


class VerifyTestCase(unittest.TestCase):
    """The job's own clients on DynamoDB Local; the target through the fake STS, as Glue's would be on AWS."""

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeAws(ROLE_ARN, EXTERNAL_ID)
        cls.addClassCleanup(cls.fake.stop)

    def setUp(self):
        use_job_environment(self, self.fake)
        self.report_dir = tempfile.mkdtemp(prefix="verify-report-")
        self.addCleanup(lambda: [p.unlink() for p in Path(self.report_dir).iterdir()] and None)

    def run_verify(self, cfg, sleep=lambda seconds: None, runner=None):
        return vj.run_verify(cfg, runner or vj.LocalRunner(workers=4), vj.LocalReports(self.report_dir), sleep=sleep)


def keys(pk, sk):
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


class FindsDifferencesTests(VerifyTestCase):
    def populate(self):
        source, target = create_table(), create_table()
        same = [item(f"same-{i}", i, v={"S": f"value {i}"}) for i in range(30)]
        put(source, *same)
        put(target, *same)
        # Equal although spelled differently: numbers by value, sets in any order.
        put(source, item("spelling", 1, n={"N": "1.50"}, ss={"SS": ["b", "a"]}))
        put(target, item("spelling", 1, n={"N": "1.5"}, ss={"SS": ["a", "b"]}))
        put(source, item("only-in-source", 7, v={"S": "x"}))
        put(target, item("only-in-target", 8, v={"S": "y"}))
        put(source, item("top-level", 2, v={"S": "new"}))
        put(target, item("top-level", 2, v={"S": "old"}))
        nested = {"M": {"a": {"L": [{"N": "1"}, {"M": {"deep": {"S": "source"}}}]}}}
        put(source, item("nested", 3, m=nested))
        put(target, item("nested", 3, m={"M": {"a": {"L": [{"N": "1"}, {"M": {"deep": {"S": "target"}}}]}}}))
        return source, target

    def test_missing_extra_and_different_including_a_nested_attribute(self):
        source, target = self.populate()
        summary = self.run_verify(vj.build_config(args(source, target), 4))
        self.assertEqual({k: summary[k] for k in ("sourceItems", "targetItems", "checked", "outOfView", "missing", "extra", "different",
                                                  "resolvedOnRecheck", "buckets", "mismatchingBuckets")},
                         {"sourceItems": 34, "targetItems": 34, "checked": 34, "outOfView": 0, "missing": 1, "extra": 1,
                          "different": 2, "resolvedOnRecheck": 0, "buckets": 65536, "mismatchingBuckets": 4})
        _, lines, _ = read_reports(self.report_dir)
        self.assertCountEqual(lines, [
            {"kind": "missing", "keys": keys("only-in-source", 7)},
            {"kind": "extra", "keys": keys("only-in-target", 8)},
            {"kind": "different", "keys": keys("top-level", 2)},
            {"kind": "different", "keys": keys("nested", 3)},
        ])

    def test_equal_tables_need_no_second_pass(self):
        source, target = create_table(), create_table()
        items = [item(f"k{i}", i, b={"B": bytes([i, 255])}) for i in range(20)]
        put(source, *items)
        put(target, *items)
        runner = RecordingRunner()
        summary = self.run_verify(vj.build_config(args(source, target), 4), runner=runner)
        self.assertEqual((summary["mismatchingBuckets"], summary["missing"], summary["extra"], summary["different"]), (0, 0, 0, 0))
        self.assertIsNone(runner.pass2_results)
        summary_file, lines, progress = read_reports(self.report_dir)
        self.assertEqual((summary_file, lines), (summary, []))
        self.assertEqual((progress["phase"], progress["segmentsDone"], progress["segmentsTotal"]), ("done", 6, 6))

    def test_pass_two_keeps_only_the_keys_of_mismatching_buckets(self):
        source, target = self.populate()
        runner = RecordingRunner()
        self.run_verify(vj.build_config(args(source, target), 4), runner=runner)
        collected = [json.dumps(k, sort_keys=True) for r in runner.pass2_results for k, _ in r["keys"].values()]
        # 34 keys on each side, but only the 4 differing ones fall in the 4 mismatching buckets of 65536.
        self.assertCountEqual(collected, [json.dumps(k, sort_keys=True) for k in (
            keys("only-in-source", 7), keys("only-in-target", 8), keys("top-level", 2), keys("top-level", 2),
            keys("nested", 3), keys("nested", 3))])

    def test_items_outside_the_targets_view_are_not_expected_and_redaction_is_applied(self):
        source, target = create_table(), create_table()
        put(source, item("eu#1", 1, secret={"S": "s1"}, v={"S": "a"}), item("eu#2", 2, secret={"S": "s2"}, v={"S": "b"}),
            item("us#1", 3, secret={"S": "s3"}))
        # The target holds the view: eu# items only, secret redacted to the token.
        put(target, item("eu#1", 1, secret={"S": "REDACTED"}, v={"S": "a"}), item("eu#2", 2, secret={"S": "s2"}, v={"S": "b"}))
        policy = {"partitionKeyName": "pk", "partitionKeyPrefixes": ["eu#"], "attributeEquals": [],
                  "redaction": {"redact": ["secret"], "exclude": [], "redactWith": {"token": "REDACTED"}}}
        summary = self.run_verify(vj.build_config(args(source, target, target_policy=json.dumps(policy)), 4))
        self.assertEqual((summary["sourceItems"], summary["outOfView"], summary["checked"], summary["targetItems"]), (3, 1, 2, 2))
        self.assertEqual((summary["missing"], summary["extra"], summary["different"]), (0, 0, 1))
        self.assertEqual(read_reports(self.report_dir)[1], [{"kind": "different", "keys": keys("eu#2", 2)}])

    def test_a_key_fixed_while_settling_is_not_reported(self):
        source, target = self.populate()
        waited = []

        def settle(seconds):
            waited.append(seconds)
            put(target, item("top-level", 2, v={"S": "new"}))  # the pipeline catches up meanwhile
            local_client().delete_item(TableName=target, Key=keys("only-in-target", 8))

        summary = self.run_verify(vj.build_config(args(source, target, settle_seconds="2.5"), 4), sleep=settle)
        self.assertEqual(waited, [2.5])
        self.assertEqual((summary["missing"], summary["extra"], summary["different"], summary["resolvedOnRecheck"], summary["settledMs"]),
                         (1, 0, 1, 2, 2500))
        self.assertCountEqual(read_reports(self.report_dir)[1], [
            {"kind": "missing", "keys": keys("only-in-source", 7)}, {"kind": "different", "keys": keys("nested", 3)}])

    def test_report_files(self):
        source, target = create_table(sort_type="B"), create_table(sort_type="B")
        put(source, {"pk": {"S": "bin ü"}, "sk": {"B": b"\x00\xff\xfe"}, "v": {"S": "secret value"}})
        summary = self.run_verify(vj.build_config(args(source, target), 4))
        summary_file, lines, progress = read_reports(self.report_dir)
        self.assertEqual(set(summary_file), SUMMARY_FIELDS)
        self.assertEqual((summary_file["v"], summary_file["mode"], summary_file["missing"]), (1, "full", 1))
        self.assertEqual(summary_file, summary)
        self.assertLessEqual(summary_file["startedAt"], summary_file["finishedAt"])
        # Keys only, binary as base64, in the line format of the `verify` command's --report.
        text = (Path(self.report_dir) / "differences.jsonl").read_text(encoding="utf-8")
        self.assertEqual(text, '{"kind":"missing","keys":{"pk":{"S":"bin ü"},"sk":{"B":"AP/+"}}}\n')
        self.assertNotIn("secret value", text)
        self.assertEqual(set(progress), {"v", "phase", "segmentsDone", "segmentsTotal", "sourceItems", "targetItems", "updatedAt"})
        self.assertEqual((progress["phase"], progress["sourceItems"], progress["targetItems"]), ("done", 1, 0))
        self.assertTrue(progress["updatedAt"].endswith("Z"))

    def test_the_target_is_read_through_the_assumed_role(self):
        source, target = create_table(), create_table()
        before = len(self.fake.assume_role_requests)
        self.run_verify(vj.build_config(args(source, target), 4))
        requests = self.fake.assume_role_requests[before:]
        self.assertGreaterEqual(len(requests), 3)  # one per target segment
        self.assertEqual({(r["RoleArn"], r["ExternalId"], r["RoleSessionName"]) for r in requests},
                         {(ROLE_ARN, EXTERNAL_ID, "ddb-replicate-verify")})

    def test_a_table_whose_key_is_not_the_key_schema_is_refused(self):
        source, target = create_table(), create_table(sort_type="S")
        with self.assertRaisesRegex(common.ConfigurationError, r"target table .* has primary key \[pk S, sk S\], --key_schema says \[pk S, sk N\]"):
            vj.check_tables(vj.build_config(args(source, target), 4))
        vj.check_tables(vj.build_config(args(source, source), 4))

    def test_a_refused_role_fails_the_run(self):
        source, target = create_table(), create_table()
        with self.assertRaisesRegex(Exception, "AccessDenied"):
            self.run_verify(vj.build_config(args(source, target, external_id="wrong"), 4))


class RecordingRunner(vj.LocalRunner):
    pass2_results = None

    def pass2(self, cfg, units, wanted, on_unit):
        self.pass2_results = super().pass2(cfg, units, wanted, on_unit)
        return self.pass2_results


class CrossLanguageTests(VerifyTestCase):
    """Bucket digests over items read back from DynamoDB equal what TypeScript computes (test/fixtures/digest-vectors.json)."""

    def test_bucket_digests_equal_typescript(self):
        vectors = DIGEST_VECTORS["buckets"]
        self.assertEqual(DIGEST_VECTORS["keySchema"], KEY_SCHEMA)
        source = create_table()
        put(source, *[{name: common.from_wire_value(value) for name, value in wire.items()} for wire in vectors["items"]])
        cfg = vj.build_config(args(source, "unused", buckets=str(vectors["count"])), 4)
        totals = vj.empty_digests()
        for segment in range(cfg["segments"]):
            totals = vj.merge_digests(totals, vj.scan_segment_digests(cfg, "source", segment))
        self.assertEqual(totals["sourceItems"], len(vectors["items"]))
        self.assertEqual([vj.item_digest.bucket_hex(totals["source"].get(b, 0)) for b in range(vectors["count"])], vectors["digests"])

    def test_bucket_index_of_an_item_equals_typescript(self):
        vector = DIGEST_VECTORS["items"][0]
        source = create_table()
        put(source, {name: common.from_wire_value(value) for name, value in vector["item"].items()})
        buckets = 65536
        cfg = vj.build_config(args(source, "unused", buckets=str(buckets), segments="1"), 4)
        found = vj.collect_bucket_keys(cfg, "source", 0, {vector["keyHash"] % buckets})["keys"]
        self.assertEqual([k for k, _ in found.values()], [{n: vector["item"][n] for n in ("pk", "sk")}])
        self.assertEqual(vj.collect_bucket_keys(cfg, "source", 0, {(vector["keyHash"] + 1) % buckets})["keys"], {})


class LocalRunnerTests(VerifyTestCase):
    """`python3 infra/glue/verify_job.py --local`: the entry point the `verify --engine glue --local` command runs."""

    def test_runs_without_spark_and_writes_the_reports(self):
        source, target = create_table(), create_table()
        put(source, item("a", 1, v={"N": "1"}), item("b", 2))
        put(target, item("a", 1, v={"N": "2"}))
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_ENDPOINT_URL")}
        env.update({"DYNAMODB_ENDPOINT": dynamodb_endpoint(), "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
        command = [sys.executable, str(REPO / "infra" / "glue" / "verify_job.py"), "--local", "--report_dir", self.report_dir]
        for name, value in args(source, target, target_role_arn=None, external_id=None, report_bucket=None).items():
            command += ["--" + name, value]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        summary, lines, _ = read_reports(self.report_dir)
        self.assertEqual(json.loads(done.stdout.strip().splitlines()[-1]), summary)
        self.assertEqual((summary["missing"], summary["different"]), (1, 1))
        self.assertCountEqual(lines, [{"kind": "missing", "keys": keys("b", 2)}, {"kind": "different", "keys": keys("a", 1)}])

    def test_bad_arguments_exit_2_with_the_argument_named(self):
        done = subprocess.run([sys.executable, str(REPO / "infra" / "glue" / "verify_job.py"), "--local", "--report_dir", self.report_dir,
                               "--source_table", "s"], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--key_schema", done.stderr)


class GlueEntryPointTests(VerifyTestCase):
    """main() with stand-ins for the Glue/Spark imports: arguments, Spark calls, reports in S3."""

    def run_main(self, **arguments):
        return run_glue_main(vj.main, "verify_job.py", arguments)

    def test_module_imports_without_spark(self):
        self.assertNotIn("pyspark", sys.modules)
        self.assertNotIn("awsglue", sys.modules)

    def test_scans_as_spark_tasks_and_writes_the_reports_to_s3(self):
        source, target = create_table(), create_table()
        put(source, item("a", 1), item("b", 2))
        put(target, item("a", 1))
        calls = self.run_main(**args(source, target, segments=None, report_prefix="verify/", run_id="2026-12-01T03-00-00Z"))
        self.assertEqual(calls["slices"], [16, 16])  # (source, target) x 4 x defaultParallelism segments, both passes
        prefix = "verify/2026-12-01T03-00-00Z/"
        objects = {key[len(prefix):]: data for (bucket, key), data in self.fake.objects.items() if bucket == "reports" and key.startswith(prefix)}
        self.assertEqual(set(objects), {"progress.json", "summary.json", "differences.jsonl"})
        summary = json.loads(objects["summary.json"])
        self.assertEqual((summary["sourceItems"], summary["targetItems"], summary["missing"]), (2, 1, 1))
        self.assertEqual(objects["differences.jsonl"].decode("utf-8"), '{"kind":"missing","keys":{"pk":{"S":"b"},"sk":{"N":"2"}}}\n')
        self.assertEqual(json.loads(objects["progress.json"])["phase"], "done")
        self.assertEqual(calls["lines"][-1], {"summary": summary})


if __name__ == "__main__":
    unittest.main()
