import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { registerCleanup } from './cleanup';
import type { QueueDefinition } from './deployed-definition';
import { EmulatorError } from './errors';
import { freePort, waitUntilAnswering, watchExit } from './net';

/**
 * SQS on `fauxqs` 1.9.2 (docs/architecture.md#emulator-facts: 2.x needs node:sqlite, 1.9.2 runs on Node 20).
 *
 * fauxqs is ESM-only (its package exports only an `import` condition), and this code base is
 * CommonJS under ts-jest, so it runs as a child `node` process. The child exits when its stdin
 * closes — i.e. when this process ends, however abruptly — so it is never orphaned.
 *
 * Known differences from SQS (docs/architecture.md#emulator-facts): a receive returns at most one message per group, and
 * deduplication is queue-wide whatever DeduplicationScope says (harmless: dedup ids are eventIds).
 */
export interface SqsLocal {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const CHILD_SCRIPT = `
import { startFauxqs } from 'fauxqs';
const server = await startFauxqs({ port: Number(process.env.FAUXQS_CHILD_PORT), logger: false });
process.stdout.write('ready ' + server.address + '\\n');
const stop = () => server.stop().finally(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
`;

export async function startSqsLocal(opts: { port?: number; onLog?: (line: string) => void; startTimeoutMs?: number } = {}): Promise<SqsLocal> {
  const port = opts.port ?? (await freePort());
  const log = opts.onLog ?? (() => undefined);
  const child = spawn(process.execPath, ['--input-type=module', '--no-warnings', '-e', CHILD_SCRIPT], {
    // Resolve the bare specifier `fauxqs` from this package's own node_modules.
    cwd: join(__dirname, '..'),
    env: { ...process.env, FAUXQS_CHILD_PORT: String(port) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => log(`[fauxqs] ${line}`));
  }
  const { exited, reason: exitReason } = watchExit(child);
  const unregister = registerCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      child.stdin.end();
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killTimer);
      unregister();
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(`${endpoint}/health`, { timeoutMs: opts.startTimeoutMs ?? 20_000, what: 'fauxqs', alive: exitReason });
  } catch (error) {
    await stop();
    throw error;
  }
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as { unref?: () => void }).unref?.();
  return { endpoint, pid: child.pid ?? -1, stop };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (arn === undefined) throw new EmulatorError(`queue ${queueUrl} has no QueueArn`);
  return arn;
}

export interface LocalQueue {
  queueUrl: string;
  queueArn: string;
}

/**
 * A queue exactly as the synthesized template defines it (local/deployed-definition.ts): FIFO and
 * dedup settings, visibility timeout, retention, maximum message size, redrive to its DLQ (which must
 * be created first). `visibilityTimeoutSeconds` is the one local override, chosen and logged by the session.
 */
export async function createDefinedQueue(
  sqs: SQSClient,
  queue: QueueDefinition,
  opts: { deadLetterQueueArn?: string; visibilityTimeoutSeconds?: number } = {},
): Promise<LocalQueue> {
  if (queue.redrive !== undefined && opts.deadLetterQueueArn === undefined) throw new EmulatorError(`queue ${queue.queueName} redrives to a DLQ: create that first`);
  const attributes: Record<string, string> = {
    VisibilityTimeout: String(opts.visibilityTimeoutSeconds ?? queue.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(queue.messageRetentionSeconds),
    MaximumMessageSize: String(queue.maximumMessageBytes),
    ...(queue.fifo ? { FifoQueue: 'true', ContentBasedDeduplication: String(queue.contentBasedDeduplication) } : {}),
    ...(queue.deduplicationScope === undefined ? {} : { DeduplicationScope: queue.deduplicationScope }),
    ...(queue.fifoThroughputLimit === undefined ? {} : { FifoThroughputLimit: queue.fifoThroughputLimit }),
    ...(queue.redrive === undefined ? {} : { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: opts.deadLetterQueueArn, maxReceiveCount: queue.redrive.maxReceiveCount }) }),
  };
  const out = await sqs.send(new CreateQueueCommand({ QueueName: queue.queueName, Attributes: attributes }));
  if (out.QueueUrl === undefined) throw new EmulatorError(`CreateQueue returned no QueueUrl for ${queue.queueName}`);
  return { queueUrl: out.QueueUrl, queueArn: await queueArn(sqs, out.QueueUrl) };
}

/**
 * Every queue of a synthesized definition, created as the template defines it: DLQs first (a redrive
 * names its DLQ's ARN), then the rest. `visibilityTimeoutFor` is the session's one local override.
 * Returns a lookup by logical id that fails loudly for a queue the template does not define.
 */
export async function createDefinedQueues(
  sqs: SQSClient,
  queues: Iterable<QueueDefinition>,
  opts: { visibilityTimeoutFor?: (queue: QueueDefinition) => number | undefined } = {},
): Promise<(logicalId: string) => LocalQueue> {
  const created = new Map<string, LocalQueue>();
  const ordered = [...queues].sort((a, b) => Number(a.redrive !== undefined) - Number(b.redrive !== undefined));
  for (const queue of ordered) {
    const deadLetterQueueArn = queue.redrive === undefined ? undefined : created.get(queue.redrive.deadLetterQueueLogicalId)?.queueArn;
    const visibilityTimeoutSeconds = opts.visibilityTimeoutFor?.(queue);
    created.set(queue.logicalId, await createDefinedQueue(sqs, queue, {
      ...(deadLetterQueueArn === undefined ? {} : { deadLetterQueueArn }),
      ...(visibilityTimeoutSeconds === undefined ? {} : { visibilityTimeoutSeconds }),
    }));
  }
  return (logicalId) => {
    const queue = created.get(logicalId);
    if (queue === undefined) throw new EmulatorError(`the template names queue ${logicalId}, which it does not define`);
    return queue;
  };
}

/** fauxqs rejects characters outside the BMP: see `sqsSafeJson` in handlers/core/envelope.ts. */
export { sqsSafeJson } from '../handlers/core/envelope';

