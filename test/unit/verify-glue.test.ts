import { Readable } from 'node:stream';
import { BatchStopJobRunCommand, GetJobCommand, GetJobRunCommand, GlueClient, StartJobRunCommand } from '@aws-sdk/client-glue';
import { GetObjectCommand, NoSuchKey, S3Client, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { decodeEnvelope } from '../../handlers/core/envelope';
import type { TargetStackOutputs } from '../../cli/aws/stack-outputs';
import { runGlueVerifyCommand } from '../../cli/commands/verify';
import { CliError, EXIT } from '../../cli/errors';
import type { CliIo } from '../../cli/index';
import type { OperatorTarget } from '../../cli/targets/types';
import { describeGlueProgress, readGlueDifferences, runGlueVerify, verifyResultOfSummary } from '../../cli/verify/glue-engine';
import { lines, newRunId, type GlueRunStatus, type GlueVerifyArgs, type GlueVerifyDifference, type GlueVerifyProgress, type GlueVerifyRunner, type GlueVerifySummary } from '../../cli/verify/glue-runner';
import { awsGlueVerifyRunner, glueRunState, verifyJobName } from '../../cli/verify/glue-runner-aws';
import { runCli } from '../support/run-cli';

/**
 * verify --engine glue: the orchestration against a scripted fake runner (progress, summary,
 * streamed report, repair, Ctrl-C, failures), the AWS runner's calls with aws-sdk-client-mock, and
 * the options the command refuses with the Glue engine.
 */

const SUMMARY: GlueVerifySummary = {
  v: 1, mode: 'full', sourceItems: 1000, targetItems: 999, checked: 990, outOfView: 10, buckets: 64, mismatchingBuckets: 2,
  missing: 1, extra: 0, different: 1, resolvedOnRecheck: 3, settledMs: 10_000, startedAt: '2026-12-01T03:00:00.000Z', finishedAt: '2026-12-01T04:00:00.000Z',
};
const progress = (phase: GlueVerifyProgress['phase'], segmentsDone: number): GlueVerifyProgress => ({
  v: 1, phase, segmentsDone, segmentsTotal: 8, sourceItems: segmentsDone * 100, targetItems: segmentsDone * 99, updatedAt: '2026-12-01T03:10:00.000Z',
});
const diff = (kind: GlueVerifyDifference['kind'], i: number): GlueVerifyDifference => ({ kind, keys: { pk: { S: `k${i}` }, n: { N: '1.50' } } });

/** A runner that plays `statuses` one per poll, records calls, and serves `differences` lazily, counting how many were pulled. */
class FakeRunner implements GlueVerifyRunner {
  readonly description = 'Glue job fake-verify';
  readonly started: GlueVerifyArgs[] = [];
  readonly stopped: string[] = [];
  pulled = 0;
  private polls = 0;
  constructor(
    private readonly statuses: GlueRunStatus[],
    private readonly progresses: (GlueVerifyProgress | undefined)[] = [],
    /** null: the run wrote none. */
    private readonly summary: GlueVerifySummary | null = SUMMARY,
    private readonly differences: readonly GlueVerifyDifference[] = [],
    readonly stopFails = false,
  ) {}
  start(args: GlueVerifyArgs): Promise<string> {
    this.started.push(args);
    return Promise.resolve(args.runId);
  }
  poll(): Promise<GlueRunStatus> {
    const status = this.statuses[Math.min(this.polls, this.statuses.length - 1)];
    this.polls += 1;
    return Promise.resolve(status);
  }
  readProgress(): Promise<GlueVerifyProgress | undefined> {
    return Promise.resolve(this.progresses[Math.min(this.polls - 1, this.progresses.length - 1)]);
  }
  readSummary(): Promise<GlueVerifySummary | undefined> {
    return Promise.resolve(this.summary ?? undefined);
  }
  async *readDifferences(): AsyncGenerator<GlueVerifyDifference> {
    for (const d of this.differences) {
      this.pulled += 1;
      yield await Promise.resolve(d);
    }
  }
  stop(runId: string): Promise<void> {
    this.stopped.push(runId);
    return this.stopFails ? Promise.reject(new Error('glue:BatchStopJobRun failed: ThrottlingException')) : Promise.resolve();
  }
  reportLocation(runId: string): string {
    return `s3://reports/verify/${runId}/differences.jsonl`;
  }
  logsLocation(): string {
    return 'CloudWatch log group /aws-glue/jobs/error, log streams starting with jr_1';
  }
  close(): void {}
}

const noSleep = (): Promise<void> => Promise.resolve();

describe('runGlueVerify', () => {
  test('starts one run with the run id and only the given overrides, reports each progress, returns the summary', async () => {
    const runner = new FakeRunner(
      [{ state: 'RUNNING' }, { state: 'RUNNING' }, { state: 'RUNNING' }, { state: 'SUCCEEDED' }],
      [undefined, progress('pass1', 3), progress('pass2', 8), progress('done', 8)],
    );
    const seen: (string | undefined)[] = [];
    const started: string[] = [];
    const outcome = await runGlueVerify({
      runner, runId: 'verify-20261201T030000000Z-abcd', args: { segments: 8, settleSeconds: 0.5 }, sleep: noSleep,
      onStarted: (id) => started.push(id),
      onProgress: (p) => seen.push(p === undefined ? undefined : `${p.phase} ${p.segmentsDone}/${p.segmentsTotal}`),
    });
    expect(runner.started).toEqual([{ runId: 'verify-20261201T030000000Z-abcd', segments: 8, settleSeconds: 0.5 }]);
    expect(started).toEqual(['verify-20261201T030000000Z-abcd']);
    expect(seen).toEqual([undefined, 'pass1 3/8', 'pass2 8/8', 'done 8/8']);
    expect(outcome).toEqual({ kind: 'done', runId: 'verify-20261201T030000000Z-abcd', summary: SUMMARY });
    expect(runner.stopped).toEqual([]);
  });

  test('Ctrl-C while the run is going: the run is stopped, the outcome says interrupted', async () => {
    const runner = new FakeRunner([{ state: 'RUNNING' }], [progress('pass1', 1)]);
    const abort = new AbortController();
    const outcome = await runGlueVerify({ runner, runId: 'r1', signal: abort.signal, sleep: noSleep, onProgress: () => abort.abort() });
    expect(outcome).toEqual({ kind: 'interrupted', runId: 'r1', started: true });
    expect(runner.stopped).toEqual(['r1']);
  });

  test('Ctrl-C during the wait between polls ends the wait and stops the run', async () => {
    const runner = new FakeRunner([{ state: 'RUNNING' }]);
    const abort = new AbortController();
    // As timers/promises setTimeout does: an abort rejects the wait with an AbortError.
    const sleep = (): Promise<void> => {
      abort.abort();
      return Promise.reject(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
    };
    const outcome = await runGlueVerify({ runner, runId: 'r2', signal: abort.signal, sleep });
    expect(outcome).toMatchObject({ kind: 'interrupted', started: true });
    expect(runner.stopped).toEqual(['r2']);
  });

  test('a stop request that fails is reported, not thrown: the operator must stop the run by hand', async () => {
    const runner = new FakeRunner([{ state: 'RUNNING' }], [], SUMMARY, [], true);
    const abort = new AbortController();
    const outcome = await runGlueVerify({ runner, runId: 'r3', signal: abort.signal, sleep: noSleep, onProgress: () => abort.abort() });
    expect(outcome).toEqual({ kind: 'interrupted', runId: 'r3', started: true, stopError: 'glue:BatchStopJobRun failed: ThrottlingException' });
  });

  test('Ctrl-C before the start starts nothing', async () => {
    const runner = new FakeRunner([{ state: 'RUNNING' }]);
    const abort = new AbortController();
    abort.abort();
    expect(await runGlueVerify({ runner, runId: 'r4', signal: abort.signal, sleep: noSleep })).toEqual({ kind: 'interrupted', runId: 'r4', started: false });
    expect(runner.started).toEqual([]);
  });

  test('a failed run: Glue\'s error message and where its logs are, exit 1', async () => {
    const runner = new FakeRunner([{ state: 'RUNNING' }, { state: 'FAILED', rawState: 'TIMEOUT', error: 'Job run timed out' }]);
    const error = await runGlueVerify({ runner, runId: 'r5', sleep: noSleep }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(EXIT.failure);
    expect((error as CliError).message).toBe('Glue job fake-verify run r5 failed (TIMEOUT): Job run timed out; logs: CloudWatch log group /aws-glue/jobs/error, log streams starting with jr_1');
  });

  test('stopped by someone else, or succeeded without a summary: no verdict, exit 1', async () => {
    const stopped = await runGlueVerify({ runner: new FakeRunner([{ state: 'STOPPED' }]), runId: 'r6', sleep: noSleep }).catch((e: unknown) => e);
    expect((stopped as CliError).message).toContain('run r6 was stopped before it finished (not by this command)');
    const empty = await runGlueVerify({ runner: new FakeRunner([{ state: 'SUCCEEDED' }], [], null), runId: 'r7', sleep: noSleep }).catch((e: unknown) => e);
    expect((empty as CliError).message).toContain('run r7 succeeded but wrote no summary.json in s3://reports/verify/r7/');
  });

  test('a progress file that cannot be read for a moment keeps the last progress shown', async () => {
    const runner = new FakeRunner([{ state: 'RUNNING' }, { state: 'RUNNING' }, { state: 'SUCCEEDED' }], [progress('pass1', 2)]);
    let reads = 0;
    runner.readProgress = () => (reads++ === 1 ? Promise.reject(new Error('SlowDown')) : Promise.resolve(progress('pass1', 2 + reads)));
    const seen: (number | undefined)[] = [];
    await runGlueVerify({ runner, runId: 'r8', sleep: noSleep, onProgress: (p) => seen.push(p?.segmentsDone) });
    expect(seen).toEqual([3, 3, 5]);
  });
});

describe('reading the run\'s differences', () => {
  const many = Array.from({ length: 250 }, (_, i) => diff(i % 3 === 0 ? 'missing' : 'different', i));

  test('without --repair only the first `limit` are read', async () => {
    const runner = new FakeRunner([], [], SUMMARY, many);
    const { shown } = await readGlueDifferences(runner, 'r', { limit: 10 });
    expect(shown).toEqual(many.slice(0, 10));
    expect(runner.pulled).toBe(10);
  });

  test('--repair gets every difference in report order, in batches, while the listing keeps `limit`', async () => {
    const runner = new FakeRunner([], [], SUMMARY, many);
    const batches: (readonly GlueVerifyDifference[])[] = [];
    const copied: GlueVerifyDifference[] = [];
    const { shown, read } = await readGlueDifferences(runner, 'r', {
      limit: 5, batchSize: 100,
      repair: (batch) => {
        batches.push([...batch]);
        return Promise.resolve();
      },
      copy: (d) => copied.push(d),
    });
    expect(read).toBe(250);
    expect(shown).toEqual(many.slice(0, 5));
    expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(batches.flat()).toEqual(many);
    expect(copied).toEqual(many);
  });

  test('the summary prints like the scan engine\'s result, numbers in keys untouched', () => {
    const result = verifyResultOfSummary(SUMMARY, [diff('missing', 1)]);
    expect(result).toMatchObject({ mode: 'full', sourceItems: 1000, checked: 990, outOfView: 10, buckets: 64, mismatchingBuckets: 2, missing: 1, different: 1, extra: 0, extraChecked: true, resolvedOnRecheck: 3, settledMs: 10_000, interrupted: false });
    expect(result.diffs).toEqual([{ kind: 'missing', keys: { pk: { S: 'k1' }, n: { N: '1.50' } } }]);
  });

  test('progress line: phase, segments, items and elapsed time', () => {
    expect(describeGlueProgress(progress('pass2', 4), 61.4)).toBe('glue pass 2: narrowing: segments 4/8, source 400, target 396 items, 61 s elapsed');
    expect(describeGlueProgress(undefined, 5)).toBe('glue: starting (waiting for the job\'s first progress), 5 s elapsed');
  });

  test('lines() splits across chunk boundaries and multi-byte characters, skipping empty lines', async () => {
    const text = Buffer.from('{"a":"é"}\r\n\n{"b":2}\n{"c":3}', 'utf8');
    // Split inside the two-byte é and inside a line.
    const chunks = [text.subarray(0, 8), text.subarray(8, 15), text.subarray(15)];
    const out: string[] = [];
    for await (const line of lines(Readable.from(chunks))) out.push(line);
    expect(out).toEqual(['{"a":"é"}', '{"b":2}', '{"c":3}']);
  });

  test('run ids sort by start time and fit an S3 key', () => {
    expect(newRunId(new Date('2026-12-01T03:04:05.678Z'), () => 'a1b2c3d4')).toBe('verify-2026-12-01T030405678Z-a1b2c3d4');
  });
});

describe('the AWS runner', () => {
  const glueMock = mockClient(GlueClient);
  const s3Mock = mockClient(S3Client);
  let glue: GlueClient;
  let s3: S3Client;
  const body = (text: string): GetObjectCommandOutput['Body'] => Readable.from([Buffer.from(text, 'utf8')]) as unknown as GetObjectCommandOutput['Body'];
  const noSuchKey = () => new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });

  beforeEach(() => {
    glueMock.reset();
    s3Mock.reset();
    glue = new GlueClient({ region: 'eu-west-1' });
    s3 = new S3Client({ region: 'eu-west-1' });
    glueMock.on(GetJobCommand, { JobName: 'ddbrepl-orders-dr-verify-job' }).resolves({
      Job: { DefaultArguments: { '--report_bucket': 'ddbrepl-reports', '--report_prefix': 'verify/', '--segments': '64' } },
    });
  });
  afterEach(() => {
    glue.destroy();
    s3.destroy();
  });

  test('StartJobRun gets the run id and only the overrides given; GetJob\'s default arguments place the report', async () => {
    glueMock.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
    const runner = await awsGlueVerifyRunner({ glue, s3, jobName: 'ddbrepl-orders-dr-verify-job', region: 'eu-west-1' });
    expect(await runner.start({ runId: 'verify-1', segments: 128, buckets: 1 << 20, settleSeconds: 30, pageSize: 100 })).toBe('verify-1');
    await runner.start({ runId: 'verify-2' });
    expect(glueMock.commandCalls(StartJobRunCommand).map((c) => c.args[0].input)).toEqual([
      { JobName: 'ddbrepl-orders-dr-verify-job', Arguments: { '--run_id': 'verify-1', '--segments': '128', '--buckets': '1048576', '--settle_seconds': '30', '--page_size': '100' } },
      { JobName: 'ddbrepl-orders-dr-verify-job', Arguments: { '--run_id': 'verify-2' } },
    ]);
    expect(runner.reportLocation('verify-1')).toBe('s3://ddbrepl-reports/verify/verify-1/differences.jsonl');
    expect(runner.description).toBe('Glue job ddbrepl-orders-dr-verify-job');
  });

  test('poll maps Glue states by the JobRunId; a failed run brings its ErrorMessage and log group', async () => {
    glueMock.on(StartJobRunCommand).resolves({ JobRunId: 'jr_9' });
    glueMock.on(GetJobRunCommand, { JobName: 'ddbrepl-orders-dr-verify-job', RunId: 'jr_9' })
      .resolvesOnce({ JobRun: { JobRunState: 'STARTING' } })
      .resolvesOnce({ JobRun: { JobRunState: 'RUNNING', LogGroupName: '/aws-glue/jobs' } })
      .resolves({ JobRun: { JobRunState: 'ERROR', ErrorMessage: 'Command failed with exit code 1', LogGroupName: '/aws-glue/jobs' } });
    const runner = await awsGlueVerifyRunner({ glue, s3, jobName: 'ddbrepl-orders-dr-verify-job', region: 'eu-west-1' });
    await runner.start({ runId: 'verify-9' });
    expect(await runner.poll('verify-9')).toEqual({ state: 'RUNNING', rawState: 'STARTING' });
    expect(await runner.poll('verify-9')).toEqual({ state: 'RUNNING' });
    expect(await runner.poll('verify-9')).toEqual({ state: 'FAILED', rawState: 'ERROR', error: 'Command failed with exit code 1' });
    expect(runner.logsLocation('verify-9')).toContain('CloudWatch log group /aws-glue/jobs, log streams starting with jr_9');
    expect(['SUCCEEDED', 'STOPPED', 'FAILED', 'TIMEOUT', 'EXPIRED', 'WAITING', 'STOPPING', undefined].map(glueRunState))
      .toEqual(['SUCCEEDED', 'STOPPED', 'FAILED', 'FAILED', 'FAILED', 'RUNNING', 'RUNNING', 'RUNNING']);
  });

  test('progress, summary and differences are read from the run folder; absent files are undefined / empty', async () => {
    glueMock.on(StartJobRunCommand).resolves({ JobRunId: 'jr_2' });
    s3Mock.on(GetObjectCommand, { Bucket: 'ddbrepl-reports', Key: 'verify/verify-2/summary.json' }).resolves({ Body: body(`${JSON.stringify(SUMMARY)}\n`) });
    s3Mock.on(GetObjectCommand, { Bucket: 'ddbrepl-reports', Key: 'verify/verify-2/differences.jsonl' }).resolves({
      Body: body('{"kind":"missing","keys":{"pk":{"S":"a"},"n":{"N":"10.0"}}}\n{"kind":"extra","keys":{"pk":{"B":"AAE="}}}\n'),
    });
    s3Mock.on(GetObjectCommand, { Bucket: 'ddbrepl-reports', Key: 'verify/verify-3/differences.jsonl' }).rejects(noSuchKey());
    const runner = await awsGlueVerifyRunner({ glue, s3, jobName: 'ddbrepl-orders-dr-verify-job', region: 'eu-west-1' });
    await runner.start({ runId: 'verify-2' });
    s3Mock.on(GetObjectCommand, { Bucket: 'ddbrepl-reports', Key: 'verify/verify-2/progress.json' }).resolves({ Body: body(JSON.stringify(progress('recheck', 8))) });
    expect(await runner.readProgress('verify-2')).toEqual(progress('recheck', 8));
    expect(await runner.readSummary('verify-2')).toEqual(SUMMARY);
    const read: GlueVerifyDifference[] = [];
    for await (const d of runner.readDifferences('verify-2')) read.push(d);
    expect(read).toEqual([{ kind: 'missing', keys: { pk: { S: 'a' }, n: { N: '10.0' } } }, { kind: 'extra', keys: { pk: { B: 'AAE=' } } }]);
    const none: GlueVerifyDifference[] = [];
    for await (const d of runner.readDifferences('verify-3')) none.push(d);
    expect(none).toEqual([]);
  });

  test('a progress.json not there yet is undefined; S3 access denied says which permission on which object', async () => {
    s3Mock.on(GetObjectCommand, { Key: 'verify/verify-4/progress.json' }).rejects(noSuchKey());
    s3Mock.on(GetObjectCommand, { Key: 'verify/verify-4/summary.json' }).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    const runner = await awsGlueVerifyRunner({ glue, s3, jobName: 'ddbrepl-orders-dr-verify-job', region: 'eu-west-1' });
    expect(await runner.readProgress('verify-4')).toBeUndefined();
    await expect(runner.readSummary('verify-4')).rejects.toThrow('missing permission s3:GetObject on s3://ddbrepl-reports/verify/verify-4/summary.json');
  });

  test('stop: BatchStopJobRun on the run\'s JobRunId; a refusal is an error', async () => {
    glueMock.on(StartJobRunCommand).resolves({ JobRunId: 'jr_5' });
    glueMock.on(BatchStopJobRunCommand).resolvesOnce({ SuccessfulSubmissions: [{ JobRunId: 'jr_5' }] })
      .resolves({ Errors: [{ JobRunId: 'jr_5', ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'already stopped' } }] });
    const runner = await awsGlueVerifyRunner({ glue, s3, jobName: 'ddbrepl-orders-dr-verify-job', region: 'eu-west-1' });
    await runner.start({ runId: 'verify-5' });
    await runner.stop('verify-5');
    expect(glueMock.commandCalls(BatchStopJobRunCommand)[0].args[0].input).toEqual({ JobName: 'ddbrepl-orders-dr-verify-job', JobRunIds: ['jr_5'] });
    await expect(runner.stop('verify-5')).rejects.toThrow('InvalidInputException already stopped');
  });

  test('a job without --report_bucket, or a stack without the VerifyJobName output, is refused before any run', async () => {
    glueMock.on(GetJobCommand, { JobName: 'other' }).resolves({ Job: { DefaultArguments: {} } });
    await expect(awsGlueVerifyRunner({ glue, s3, jobName: 'other', region: 'eu-west-1' })).rejects.toThrow('Glue job other has no default argument --report_bucket');
    const outputs = (values: Record<string, string>): TargetStackOutputs => ({ stackName: 'Ddbrepl-orders', targetName: 'dr', optional: (name) => values[name], require: (name) => values[name] });
    expect(verifyJobName(outputs({ VerifyJobName: 'ddbrepl-orders-dr-verify-job' }))).toBe('ddbrepl-orders-dr-verify-job');
    expect(() => verifyJobName(outputs({}))).toThrow('stack Ddbrepl-orders has no output TargetDrVerifyJobName: it was deployed before the verify Glue job existed');
    expect(glueMock.commandCalls(StartJobRunCommand)).toHaveLength(0);
  });
});

describe('verify --engine glue refuses what the Glue job does not do (exit 2, nothing started)', () => {
  test.each([
    [['--sample', '0.01'], '--sample is not available with --engine glue: the Glue job compares every item; sample with --engine scan --sample FRACTION'],
    [['--show-values'], '--show-values is not available with --engine glue: the job\'s report holds keys only; list values with --engine scan --show-values'],
    [['--target-profile', 'dr-readonly'], '--target-profile is not used with --engine glue: the job reads the target table through the target role; leave it out'],
  ])('%j', async (extra, message) => {
    const out = await runCli('verify', '--local', '/nonexistent/session.json', '--engine', 'glue', ...extra);
    expect(out.code).toBe(EXIT.badInput);
    expect(out.stderr).toContain(message);
  });

  test('an unknown engine', async () => {
    const out = await runCli('verify', '--local', '/nonexistent/session.json', '--engine', 'emr');
    expect(out.code).toBe(EXIT.badInput);
    expect(out.stderr).toContain('Allowed choices are scan, glue');
  });
});

describe('the command over a fake runner: output, exit codes, --repair through the queue', () => {
  const sqsMock = mockClient(SQSClient);
  let sqs: SQSClient;
  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [] });
    sqs = new SQSClient({ region: 'eu-west-1' });
  });
  afterEach(() => sqs.destroy());

  const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111111111111/ddbrepl-orders-dr.fifo';
  const target = (): OperatorTarget => ({
    name: 'dr', kind: 'aws', selector: '--target dr', keySchema: { partitionKey: { name: 'pk', type: 'S' } },
    source: { tableName: 'orders' }, sqs, queueUrl: QUEUE,
  }) as unknown as OperatorTarget;
  const io = () => {
    const out = { stdout: '', stderr: '' };
    const cli: CliIo = { stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t), isTTY: false } };
    return { out, cli };
  };
  const differences = Array.from({ length: 23 }, (_, i) => diff(i === 0 ? 'missing' : i === 1 ? 'extra' : 'different', i));
  const summary: GlueVerifySummary = { ...SUMMARY, missing: 1, extra: 1, different: 21 };

  test('progress on stderr, one line per phase off a terminal; the scan engine\'s summary; exit 1 with differences', async () => {
    const runner = new FakeRunner(
      [{ state: 'RUNNING' }, { state: 'RUNNING' }, { state: 'RUNNING' }, { state: 'RUNNING' }, { state: 'SUCCEEDED' }],
      [undefined, progress('pass1', 2), progress('pass1', 5), progress('pass2', 8), progress('done', 8)],
      summary, differences,
    );
    const { out, cli } = io();
    const code = await runGlueVerifyCommand({ io: cli, target: target(), runner, args: {}, opts: { limit: 3 }, signal: new AbortController().signal, pollIntervalMs: 0 });
    expect(code).toBe(EXIT.failure);
    const lines = out.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^started Glue job fake-verify run verify-\S+; its report: s3:\/\/reports\/verify\/verify-\S+\/$/);
    // starting, pass 1 (once, though two polls saw it), pass 2, done.
    expect(lines.slice(1).map((l) => l.replace(/, \d+ s elapsed$/, ''))).toEqual([
      'glue: starting (waiting for the job\'s first progress)',
      'glue pass 1: digesting: segments 2/8, source 200, target 198 items',
      'glue pass 2: narrowing: segments 8/8, source 800, target 792 items',
      'glue done: segments 8/8, source 800, target 792 items',
    ]);
    expect(out.stdout).toContain('verify target dr: source 1000 items (10 outside the target\'s view), target 999 items, 2 of 64 digest buckets differed');
    expect(out.stdout).toContain('23 differences: 1 missing in the target, 1 extra in the target, 21 different');
    expect(out.stdout).toContain('every difference (keys only): s3://reports/verify/');
    expect(out.stdout).toContain('first 3 differences');
    expect(out.stdout).toContain('fix them with `ddb-replicate verify --target dr --engine glue --repair`.');
    // Only what the listing needs was read from the report.
    expect(runner.pulled).toBe(3);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  test('--repair streams the whole report into RESYNCs on the target\'s queue, keys as written (numbers untouched)', async () => {
    const runner = new FakeRunner([{ state: 'SUCCEEDED' }], [progress('done', 8)], summary, differences);
    const { out, cli } = io();
    const code = await runGlueVerifyCommand({ io: cli, target: target(), runner, args: {}, opts: { limit: 10, repair: true, json: true }, signal: new AbortController().signal });
    expect(code).toBe(EXIT.failure);
    const sent = sqsMock.commandCalls(SendMessageBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(sqsMock.commandCalls(SendMessageBatchCommand).every((c) => c.args[0].input.QueueUrl === QUEUE)).toBe(true);
    const envelopes = sent.map((e) => decodeEnvelope(e.MessageBody ?? ''));
    expect(envelopes.map((e) => [e.op, e.table, JSON.stringify(e.keys)])).toEqual(differences.map((d) => ['RESYNC', 'orders', JSON.stringify(d.keys)]));
    const json = JSON.parse(out.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ target: 'dr', engine: 'glue', missing: 1, extra: 1, different: 21, repaired: 23, report: expect.stringMatching(/^s3:\/\/reports\/verify\/verify-.+\/differences\.jsonl$/) as unknown });
    expect((json.diffs as unknown[]).length).toBe(10);
    expect(json).not.toHaveProperty('differences');
  });

  test('equal: exit 0, no report; Ctrl-C: the run is stopped and the command says so, exit 130', async () => {
    const equal = io();
    const clean = new FakeRunner([{ state: 'SUCCEEDED' }], [progress('done', 8)], { ...SUMMARY, missing: 0, different: 0, mismatchingBuckets: 0 });
    expect(await runGlueVerifyCommand({ io: equal.cli, target: target(), runner: clean, args: {}, opts: { limit: 10 }, signal: new AbortController().signal })).toBe(EXIT.ok);
    expect(equal.out.stdout).toContain('target equals source ✓');
    expect(equal.out.stdout).not.toContain('every difference');

    const stopped = io();
    const running = new FakeRunner([{ state: 'RUNNING' }], [progress('pass1', 1)]);
    const abort = new AbortController();
    const originalPoll = running.poll.bind(running);
    running.poll = () => {
      abort.abort();
      return originalPoll();
    };
    const code = await runGlueVerifyCommand({ io: stopped.cli, target: target(), runner: running, args: { segments: 16 }, opts: { limit: 10 }, signal: abort.signal, pollIntervalMs: 0 });
    expect(code).toBe(EXIT.interrupted);
    expect(running.started.map((a) => a.segments)).toEqual([16]);
    expect(running.stopped).toHaveLength(1);
    expect(stopped.out.stderr).toContain(`stopped Glue job fake-verify run ${running.stopped[0]} (glue:BatchStopJobRun): no verdict; run \`ddb-replicate verify --target dr --engine glue\` again`);
    expect(stopped.out.stdout).toBe('');
  });

  test('a failed run: the error names Glue\'s message and the logs, nothing is printed as a verdict', async () => {
    const runner = new FakeRunner([{ state: 'FAILED', error: 'An error occurred while calling o123.scan: AccessDeniedException' }]);
    const { out, cli } = io();
    await expect(runGlueVerifyCommand({ io: cli, target: target(), runner, args: {}, opts: { limit: 10 }, signal: new AbortController().signal }))
      .rejects.toThrow(/failed: An error occurred while calling o123\.scan: AccessDeniedException; logs: CloudWatch log group \/aws-glue\/jobs\/error/);
    expect(out.stdout).toBe('');
  });
});
