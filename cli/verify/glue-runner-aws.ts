import { BatchStopJobRunCommand, GetJobCommand, GetJobRunCommand, StartJobRunCommand, type GlueClient } from '@aws-sdk/client-glue';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ReplicationError } from '../../handlers/core/errors';
import { targetOutputId, type TargetOutputName } from '../../infra/stacks/stack-output-ids';
import { awsCall, awsCallError } from '../aws/errors';
import type { TargetStackOutputs } from '../aws/stack-outputs';
import { CliError, EXIT } from '../errors';
import { lines, parseDifferences, parseProgress, parseSummary, type GlueRunState, type GlueVerifyArgs, type GlueVerifyDifference, type GlueVerifyRunner } from './glue-runner';

/**
 * The stack output naming the target's verify Glue job: `Target<PascalName>VerifyJobName`, beside
 * `InitialLoadJobName`. MERGE NOTE: the verify job's construct adds this output; once it is in the
 * stack's output list (infra/stacks/replication-stack.ts) the cast below goes.
 */
export const VERIFY_JOB_OUTPUT = 'VerifyJobName' as string as TargetOutputName;

/** The verify job's name from the stack outputs; a stack deployed before the job existed says so. */
export function verifyJobName(outputs: TargetStackOutputs): string {
  const name = outputs.optional(VERIFY_JOB_OUTPUT);
  if (name === undefined) {
    throw new CliError(
      `stack ${outputs.stackName} has no output ${targetOutputId(outputs.targetName, VERIFY_JOB_OUTPUT)}: it was deployed before the verify Glue job existed; deploy it again, or verify with --engine scan`,
      EXIT.failure,
    );
  }
  return name;
}

/** Glue JobRunState → four states (Glue API reference, JobRun.JobRunState); a string, as Glue may add states. */
export function glueRunState(state: string | undefined): GlueRunState {
  switch (state) {
    case 'SUCCEEDED': return 'SUCCEEDED';
    case 'STOPPED': return 'STOPPED';
    case 'FAILED': case 'TIMEOUT': case 'ERROR': case 'EXPIRED': return 'FAILED';
    // STARTING, RUNNING, STOPPING, WAITING: not finished yet.
    default: return 'RUNNING';
  }
}

/** Glue writes a job's driver and system logs to this group unless the job names another (docs/aws-contracts.md). */
const DEFAULT_GLUE_LOG_GROUP = '/aws-glue/jobs/error';

export interface AwsGlueVerifyRunnerOptions {
  /** Glue in the source account and Region (where the stack and the job are). */
  readonly glue: GlueClient;
  readonly jobName: string;
  /** @default an S3Client in `region` that follows the bucket's Region */
  readonly s3?: S3Client;
  readonly region: string;
}

/**
 * The deployed verify job: Glue StartJobRun/GetJobRun/BatchStopJobRun, the report read from S3
 * where the job's default arguments `--report_bucket`/`--report_prefix` put it (read once with GetJob,
 * before the run: a job without them fails here, not after an hour of scanning).
 */
export async function awsGlueVerifyRunner(opts: AwsGlueVerifyRunnerOptions): Promise<GlueVerifyRunner> {
  const { glue, jobName } = opts;
  const resource = `Glue job ${jobName}`;
  const job = await awsCall('glue:GetJob', resource, () => glue.send(new GetJobCommand({ JobName: jobName })));
  const defaults = job.Job?.DefaultArguments ?? {};
  const bucket = defaults['--report_bucket'];
  if (bucket === undefined || bucket === '') {
    throw new CliError(`${resource} has no default argument --report_bucket: it is not the verify job of this project's stack, or an older one; deploy the stack again`, EXIT.failure);
  }
  const prefix = (defaults['--report_prefix'] ?? '').replace(/^\/+|\/+$/g, '');
  const ownS3 = opts.s3 === undefined;
  // The bucket is the stack's, in its Region; followRegionRedirects covers a --region that differs.
  const s3 = opts.s3 ?? new S3Client({ region: opts.region, followRegionRedirects: true });
  const keyOf = (runId: string, file: string): string => `${prefix === '' ? '' : `${prefix}/`}${runId}/${file}`;
  const uriOf = (runId: string, file: string): string => `s3://${bucket}/${keyOf(runId, file)}`;
  // Our run id → Glue's JobRunId, and the log group GetJobRun reported.
  const jobRunIds = new Map<string, string>();
  const logGroups = new Map<string, string>();
  const jobRunId = (runId: string): string => {
    const id = jobRunIds.get(runId);
    if (id === undefined) throw new ReplicationError(`run ${runId} was not started by this runner`);
    return id;
  };

  /** The object's body, or undefined when it does not exist (yet). */
  const getObject = async (runId: string, file: string): Promise<AsyncIterable<Uint8Array> | undefined> => {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(runId, file) }));
      return out.Body as AsyncIterable<Uint8Array> | undefined;
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw awsCallError(error, 's3:GetObject', uriOf(runId, file));
    }
  };
  const getText = async (runId: string, file: string): Promise<string | undefined> => {
    const body = await getObject(runId, file);
    if (body === undefined) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString('utf8');
  };

  return {
    description: resource,
    start: async (args: GlueVerifyArgs) => {
      const out = await awsCall('glue:StartJobRun', resource, () => glue.send(new StartJobRunCommand({ JobName: jobName, Arguments: jobRunArguments(args) })));
      if (out.JobRunId === undefined) throw new ReplicationError(`glue:StartJobRun on ${resource} returned no JobRunId`);
      jobRunIds.set(args.runId, out.JobRunId);
      return args.runId;
    },
    poll: async (runId) => {
      const id = jobRunId(runId);
      const out = await awsCall('glue:GetJobRun', `${resource} run ${id}`, () => glue.send(new GetJobRunCommand({ JobName: jobName, RunId: id })));
      const run = out.JobRun;
      if (run?.LogGroupName !== undefined) logGroups.set(runId, run.LogGroupName);
      const state = glueRunState(run?.JobRunState);
      return {
        state,
        ...(run?.JobRunState !== undefined && run.JobRunState !== state ? { rawState: run.JobRunState } : {}),
        ...(run?.ErrorMessage === undefined ? {} : { error: run.ErrorMessage }),
      };
    },
    readProgress: async (runId) => {
      const text = await getText(runId, 'progress.json');
      return text === undefined ? undefined : parseProgress(text, uriOf(runId, 'progress.json'));
    },
    readSummary: async (runId) => {
      const text = await getText(runId, 'summary.json');
      return text === undefined ? undefined : parseSummary(text, uriOf(runId, 'summary.json'));
    },
    readDifferences: (runId) => differencesOf(getObject, runId, uriOf(runId, 'differences.jsonl')),
    stop: async (runId) => {
      const id = jobRunId(runId);
      const out = await awsCall('glue:BatchStopJobRun', `${resource} run ${id}`, () => glue.send(new BatchStopJobRunCommand({ JobName: jobName, JobRunIds: [id] })));
      const failed = out.Errors?.[0];
      if (failed !== undefined) {
        throw new ReplicationError(`glue:BatchStopJobRun could not stop ${resource} run ${id}: ${failed.ErrorDetail?.ErrorCode ?? ''} ${failed.ErrorDetail?.ErrorMessage ?? ''}`.trim());
      }
    },
    reportLocation: (runId) => uriOf(runId, 'differences.jsonl'),
    logsLocation: (runId) => `CloudWatch log group ${logGroups.get(runId) ?? DEFAULT_GLUE_LOG_GROUP}, log streams starting with ${jobRunIds.get(runId) ?? 'the job run id'} (Glue console: job ${jobName}, run details)`,
    close: () => {
      if (ownS3) s3.destroy();
    },
  };
}

/** StartJobRun Arguments: the run id always, the rest only when given (the job's defaults hold otherwise). */
export function jobRunArguments(args: GlueVerifyArgs): Record<string, string> {
  return {
    '--run_id': args.runId,
    ...(args.buckets === undefined ? {} : { '--buckets': String(args.buckets) }),
    ...(args.segments === undefined ? {} : { '--segments': String(args.segments) }),
    ...(args.settleSeconds === undefined ? {} : { '--settle_seconds': String(args.settleSeconds) }),
    ...(args.pageSize === undefined ? {} : { '--page_size': String(args.pageSize) }),
  };
}

async function* differencesOf(
  getObject: (runId: string, file: string) => Promise<AsyncIterable<Uint8Array> | undefined>,
  runId: string,
  where: string,
): AsyncGenerator<GlueVerifyDifference> {
  const body = await getObject(runId, 'differences.jsonl');
  // No file: the job found nothing to write.
  if (body === undefined) return;
  yield* parseDifferences(lines(body), where);
}
