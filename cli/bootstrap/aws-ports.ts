import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { BatchStopJobRunCommand, GetJobRunCommand, StartJobRunCommand } from '@aws-sdk/client-glue';
import { GetEventSourceMappingCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DescribePipeCommand } from '@aws-sdk/client-pipes';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ReplicationError } from '../../handlers/core/errors';
import type { AwsClients } from '../aws/clients';
import { awsCall } from '../aws/errors';
import type { TargetStackOutputs } from '../aws/stack-outputs';
import { directCopyPorts, type CopyPorts } from './direct-copy-port';
import type { DirectCopyOptions } from './direct-engine';
import type { BootstrapPorts, CopyProgress, CopyState } from './ports';

/** How the snapshot is copied: the target's Glue job (engine scan or export), or the direct engine in this process. */
export type AwsCopy =
  | { readonly kind: 'glue'; readonly engine?: 'scan' | 'export'; readonly segments?: number }
  | { readonly kind: 'direct'; readonly options: Omit<DirectCopyOptions, 'signal' | 'onProgress'> };

export interface AwsBootstrapPortsOptions {
  /** Clients in the source account and Region (where the stack, pipe, queue, mapping and job live). */
  readonly clients: AwsClients;
  readonly outputs: TargetStackOutputs;
  readonly sourceTableName: string;
  readonly copy: AwsCopy;
  /** @default Date.now */
  readonly now?: () => number;
}

const QUEUE_DEPTH_ATTRIBUTES = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;

/** Glue JobRunState → the orchestrator's four states (Glue API reference, JobRun.JobRunState); string, as Glue may add states. */
export function copyStateOfJobRun(state: string | undefined): CopyState {
  switch (state) {
    case 'SUCCEEDED': return 'SUCCEEDED';
    case 'STOPPED': return 'STOPPED';
    case 'FAILED': case 'TIMEOUT': case 'ERROR': case 'EXPIRED': return 'FAILED';
    // STARTING, RUNNING, STOPPING, WAITING: not finished yet.
    default: return 'RUNNING';
  }
}

/**
 * The bootstrap ports over AWS: EventBridge Pipes (DescribePipe), Lambda (Get/UpdateEventSourceMapping),
 * Glue (StartJobRun/GetJobRun/BatchStopJobRun) or the direct engine, SQS (GetQueueAttributes),
 * DynamoDB (DescribeTable ItemCount). Resource names come from the stack outputs.
 */
export function awsBootstrapPorts(opts: AwsBootstrapPortsOptions): BootstrapPorts {
  const { clients, outputs } = opts;
  const now = opts.now ?? Date.now;
  const pipeName = outputs.require('PipeName');
  const mappingUuid = outputs.require('EventSourceMappingUuid');
  const queueUrl = outputs.require('QueueUrl');
  const copy = opts.copy.kind === 'direct' ? directCopyPorts(opts.copy.options, now) : glueCopyPorts(clients, outputs.require('InitialLoadJobName'), opts.copy, now);
  const copyName = opts.copy.kind === 'direct'
    ? 'the direct engine'
    : `Glue job ${outputs.require('InitialLoadJobName')}${opts.copy.engine === undefined ? '' : ` (engine ${opts.copy.engine})`}`;
  const setMapping = (enabled: boolean) => awsCall('lambda:UpdateEventSourceMapping', `event source mapping ${mappingUuid}`, () =>
    clients.lambda.send(new UpdateEventSourceMappingCommand({ UUID: mappingUuid, Enabled: enabled })));

  return {
    names: { target: outputs.targetName, pipe: pipeName, mapping: mappingUuid, queue: queueUrl, sourceTable: opts.sourceTableName, copy: copyName },
    describePipe: async () => {
      const out = await awsCall('pipes:DescribePipe', `pipe ${pipeName}`, () => clients.pipes.send(new DescribePipeCommand({ Name: pipeName })));
      return out.CurrentState ?? 'UNKNOWN';
    },
    getMappingState: async () => {
      const out = await awsCall('lambda:GetEventSourceMapping', `event source mapping ${mappingUuid}`, () =>
        clients.lambda.send(new GetEventSourceMappingCommand({ UUID: mappingUuid })));
      return out.State ?? 'UNKNOWN';
    },
    disableMapping: async () => {
      await setMapping(false);
    },
    enableMapping: async () => {
      await setMapping(true);
    },
    ...copy,
    queueDepth: async () => {
      const out = await awsCall('sqs:GetQueueAttributes', `queue ${queueUrl}`, () =>
        clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...QUEUE_DEPTH_ATTRIBUTES] })));
      return QUEUE_DEPTH_ATTRIBUTES.reduce((total, name) => total + Number(out.Attributes?.[name] ?? '0'), 0);
    },
    tableItemCount: async () => {
      const out = await awsCall('dynamodb:DescribeTable', `table ${opts.sourceTableName}`, () =>
        clients.dynamodb.send(new DescribeTableCommand({ TableName: opts.sourceTableName })));
      return out.Table?.ItemCount;
    },
  };
}

/** The target's Glue job: one run per bootstrap; `--engine`/`--segments` override the job's defaults only when given. */
function glueCopyPorts(clients: AwsClients, jobName: string, copy: Extract<AwsCopy, { kind: 'glue' }>, now: () => number): CopyPorts {
  const resource = `Glue job ${jobName}`;
  return {
    startCopy: async () => {
      const args: Record<string, string> = {
        ...(copy.engine === undefined ? {} : { '--engine': copy.engine }),
        ...(copy.segments === undefined ? {} : { '--segments': String(copy.segments) }),
      };
      const out = await awsCall('glue:StartJobRun', resource, () => clients.glue.send(new StartJobRunCommand({ JobName: jobName, Arguments: args })));
      if (out.JobRunId === undefined) throw new ReplicationError(`glue:StartJobRun on ${resource} returned no JobRunId`);
      return { id: out.JobRunId, description: `${resource} run ${out.JobRunId}${copy.engine === undefined ? '' : ` (engine ${copy.engine})`}` };
    },
    copyProgress: async (handle): Promise<CopyProgress> => {
      const out = await awsCall('glue:GetJobRun', `${resource} run ${handle.id}`, () => clients.glue.send(new GetJobRunCommand({ JobName: jobName, RunId: handle.id })));
      const run = out.JobRun;
      const state = copyStateOfJobRun(run?.JobRunState);
      // ExecutionTime is only filled in at the end; while running, the wall clock since StartedOn.
      const elapsedMs = run?.ExecutionTime !== undefined && run.ExecutionTime > 0 ? run.ExecutionTime * 1000
        : run?.StartedOn !== undefined ? Math.max(0, now() - run.StartedOn.getTime()) : 0;
      const detail = run?.ErrorMessage ?? (run?.JobRunState !== undefined && run.JobRunState !== state ? run.JobRunState : undefined);
      return { state, elapsedMs, ...(detail === undefined ? {} : { message: detail }) };
    },
    cancelCopy: async (handle) => {
      const out = await awsCall('glue:BatchStopJobRun', `${resource} run ${handle.id}`, () =>
        clients.glue.send(new BatchStopJobRunCommand({ JobName: jobName, JobRunIds: [handle.id] })));
      const failed = out.Errors?.[0];
      if (failed !== undefined) {
        throw new ReplicationError(`glue:BatchStopJobRun could not stop ${resource} run ${handle.id}: ${failed.ErrorDetail?.ErrorCode ?? ''} ${failed.ErrorDetail?.ErrorMessage ?? ''}`.trim());
      }
    },
  };
}
