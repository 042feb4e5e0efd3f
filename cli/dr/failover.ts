import { canonicalKey } from '../../handlers/core/attribute-value';
import type { FreezeState } from '../../handlers/core/freeze';
import type { LastApplied, LastSampledVerify, ReplicationState } from '../../handlers/core/replication-state';
import { itemsEqual } from '../../common/item-compare';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import type { StreamHead } from './stream-tail';

/**
 * Unplanned failover (docs/disaster-recovery.md): the source side is unavailable. Freeze first —
 * the mark in the control table and the apply mapping, each attempted and recorded, neither
 * required — then report what may be missing (the last change applied to the target and the last
 * sampled verify, from the target's replication state table in the target account; changes still
 * buffered in the queue and the DLQ, if they can be read) and record the failover. Run again when the source account comes back: it
 * retries the parts that were unreachable, before anything else can write into the new primary.
 */
export interface FailoverRecord {
  readonly v: 1;
  readonly kind: 'failover';
  readonly replication?: string;
  readonly target: string;
  /** The failover point: when it was first run. */
  readonly failoverAt: string;
  updatedAt: string;
  /** 'set' or why it could not be set. */
  mark: string;
  /** The mapping state reached, or why it could not be changed. */
  mapping: string;
  /** Changes still queued for the target (not applied): queue and DLQ depths, or why unreadable. */
  buffered: { queue: number; dlq: number } | { unreachable: string };
  /**
   * The newest change the apply recorded as written into the target (creation time, sequence), as
   * recorded at its `appliedAt`; null when none is recorded; or why the state table could not be read.
   */
  lastApplied?: LastApplied | null | { unreachable: string };
  /** The last run of the continuous sampled verification; null when none is recorded; or why unreadable. */
  lastSampledVerify?: LastSampledVerify | null | { unreachable: string };
}

export interface FailoverPorts {
  readonly target: string;
  readonly replication?: string;
  readFreeze(): Promise<FreezeState>;
  freeze(mark: { frozenAt: string; reason: 'cutover' | 'failover' }): Promise<void>;
  disableApply(): Promise<string>;
  bufferedDepths(): Promise<{ queue: number; dlq: number }>;
  /** The target's replication state table (target account: works with the target's credentials alone). */
  replicationState(): Promise<ReplicationState>;
  loadRecord(): FailoverRecord | undefined;
  saveRecord(record: FailoverRecord): void;
  now(): number;
}

const reason = (error: unknown): string => `unreachable: ${error instanceof Error ? error.message : String(error)}`;

export async function runFailover(ports: FailoverPorts): Promise<FailoverRecord> {
  const iso = new Date(ports.now()).toISOString();
  const previous = ports.loadRecord();
  const failoverAt = previous?.failoverAt ?? iso;
  let mark: string;
  try {
    const state = await ports.readFreeze();
    if (!state.frozen) await ports.freeze({ frozenAt: failoverAt, reason: 'failover' });
    mark = 'set';
  } catch (error) {
    mark = reason(error);
  }
  let mapping: string;
  try {
    mapping = await ports.disableApply();
  } catch (error) {
    mapping = reason(error);
  }
  let buffered: FailoverRecord['buffered'];
  try {
    buffered = await ports.bufferedDepths();
  } catch (error) {
    buffered = { unreachable: reason(error).slice('unreachable: '.length) };
  }
  // Read after the freeze. A batch the apply had begun before the mark can still land (cache TTL +
  // apply timeout, docs/disaster-recovery.md): a re-run reads again.
  let lastApplied: FailoverRecord['lastApplied'];
  let lastSampledVerify: FailoverRecord['lastSampledVerify'];
  try {
    const state = await ports.replicationState();
    lastApplied = state.lastApplied ?? null;
    lastSampledVerify = state.lastSampledVerify ?? null;
  } catch (error) {
    const unreachable = { unreachable: reason(error).slice('unreachable: '.length) };
    // A re-run that cannot read the table keeps what an earlier run read.
    lastApplied = readable(previous?.lastApplied) ?? unreachable;
    lastSampledVerify = readable(previous?.lastSampledVerify) ?? unreachable;
  }
  const record: FailoverRecord = {
    v: 1, kind: 'failover', ...(ports.replication === undefined ? {} : { replication: ports.replication }), target: ports.target,
    failoverAt, updatedAt: iso, mark, mapping, buffered, lastApplied, lastSampledVerify,
  };
  ports.saveRecord(record);
  return record;
}

function readable<T extends object>(value: T | null | { unreachable: string } | undefined): T | null | undefined {
  return value === undefined || (value !== null && 'unreachable' in value) ? undefined : value;
}

/** A key the target lacks: the source's current item differs from the target's. */
export interface ReconcileEntry {
  readonly keys: AttributeMapWire;
  /** missing: the source has it, the target not; different: both, unequal; deleted: the target has it, the source not. */
  readonly kind: 'missing' | 'different' | 'deleted';
  /** The source's last change of this key in its stream. */
  readonly lastSequence: string;
  readonly lastAt?: string;
  /** The last source change came after the failover point (written to the old source after the switch). */
  readonly afterFailover: boolean;
}

export interface ReconcilePorts {
  /** Every record of the source stream (its 24 h), in order within each shard. */
  readStream(onRecord: (record: StreamHead) => void): Promise<void>;
  sourceItem(keys: AttributeMapWire): Promise<AttributeMapWire | undefined>;
  targetItem(keys: AttributeMapWire): Promise<AttributeMapWire | undefined>;
}

/**
 * `failover --reconcile`: for every key changed in the source stream, the source's current item
 * against the target's; lists those that differ. Reads only — the owners decide what to copy.
 */
export async function runReconcile(ports: ReconcilePorts, failoverAt: string): Promise<{ changedKeys: number; entries: ReconcileEntry[] }> {
  const last = new Map<string, StreamHead>();
  await ports.readStream((record) => {
    const key = canonicalKey(record.keys);
    const seen = last.get(key);
    if (seen === undefined || BigInt(record.sequence) > BigInt(seen.sequence)) last.set(key, record);
  });
  const point = Date.parse(failoverAt);
  const entries: ReconcileEntry[] = [];
  for (const record of last.values()) {
    const [source, target] = await Promise.all([ports.sourceItem(record.keys), ports.targetItem(record.keys)]);
    if (source === undefined && target === undefined) continue;
    if (source !== undefined && target !== undefined && itemsEqual(source, target)) continue;
    entries.push({
      keys: record.keys,
      kind: source === undefined ? 'deleted' : target === undefined ? 'missing' : 'different',
      lastSequence: record.sequence,
      ...(record.at === undefined ? {} : { lastAt: new Date(record.at).toISOString() }),
      afterFailover: record.at !== undefined && record.at >= point,
    });
  }
  return { changedKeys: last.size, entries };
}
