import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { toSdkAttributeMap, toWireAttributeMap } from '../../handlers/core/attribute-value';
import { CONTROL_TABLE_KEY, controlTableName, FREEZE_CACHE_TTL_MS, readFreezeState } from '../../handlers/core/freeze';
import { readReplicationState, stateTableName } from '../../handlers/core/replication-state';
import { itemsEqual } from '../../common/item-compare';
import { DEFAULT_SESSION_FILE } from '../../common/session-file';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { awsCall } from '../aws/errors';
import { CliError, EXIT } from '../errors';
import type { CliIo } from '../index';
import { setApplyEnabled } from '../operator/mapping';
import { queueDepth, totalDepth } from '../operator/queues';
import { targetStatus } from '../operator/status';
import { localDrSource } from '../local/dr-source';
import { loadConfigs, selectReplication } from '../targets/aws';
import { resolveTarget, type TargetSelection } from '../targets/resolve';
import type { OperatorTarget, TableRef } from '../targets/types';
import type { CutoverPorts, CutoverRecord } from './cutover';
import type { FailoverPorts, FailoverRecord, ReconcilePorts } from './failover';
import { StreamTail } from './stream-tail';
import { verifyTarget } from './verify-step';

/** Where the cutover/failover records of deployed targets live: `.ddb-replicate/` in the working directory; a local session's next to its session file. */
export const DR_STATE_DIR = dirname(DEFAULT_SESSION_FILE);

/** A target with what the disaster-recovery commands need beyond the operator commands. */
export interface DrTarget {
  readonly target: OperatorTarget;
  /** `orders` (AWS) or `local`. */
  readonly replication: string;
  readonly sourceStreamArn: () => Promise<string>;
  readonly streams: DynamoDBStreamsClient;
  /** The replication's control table (freeze marks), in the source account. */
  readonly controlTable: TableRef;
  /** The target's replication state table, in the target account (read with the target's credentials). */
  readonly stateTable: TableRef;
  /** The apply's freeze-cache TTL plus its timeout. */
  readonly settleMs: number;
  /** The state record file of `kind` (cutover, failover) for this target. */
  recordFile(kind: 'cutover' | 'failover'): string;
  close(): void;
}

export async function resolveDrTarget(selection: TargetSelection, io: CliIo): Promise<DrTarget> {
  const target = await resolveTarget(selection, io);
  try {
    if (target.kind === 'local') {
      const sessionFile = selection.local === true || selection.local === undefined ? DEFAULT_SESSION_FILE : String(selection.local);
      const local = localDrSource(target, sessionFile);
      return drTarget(target, local.replication, local.streams, local.sourceStreamArn, local.settleMs, local.stateDir);
    }
    const config = selectReplication(loadConfigs(selection), selection.replication);
    const targetConfig = config.targets.find((t) => t.name === target.name)!;
    const streams = new DynamoDBStreamsClient({ region: config.source.region });
    return drTarget(target, config.replicationName, streams, () => Promise.resolve(config.source.tableStreamArn), FREEZE_CACHE_TTL_MS + targetConfig.options.applyTimeoutSeconds * 1000, DR_STATE_DIR);
  } catch (error) {
    target.close();
    throw error;
  }
}

function drTarget(target: OperatorTarget, replication: string, streams: DynamoDBStreamsClient, sourceStreamArn: () => Promise<string>, settleMs: number, stateDir: string): DrTarget {
  const tableName = controlTableName(replication);
  const state = stateTableName(replication, target.name);
  return {
    target,
    replication,
    sourceStreamArn,
    streams,
    controlTable: { client: target.source.client, tableName, description: `control table ${tableName}` },
    // A getter: the target's client is made on first use (AWS: with --target-profile).
    get stateTable() {
      return { client: target.target.client, tableName: state, description: `state table ${state}` };
    },
    settleMs,
    recordFile: (kind) => join(stateDir, `${kind}-${replication}-${target.name}.json`),
    close: () => {
      streams.destroy();
      target.close();
    },
  };
}

/** Reads a JSON state record; undefined when there is none. */
export function readRecord<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (cause) {
    throw new CliError(`${resolve(file)} is not readable JSON; move it away to start over`, EXIT.failure, { cause });
  }
}

/** Writes a state record atomically (temp file + rename), so an interrupt never leaves half a file. */
export function writeRecord(file: string, record: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(temp, file);
}

/** Sets the freeze mark of this target in the control table (PutItem: idempotent). */
export async function writeFreezeMark(dr: DrTarget, mark: { frozenAt: string; reason: 'cutover' | 'failover' }): Promise<void> {
  const { controlTable } = dr;
  await awsCall('dynamodb:PutItem', controlTable.description, () => controlTable.client.send(new PutItemCommand({
    TableName: controlTable.tableName,
    Item: { [CONTROL_TABLE_KEY]: { S: dr.target.name }, frozen: { BOOL: true }, frozenAt: { S: mark.frozenAt }, reason: { S: mark.reason } },
  })));
}

async function getItem(table: TableRef, keys: AttributeMapWire): Promise<AttributeMapWire | undefined> {
  const out = await awsCall('dynamodb:GetItem', table.description, () => table.client.send(new GetItemCommand({ TableName: table.tableName, Key: toSdkAttributeMap(keys), ConsistentRead: true })));
  return out.Item === undefined ? undefined : toWireAttributeMap(out.Item);
}

/** The cutover's ports over a resolved target (AWS or local alike). */
export function cutoverPorts(dr: DrTarget, opts: { signal?: AbortSignal } = {}): CutoverPorts {
  const { target } = dr;
  let tail: StreamTail | undefined;
  const head = async () => {
    tail ??= new StreamTail(dr.streams, await dr.sourceStreamArn());
    return tail.poll();
  };
  const file = dr.recordFile('cutover');
  return {
    target: target.name,
    ...(target.kind === 'aws' ? { replication: dr.replication } : {}),
    settleMs: dr.settleMs,
    status: () => targetStatus(target),
    lastStreamSequence: async () => (await head())?.sequence,
    caughtUpWithStream: async () => {
      const last = await head();
      if (last === undefined) return { caughtUp: true };
      const [source, replica] = await Promise.all([getItem(target.source, last.keys), getItem(target.target, last.keys)]);
      const caughtUp = source === undefined ? replica === undefined : replica !== undefined && itemsEqual(source, replica);
      return { caughtUp, lastSequence: last.sequence };
    },
    verify: (sample) => verifyTarget(target, { ...(sample === undefined ? {} : { sample }), ...(opts.signal === undefined ? {} : { signal: opts.signal }) }),
    readFreeze: () => awsCall('dynamodb:GetItem', dr.controlTable.description, () => readFreezeState(dr.controlTable.client, dr.controlTable.tableName, target.name)),
    freeze: (mark) => writeFreezeMark(dr, mark),
    disableApply: async () => (await setApplyEnabled({ target, enabled: false })).state,
    loadRecord: () => readRecord<CutoverRecord>(file),
    saveRecord: (record) => writeRecord(file, record),
    now: () => Date.now(),
    sleep: async (ms, signal) => {
      try {
        await sleep(ms, undefined, signal === undefined ? undefined : { signal });
      } catch (error) {
        if (signal?.aborted === true) throw new CliError('interrupted', EXIT.interrupted, { cause: error });
        throw error;
      }
    },
  };
}

/**
 * The failover's ports; with `dr` undefined (the source side could not be resolved), every
 * source-side part reports `unreachable` and the state table is `names.stateTable` (target account).
 */
export function failoverPorts(dr: DrTarget | undefined, names: { target: string; replication?: string; recordFile: string; stateTable?: TableRef }, unresolved?: unknown): FailoverPorts {
  const need = (): DrTarget => {
    if (dr === undefined) throw unresolved instanceof Error ? unresolved : new Error(String(unresolved));
    return dr;
  };
  return {
    target: names.target,
    ...(names.replication === undefined ? {} : { replication: names.replication }),
    readFreeze: async () => {
      const { controlTable, target } = need();
      return awsCall('dynamodb:GetItem', controlTable.description, () => readFreezeState(controlTable.client, controlTable.tableName, target.name));
    },
    freeze: (mark) => writeFreezeMark(need(), mark),
    disableApply: async () => (await setApplyEnabled({ target: need().target, enabled: false })).state,
    bufferedDepths: async () => {
      const { target } = need();
      const [queue, dlq] = await Promise.all([queueDepth(target.sqs, target.queueUrl), queueDepth(target.sqs, target.deadLetterQueueUrl)]);
      return { queue: totalDepth(queue), dlq: totalDepth(dlq) };
    },
    replicationState: async () => {
      const table = dr?.stateTable ?? names.stateTable ?? need().stateTable;
      return awsCall('dynamodb:GetItem', table.description, () => readReplicationState(table.client, table.tableName));
    },
    loadRecord: () => readRecord<FailoverRecord>(names.recordFile),
    saveRecord: (record) => writeRecord(names.recordFile, record),
    now: () => Date.now(),
  };
}

/** `failover --reconcile`'s ports: the source stream and items (source account), the target's items (target account). */
export function reconcilePorts(dr: DrTarget): ReconcilePorts {
  return {
    readStream: async (onRecord) => {
      await new StreamTail(dr.streams, await dr.sourceStreamArn(), onRecord).poll();
    },
    sourceItem: (keys) => getItem(dr.target.source, keys),
    targetItem: (keys) => getItem(dr.target.target, keys),
  };
}
