import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { canonicalKey } from '../handlers/core/attribute-value';
import { isTtlDelete } from '../handlers/core/filter';
import type { AttributeMapWire } from '../schemas/attribute-value';

/** The last delete of each key (canonical key → the deleted image, and whether TTL deleted it). */
export type Tombstones = ReadonlyMap<string, { image: AttributeMapWire; ttl: boolean }>;

/**
 * Replication lag of a local session (docs/architecture.md#local-mode): the driver notes its write
 * times per key; the pipe pairs each stream record with the oldest unpaired write of its key; the
 * first target's apply success closes the pair. The stream's ApproximateCreationDateTime is
 * truncated to the minute on DynamoDB Local (docs/architecture.md#emulator-facts), so it cannot be
 * used. Also keeps the last delete of each key the pipe saw: a target that skips a delete keeps the
 * item, and the target check needs to know it.
 */
export class LagTracker {
  private readonly writesByKey = new Map<string, number[]>();
  private readonly writeTimeByEvent = new Map<string, number>();
  private readonly lags: number[] = [];
  private readonly deletes = new Map<string, { image: AttributeMapWire; ttl: boolean }>();

  constructor(private readonly now: () => number = Date.now) {}

  get tombstones(): Tombstones {
    return this.deletes;
  }

  /** Per applied change: apply time − write time, in the order applied. */
  lagMs(): number[] {
    return [...this.lags];
  }

  /** The driver wrote `keys` at `atMs`. */
  noteWrite(keys: AttributeMapWire, atMs: number): void {
    const key = canonicalKey(keys);
    const times = this.writesByKey.get(key);
    if (times === undefined) this.writesByKey.set(key, [atMs]);
    else times.push(atMs);
  }

  /** The pipe feeding the first target handled a stream record; `kept` = its filter let it through. */
  readonly onDelivered = (record: DynamoDBRecord, kept: boolean): void => {
    const keys = record.dynamodb?.Keys as AttributeMapWire | undefined;
    if (keys === undefined || record.eventID === undefined) return;
    const key = canonicalKey(keys);
    if (record.eventName === 'REMOVE') this.deletes.set(key, { image: (record.dynamodb?.OldImage ?? keys) as AttributeMapWire, ttl: isTtlDelete(record) });
    else this.deletes.delete(key);
    const times = this.writesByKey.get(key);
    const at = times?.shift();
    if (times !== undefined && times.length === 0) this.writesByKey.delete(key);
    if (at !== undefined && kept) this.writeTimeByEvent.set(record.eventID, at); // filtered out: never applied
  };

  /** The first target's apply succeeded for this message (its dedup id is the stream eventID). */
  readonly onApplied = (record: SQSRecord): void => {
    const eventId = record.attributes.MessageDeduplicationId;
    if (eventId === undefined) return;
    const at = this.writeTimeByEvent.get(eventId);
    if (at === undefined) return;
    this.writeTimeByEvent.delete(eventId);
    this.lags.push(this.now() - at);
  };
}
