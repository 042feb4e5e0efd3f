import { relative, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_SESSION_FILE } from '../../common/session-file';
import { controlClient, LocalSessionFileError, readSessionFile, type ControlClient } from '../../local/control';
import { CliError, EXIT } from '../errors';
import type { OperatorTarget, PipelineHealth } from '../targets/types';
import { keepProtoAttributes } from '../../handlers/core/proto-attributes';

const RETENTION_SECONDS = 1_209_600; // the stack sets 14 days, and local queues are created from its template

/**
 * A kept local session (`ddb-replicate local --keep`) as an operator target: SQS and DynamoDB at the
 * emulator endpoints with the static local credentials (DynamoDB directly, not through the fault
 * proxy: faults are for the apply), the mapping and the stats through the session's control API.
 */
export function localTarget(opts: { sessionFile?: string; targetName?: string }): OperatorTarget {
  const sessionFile = opts.sessionFile ?? DEFAULT_SESSION_FILE;
  let file;
  try {
    file = readSessionFile(sessionFile);
  } catch (error) {
    if (error instanceof LocalSessionFileError) throw new CliError(error.message, EXIT.failure, { cause: error });
    throw error;
  }
  if (!processAlive(file.pid)) {
    throw new CliError(`the local session of ${shownPath(sessionFile)} is not running (its process ${file.pid} has exited); start one with \`ddb-replicate local --keep --demo\``, EXIT.failure);
  }
  if (opts.targetName !== undefined && opts.targetName !== file.target) {
    throw new CliError(`target "${opts.targetName}" is not configured in the local session; configured targets: ${file.target}`, EXIT.badInput);
  }
  const control = controlClient(file, sessionFile);
  const clientConfig = { region: file.region, credentials: file.credentials };
  const dynamodb = keepProtoAttributes(new DynamoDBClient({ ...clientConfig, endpoint: file.endpoints.dynamodb }));
  const sqs = new SQSClient({ ...clientConfig, endpoint: file.endpoints.sqs });
  const shownFile = shownPath(sessionFile);
  const isDefault = resolve(sessionFile) === resolve(DEFAULT_SESSION_FILE);
  return {
    name: file.target,
    kind: 'local',
    where: `local session ${shownFile}`,
    selector: isDefault ? '--local' : `--local ${shownFile}`,
    keySchema: file.keySchema,
    source: { client: dynamodb, tableName: file.sourceTableName, description: `local table ${file.sourceTableName}` },
    target: { client: dynamodb, tableName: file.targetTableName, description: `local table ${file.targetTableName}` },
    sqs,
    queueUrl: file.queueUrl,
    deadLetterQueueUrl: file.deadLetterQueueUrl,
    retentionSeconds: RETENTION_SECONDS,
    mapping: localMapping(control),
    health: () => localHealth(control),
    close: () => {
      dynamodb.destroy();
      sqs.destroy();
    },
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only checks that the process exists
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else — alive all the same.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The session file as the operator would type it: relative inside the cwd, absolute outside it. */
export function shownPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel === '' || rel.startsWith('..') ? resolve(file) : rel;
}

function localMapping(control: ControlClient): OperatorTarget['mapping'] {
  return {
    id: 'local event-source emulator',
    state: async () => ((await control.status()).applyPaused ? 'Disabled' : 'Enabled'),
    setEnabled: (enabled) => (enabled ? control.resume() : control.pause()),
  };
}

async function localHealth(control: ControlClient): Promise<PipelineHealth> {
  const status = await control.status();
  return {
    pipe: { name: 'local pipe emulator', state: status.pipeState },
    appliedLastMinute: status.appliedLastMinute,
    lagLastMinute: {
      ...(status.lagLastMinute.p99Ms === null ? {} : { p99Ms: status.lagLastMinute.p99Ms }),
      ...(status.lagLastMinute.maxMs === null ? {} : { maxMs: status.lagLastMinute.maxMs }),
    },
    // fauxqs has no age-of-oldest-message figure (SQS itself gives it only through CloudWatch).
    unreachable: [],
  };
}
