import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { KeySchema } from '../../handlers/core/key-schema';
import { LOCAL_REGION, LOCAL_TARGET, type LocalSession } from '../../local/session';
import { directCopyPorts } from '../bootstrap/direct-copy-port';
import type { DirectCopyOptions } from '../bootstrap/direct-engine';
import type { BootstrapPorts } from '../bootstrap/ports';

export interface LocalBootstrapPortsOptions {
  readonly keySchema: KeySchema;
  /** Direct-engine knobs (segments, exclusions, the target's policy, write rate, consistent reads; `afterPage` for tests). */
  readonly copy?: Pick<DirectCopyOptions, 'segments' | 'consistentRead' | 'pageLimit' | 'excludeAttributes' | 'policy' | 'writeRateItemsPerSecond' | 'afterPage'>;
  /**
   * The pipe emulator's state. LocalSession does not expose it; the caller knows whether it called
   * `startReplication()`. @default () => 'RUNNING'
   */
  readonly pipeState?: () => string;
}

export interface LocalBootstrapPorts extends BootstrapPorts {
  /** Closes the SQS client these ports opened. */
  close(): void;
}

/**
 * The bootstrap ports over a local session: the event-source emulator stands in for the event
 * source mapping (pauseApply/resumeApply), the direct engine copies source → target.
 */
export function localBootstrapPorts(session: LocalSession, opts: LocalBootstrapPortsOptions): LocalBootstrapPorts {
  // pauseApply resolves once nothing is being applied, so the "mapping" is Disabled when it returns.
  let mapping: 'Enabled' | 'Disabled' = 'Enabled';
  // Sampled fresh for every call: the session's stats() queue depth is sampled in the background and may lag a resume.
  const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: session.endpoints.sqs, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const copy = directCopyPorts({
    ...opts.copy,
    sourceClient: session.sourceClient,
    sourceTableName: session.sourceTableName,
    targetClient: session.targetClient,
    targetTableName: session.targetTableName,
    keySchema: opts.keySchema,
  });
  return {
    names: {
      target: LOCAL_TARGET.name,
      pipe: 'local pipe emulator',
      mapping: 'local event-source emulator',
      queue: session.queueUrl,
      sourceTable: session.sourceTableName,
      copy: 'the direct engine',
    },
    describePipe: () => Promise.resolve(opts.pipeState?.() ?? 'RUNNING'),
    getMappingState: () => Promise.resolve(mapping),
    disableMapping: async () => {
      await session.pauseApply();
      mapping = 'Disabled';
    },
    enableMapping: async () => {
      await session.resumeApply();
      mapping = 'Enabled';
    },
    ...copy,
    queueDepth: async () => {
      const out = await sqs.send(new GetQueueAttributesCommand({
        QueueUrl: session.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }));
      const attributes = out.Attributes ?? {};
      return ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed']
        .reduce((total, name) => total + Number(attributes[name as keyof typeof attributes] ?? '0'), 0);
    },
    tableItemCount: async () => {
      const out = await session.sourceClient.send(new DescribeTableCommand({ TableName: session.sourceTableName }));
      return out.Table?.ItemCount;
    },
    close: () => sqs.destroy(),
  };
}
