"""What the Glue scripts' tests share: DynamoDB Local clients and a stand-in for the Glue/Spark imports of main().

The stand-in runs main() as Glue would, minus Spark: getResolvedOptions reads `--name value` pairs
(every requested name must be present), and the SparkContext runs each task in this process.
"""

import contextlib
import io
import json
import os
import sys
import types
from unittest import mock

import boto3

REGION = "us-east-1"
_LOCAL_CLIENTS = []


def dynamodb_endpoint():
    endpoint = os.environ.get("DYNAMODB_ENDPOINT")
    if not endpoint:
        raise RuntimeError(
            "DYNAMODB_ENDPOINT is not set: start DynamoDB Local and point it there "
            "(npx jest test/integration/glue-script.test.ts does both)"
        )
    return endpoint


def local_client():
    """One shared client on DynamoDB Local (closed by close_local_clients, each test module's tearDownModule)."""
    if not _LOCAL_CLIENTS:
        _LOCAL_CLIENTS.append(boto3.client("dynamodb", region_name=REGION, endpoint_url=dynamodb_endpoint(),
                                           aws_access_key_id="local", aws_secret_access_key="local"))
    return _LOCAL_CLIENTS[0]


def close_local_clients():
    while _LOCAL_CLIENTS:
        _LOCAL_CLIENTS.pop().close()


def use_job_environment(test, fake):
    """For one test: the scripts' own clients on DynamoDB Local, STS and S3 on the FakeAws stand-in, as Glue's would be on AWS."""
    env = mock.patch.dict(os.environ, {
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint(), "AWS_ENDPOINT_URL_STS": fake.endpoint,
        "AWS_ENDPOINT_URL_S3": fake.endpoint, "AWS_ACCESS_KEY_ID": "gluejobrole", "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": REGION,
    })
    env.start()
    test.addCleanup(env.stop)


class _Rdd:
    def __init__(self, data):
        self.data = list(data)

    def map(self, function):
        return _Rdd(function(value) for value in self.data)

    def collect(self):
        return self.data

    def treeReduce(self, function):  # noqa: N802 (Spark's name)
        result = self.data[0]
        for value in self.data[1:]:
            result = function(result, value)
        return result


class _Value:
    """An accumulator or a broadcast variable: a value the tasks add to or read."""

    def __init__(self, value):
        self.value = value

    def add(self, amount):
        self.value += amount


def run_glue_main(main, script, arguments, default_parallelism=2):
    """Runs ``main()`` with ``--name value`` arguments; returns {"slices": [per parallelize call], "lines": stdout JSON lines}.
    The lines are recorded even when main() raises (the exception propagates)."""
    calls = {"slices": [], "lines": []}

    class SparkContext:
        defaultParallelism = default_parallelism

        @classmethod
        def getOrCreate(cls):  # noqa: N802 (Spark's name)
            return cls()

        def parallelize(self, data, slices):
            calls["slices"].append(slices)
            return _Rdd(data)

        def accumulator(self, value):
            return _Value(value)

        def broadcast(self, value):
            return _Value(value)

    def get_resolved_options(argv, names):
        pairs = dict(zip(argv[1::2], argv[2::2]))
        return {name: pairs["--" + name] for name in names}

    glue_utils, spark_context = types.ModuleType("awsglue.utils"), types.ModuleType("pyspark.context")
    glue_utils.getResolvedOptions, spark_context.SparkContext = get_resolved_options, SparkContext
    modules = {"awsglue": types.ModuleType("awsglue"), "awsglue.utils": glue_utils,
               "pyspark": types.ModuleType("pyspark"), "pyspark.context": spark_context}
    argv = [script] + [part for name, value in arguments.items() for part in ("--" + name, value)]
    out = io.StringIO()
    with mock.patch.dict(sys.modules, modules), mock.patch.object(sys, "argv", argv), contextlib.redirect_stdout(out):
        try:
            main()
        finally:
            calls["lines"] = [json.loads(line) for line in out.getvalue().splitlines()]
    return calls
