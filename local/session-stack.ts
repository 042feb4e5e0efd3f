import type { SQSClient } from '@aws-sdk/client-sqs';
import { deployedDefinition, type DeployedDefinition } from './deployed-definition';
import type { LocalSessionOptions } from './session';
import type { TargetSpec } from './session-targets';
import { createDefinedQueues, type LocalQueue } from './sqs-local';

/**
 * What a local session runs (docs/architecture.md#local-mode): the stack `cdk deploy` creates,
 * synthesized from the session's options, and its queues created on fauxqs. Local mode departs from
 * the template in one setting only (the main queues' visibility timeout), listed in `localOverrides`.
 */
export interface SessionStack {
  definition: DeployedDefinition;
  /** The main queues' local VisibilityTimeout, when it overrides the template's. */
  visibilityOverride: number | undefined;
  localOverrides: string[];
}

export interface TargetQueues {
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
}

/** Synthesizes the stack from the options (one target entry per spec) and logs what local mode runs differently. */
export function sessionStack(opts: LocalSessionOptions, specs: readonly TargetSpec[], log: (line: string) => void): SessionStack {
  const definition = deployedDefinition({
    keySchema: opts.keySchema,
    targets: specs.map((spec) => ({
      name: spec.name,
      tableName: spec.tableName,
      filter: spec.filter,
      ...(spec.redaction === undefined ? {} : { redaction: spec.redaction }),
      options: {
        maxReceiveCount: opts.maxReceiveCount ?? 3,
        applyTimeoutSeconds: opts.applyTimeoutSeconds ?? 10,
        maximumConcurrency: opts.maximumConcurrency ?? 3,
        pipeBatchSize: opts.pipeBatchSize ?? 10,
        ...(opts.pipeParallelizationFactor === undefined ? {} : { pipeParallelizationFactor: opts.pipeParallelizationFactor }),
        ...(opts.resyncThresholdBytes === undefined ? {} : { resyncThresholdBytes: opts.resyncThresholdBytes }),
        ...(opts.delivery === undefined ? {} : { delivery: opts.delivery }),
        ...(opts.startingPosition === undefined ? {} : { startingPosition: opts.startingPosition }),
      },
    })),
    ...(opts.amendStack === undefined ? {} : { amendStack: opts.amendStack }),
  });
  const visibilityOverride = opts.visibilityTimeoutSeconds === 'template' ? undefined : opts.visibilityTimeoutSeconds ?? 2;
  const localOverrides = visibilityOverride === undefined ? [] : definition.targets.map((t) =>
    `queue ${t.queue.queueName}: VisibilityTimeout ${visibilityOverride} s instead of the template's ${t.queue.visibilityTimeoutSeconds} s (faster retries; the event source extends visibility while a batch is handled)`);
  for (const line of localOverrides) log(`[session] local override: ${line}`);
  for (const pipe of definition.pipes) {
    log(`[session] template pipe ${pipe.name}: batch ${pipe.batchSize}, ${pipe.startingPosition}, retries ${pipe.maximumRetryAttempts}${pipe.bisectOnFailure ? ', bisect' : ''}, ${pipe.filterPatterns?.length ?? 0} filter pattern(s)`);
  }
  return { definition, visibilityOverride, localOverrides };
}

/** Creates every queue the template defines; returns the lookup by logical id and each target's queues, in target order. */
export async function createStackQueues(sqs: SQSClient, stack: SessionStack): Promise<{ localQueue: (logicalId: string) => LocalQueue; queuesByTarget: TargetQueues[] }> {
  const { definition, visibilityOverride } = stack;
  const mainQueueIds = new Set(definition.targets.map((t) => t.queue.logicalId));
  const localQueue = await createDefinedQueues(sqs, definition.queues.values(), {
    visibilityTimeoutFor: (queue) => (mainQueueIds.has(queue.logicalId) ? visibilityOverride : undefined),
  });
  const queuesByTarget = definition.targets.map((t) => ({
    queueUrl: localQueue(t.queue.logicalId).queueUrl,
    queueArn: localQueue(t.queue.logicalId).queueArn,
    deadLetterQueueUrl: localQueue(t.deadLetterQueue.logicalId).queueUrl,
  }));
  return { localQueue, queuesByTarget };
}
