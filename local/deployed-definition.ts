import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import type { z } from 'zod';
import type { KeySchema } from '../handlers/core/key-schema';
import { ReplicationStack } from '../infra/stacks/replication-stack';
import {
  parseReplicationConfig, type ReplicationConfig, type targetFilterSchema, type targetOptionsSchema, type targetRedactionSchema,
} from '../schemas/replication-config';
import { EmulatorError } from './errors';
import { LOCAL_DEPLOYMENT } from './session-constants';
import type { EventPattern } from './event-pattern';

/**
 * One definition, two runtimes (docs/local-mode.md): local mode synthesizes the very ReplicationStack
 * `cdk deploy` creates — in memory, from a config describing the local tables — and reads the
 * settings its emulators honour from the template: the pipes (batch size, starting position, retry
 * and bisect, FilterCriteria, target queue and its MessageGroupId / MessageDeduplicationId paths),
 * the event-source mappings (batch size, ReportBatchItemFailures, maximum concurrency), the queues
 * (visibility timeout, retention, maximum message size, FIFO, dedup, redrive) and the functions
 * (timeout, environment). Change one of these in a construct and local mode changes with it.
 *
 * Synthesis skips bundling (context `aws:cdk:bundling-stacks: []`) and the built-in CloudFormation
 * validation, and runs without cdk-nag: ~2 s. The handlers run from source, not from bundles.
 */


export interface LocalTargetSpec {
  name: string;
  tableName: string;
  filter?: z.input<typeof targetFilterSchema>;
  redaction?: z.input<typeof targetRedactionSchema>;
  /** The target's options, as in the config file. @default the config defaults */
  options?: z.input<typeof targetOptionsSchema>;
}

export interface LocalDeploymentSpec {
  keySchema: KeySchema;
  targets: readonly LocalTargetSpec[];
  /** Escape hatch on the synthesized stack before the template is written (tests change a construct setting with it). @default none */
  amendStack?: (stack: ReplicationStack) => void;
}

/** An intrinsic-function value left in the template (Ref, Fn::GetAtt, Fn::Join). */
export type TemplateValue = string | number | boolean | null | TemplateValue[] | { [key: string]: TemplateValue };

export interface QueueDefinition {
  logicalId: string;
  queueName: string;
  fifo: boolean;
  contentBasedDeduplication: boolean;
  deduplicationScope?: string;
  fifoThroughputLimit?: string;
  /** @default 30 (SQS) */
  visibilityTimeoutSeconds: number;
  /** @default 345600 (SQS: 4 days) */
  messageRetentionSeconds: number;
  /** @default 1048576 (SQS) */
  maximumMessageBytes: number;
  redrive?: { deadLetterQueueLogicalId: string; maxReceiveCount: number };
}

export interface PipeDefinition {
  logicalId: string;
  name: string;
  /** @default 100 (Pipes, DynamoDB stream source) */
  batchSize: number;
  /** Batches of one shard processed at once, order kept per partition key (local/shard-parallelism.ts). @default 1 (Pipes) */
  parallelizationFactor: number;
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** @default -1 (infinite, Pipes) */
  maximumRetryAttempts: number;
  bisectOnFailure: boolean;
  deadLetterQueueLogicalId?: string;
  /** The FilterCriteria patterns (ORed); undefined = no filter. */
  filterPatterns?: EventPattern[];
  enrichmentFunctionLogicalId: string;
  targetQueueLogicalId: string;
  /** JSONPath of the SQS target's MessageGroupId (`$.groupId`), read from each element the enrichment returns. */
  messageGroupIdPath?: string;
  messageDeduplicationIdPath?: string;
}

export interface EventSourceMappingDefinition {
  logicalId: string;
  queueLogicalId: string;
  functionLogicalId: string;
  /** @default 10 (Lambda, SQS source) */
  batchSize: number;
  reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency. @default undefined (no cap) */
  maximumConcurrency?: number;
  enabled: boolean;
}

export interface FunctionDefinition {
  logicalId: string;
  /** @default 3 (Lambda) */
  timeoutSeconds: number;
  environment: Record<string, TemplateValue>;
}

export interface TargetDefinition {
  name: string;
  tableName: string;
  queue: QueueDefinition;
  deadLetterQueue: QueueDefinition;
  eventSourceMapping: EventSourceMappingDefinition;
  applyFunction: FunctionDefinition;
  /** The pipe whose enrichment feeds this target: its own, or the owner's when attached. */
  pipeLogicalId: string;
}

export interface DeployedDefinition {
  config: ReplicationConfig;
  pipes: PipeDefinition[];
  /** In config order. */
  targets: TargetDefinition[];
  queues: ReadonlyMap<string, QueueDefinition>;
  functions: ReadonlyMap<string, FunctionDefinition>;
}

interface CfnResourceJson {
  Type: string;
  Properties?: Record<string, TemplateValue>;
}

/** The config of the local deployment: one source table, the given targets, all in one local account pair and Region. */
export function localReplicationConfig(spec: Pick<LocalDeploymentSpec, 'keySchema' | 'targets'>): ReplicationConfig {
  return parseReplicationConfig({
    replicationName: LOCAL_DEPLOYMENT.replicationName,
    source: {
      account: LOCAL_DEPLOYMENT.sourceAccount,
      region: LOCAL_DEPLOYMENT.region,
      tableName: LOCAL_DEPLOYMENT.sourceTableName,
      tableStreamArn: LOCAL_DEPLOYMENT.streamArn,
      keySchema: spec.keySchema,
    },
    targets: spec.targets.map((t) => ({
      name: t.name,
      account: LOCAL_DEPLOYMENT.targetAccount,
      region: LOCAL_DEPLOYMENT.region,
      tableName: t.tableName,
      externalId: LOCAL_DEPLOYMENT.externalId,
      roleArn: LOCAL_DEPLOYMENT.roleArn,
      ...(t.filter === undefined ? {} : { filter: t.filter }),
      ...(t.redaction === undefined ? {} : { redaction: t.redaction }),
      ...(t.options === undefined ? {} : { options: t.options }),
    })),
  }, 'local replication config');
}

/** Synthesizes the ReplicationStack of the local deployment and reads its definition. */
export function deployedDefinition(spec: LocalDeploymentSpec): DeployedDefinition {
  const config = localReplicationConfig(spec);
  const outdir = mkdtempSync(join(tmpdir(), 'ddbrepl-local-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new ReplicationStack(app, `Ddbrepl-${config.replicationName}`, {
      config,
      env: { account: LOCAL_DEPLOYMENT.sourceAccount, region: LOCAL_DEPLOYMENT.region },
    });
    spec.amendStack?.(stack);
    const template = app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, CfnResourceJson> };
    const idOf = (construct: { node: { defaultChild?: unknown } }): string => stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
    const targets = stack.replication.targets.map((t) => ({ name: t.targetName, queueLogicalId: idOf(t.queue) }));
    return readDefinition(config, template.Resources, targets);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Reads the definition from the template's resources; `targets` names each target's queue. Exported for tests. */
export function readDefinition(config: ReplicationConfig, resources: Record<string, CfnResourceJson>, targets: { name: string; queueLogicalId: string }[]): DeployedDefinition {
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type).map(([id, r]) => [id, r.Properties ?? {}] as const);
  const queues = new Map(ofType('AWS::SQS::Queue').map(([id, p]) => [id, readQueue(id, p)]));
  const functions = new Map(ofType('AWS::Lambda::Function').map(([id, p]) => [id, readFunction(id, p)]));
  const pipes = ofType('AWS::Pipes::Pipe').map(([id, p]) => readPipe(id, p));
  const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([id, p]) => readMapping(id, p));
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new EmulatorError(`the synthesized template has no ${what}`);
    return value;
  };
  return {
    config,
    pipes,
    queues,
    functions,
    targets: targets.map(({ name, queueLogicalId }) => {
      const queue = need(queues.get(queueLogicalId), `queue ${queueLogicalId} for target ${name}`);
      const mapping = need(mappings.find((m) => m.queueLogicalId === queueLogicalId), `event-source mapping on the queue of target ${name}`);
      const applyFunction = need(functions.get(mapping.functionLogicalId), `function ${mapping.functionLogicalId}`);
      const ownPipe = pipes.find((p) => p.targetQueueLogicalId === queueLogicalId);
      // An attached target's queue is named in its owner's enrichment ATTACHED_TARGETS.
      const feeding = ownPipe ?? pipes.find((p) => JSON.stringify(functions.get(p.enrichmentFunctionLogicalId)?.environment.ATTACHED_TARGETS ?? '').includes(`"Ref":"${queueLogicalId}"`));
      return {
        name,
        tableName: templateText(applyFunction.environment.TARGET_TABLE_NAME),
        queue,
        deadLetterQueue: need(queues.get(need(queue.redrive, `redrive policy on the queue of target ${name}`).deadLetterQueueLogicalId), `dead-letter queue of target ${name}`),
        eventSourceMapping: mapping,
        applyFunction,
        pipeLogicalId: need(feeding, `pipe feeding target ${name}`).logicalId,
      };
    }),
  };
}

/** The logical id an `Fn::GetAtt` / `Ref` points to. */
function refTarget(value: TemplateValue | undefined): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return typeof value.Ref === 'string' ? value.Ref : undefined;
}

const num = (value: TemplateValue | undefined, fallback: number): number => (value === undefined ? fallback : Number(value));
const obj = (value: TemplateValue | undefined): Record<string, TemplateValue> => (value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {});
/** A scalar template value as text; an unresolved intrinsic (an object) shows as its JSON, not "[object Object]". */
const templateText = (value: TemplateValue | undefined): string => (value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value));

function readQueue(logicalId: string, p: Record<string, TemplateValue>): QueueDefinition {
  const redrive = obj(typeof p.RedrivePolicy === 'string' ? JSON.parse(p.RedrivePolicy) as TemplateValue : p.RedrivePolicy);
  const dlq = refTarget(redrive.deadLetterTargetArn);
  return {
    logicalId,
    queueName: templateText(p.QueueName ?? logicalId),
    fifo: p.FifoQueue === true || p.FifoQueue === 'true',
    contentBasedDeduplication: p.ContentBasedDeduplication === true || p.ContentBasedDeduplication === 'true',
    ...(p.DeduplicationScope === undefined ? {} : { deduplicationScope: templateText(p.DeduplicationScope) }),
    ...(p.FifoThroughputLimit === undefined ? {} : { fifoThroughputLimit: templateText(p.FifoThroughputLimit) }),
    visibilityTimeoutSeconds: num(p.VisibilityTimeout, 30),
    messageRetentionSeconds: num(p.MessageRetentionPeriod, 345_600),
    maximumMessageBytes: num(p.MaximumMessageSize, 1_048_576),
    ...(dlq === undefined ? {} : { redrive: { deadLetterQueueLogicalId: dlq, maxReceiveCount: num(redrive.maxReceiveCount, 0) } }),
  };
}

function readFunction(logicalId: string, p: Record<string, TemplateValue>): FunctionDefinition {
  return { logicalId, timeoutSeconds: num(p.Timeout, 3), environment: obj(obj(p.Environment).Variables) };
}

function readPipe(logicalId: string, p: Record<string, TemplateValue>): PipeDefinition {
  const source = obj(p.SourceParameters);
  const stream = obj(source.DynamoDBStreamParameters);
  const filters = obj(source.FilterCriteria).Filters;
  const sqs = obj(obj(p.TargetParameters).SqsQueueParameters);
  const enrichment = refTarget(p.Enrichment);
  const target = refTarget(p.Target);
  if (enrichment === undefined || target === undefined) throw new EmulatorError(`pipe ${logicalId}: local mode needs a Lambda enrichment and an SQS target of this stack`);
  const dlq = refTarget(obj(stream.DeadLetterConfig).Arn);
  return {
    logicalId,
    name: templateText(p.Name ?? logicalId),
    batchSize: num(stream.BatchSize, 100),
    parallelizationFactor: num(stream.ParallelizationFactor, 1),
    startingPosition: stream.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
    maximumRetryAttempts: num(stream.MaximumRetryAttempts, -1),
    bisectOnFailure: stream.OnPartialBatchItemFailure === 'AUTOMATIC_BISECT',
    ...(dlq === undefined ? {} : { deadLetterQueueLogicalId: dlq }),
    ...(Array.isArray(filters) ? { filterPatterns: filters.map((f) => JSON.parse(templateText(obj(f).Pattern)) as EventPattern) } : {}),
    enrichmentFunctionLogicalId: enrichment,
    targetQueueLogicalId: target,
    ...(sqs.MessageGroupId === undefined ? {} : { messageGroupIdPath: templateText(sqs.MessageGroupId) }),
    ...(sqs.MessageDeduplicationId === undefined ? {} : { messageDeduplicationIdPath: templateText(sqs.MessageDeduplicationId) }),
  };
}

function readMapping(logicalId: string, p: Record<string, TemplateValue>): EventSourceMappingDefinition {
  const queue = refTarget(p.EventSourceArn);
  const fn = refTarget(p.FunctionName);
  if (queue === undefined || fn === undefined) throw new EmulatorError(`event-source mapping ${logicalId}: local mode needs a queue and a function of this stack`);
  const concurrency = obj(p.ScalingConfig).MaximumConcurrency;
  return {
    logicalId,
    queueLogicalId: queue,
    functionLogicalId: fn,
    batchSize: num(p.BatchSize, 10),
    reportBatchItemFailures: Array.isArray(p.FunctionResponseTypes) && p.FunctionResponseTypes.includes('ReportBatchItemFailures'),
    ...(concurrency === undefined ? {} : { maximumConcurrency: Number(concurrency) }),
    enabled: p.Enabled !== false,
  };
}

/** A function's environment from the template, its queue references resolved to the local queues. */
export function functionEnvironment(definition: DeployedDefinition, logicalId: string, localQueue: (logicalId: string) => { queueUrl: string; queueArn: string }): Record<string, string> {
  const fn = definition.functions.get(logicalId);
  if (fn === undefined) throw new EmulatorError(`the template names function ${logicalId}, which it does not define`);
  const refs = { url: (id: string) => localQueue(id).queueUrl, arn: (id: string) => localQueue(id).queueArn };
  return Object.fromEntries(Object.entries(fn.environment).map(([name, value]) => [name, resolveTemplateValue(value, refs)]));
}

/**
 * Resolves the intrinsic functions CDK leaves in environment variables — `Ref` and `Fn::GetAtt` of
 * this stack's queues (to the local queue URL and ARN), pseudo parameters, `Fn::Join` — into plain strings.
 */
export function resolveTemplateValue(value: TemplateValue, refs: { url: (logicalId: string) => string; arn: (logicalId: string) => string }): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value !== null && !Array.isArray(value)) {
    if (value.Ref === 'AWS::Region') return LOCAL_DEPLOYMENT.region;
    if (value.Ref === 'AWS::AccountId') return LOCAL_DEPLOYMENT.sourceAccount;
    if (value.Ref === 'AWS::Partition') return 'aws';
    if (typeof value.Ref === 'string') return refs.url(value.Ref);
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[1] === 'Arn') return refs.arn(templateText(getAtt[0]));
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) return join[1].map((part) => resolveTemplateValue(part, refs)).join(join[0]);
  }
  throw new EmulatorError(`local mode cannot resolve the template value ${JSON.stringify(value)}`);
}

/** Reads a target dynamic path (`$.groupId`, `$.a.b`) from one element the enrichment returned, as the pipe's SQS target does. */
export function readDynamicPath(path: string, element: unknown): string | undefined {
  if (!path.startsWith('$.')) return path; // a static value
  let value: unknown = element;
  for (const part of path.slice(2).split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return value === undefined || value === null ? undefined : typeof value === 'string' ? value : JSON.stringify(value);
}
