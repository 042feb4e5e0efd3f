import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { toSdkAttributeMap } from '../handlers/core/attribute-value';
import type { KeySchema } from '../handlers/core/key-schema';
import type { AttributeMapWire, AttributeValueWire } from '../schemas/attribute-value';
import { EmulatorError } from './errors';
import type { FaultInjector } from './faults';

/**
 * The `target-drift=R` fault: with probability R per op written to the source, a write straight
 * into the target table, as someone with access to the target account might make — a wrong value
 * on a key written earlier, an extra item no source write made, or the deletion of a key written
 * earlier. Replication does not see these (the target has no stream); only verification finds them.
 * Seeded: the same seed and op count give the same number and kinds of drift.
 */
export interface DriftCounts {
  wrongValues: number;
  extraItems: number;
  deletions: number;
}

/** Keys remembered to drift later (the most recent ones): bounded, whatever the run's size. */
const KEYS_KEPT = 1000;

export class TargetDrift {
  readonly counts: DriftCounts = { wrongValues: 0, extraItems: 0, deletions: 0 };
  private readonly keys: AttributeMapWire[] = [];
  private readonly pending = new Set<Promise<void>>();
  private failure: unknown;
  private extraSeq = 0;

  constructor(private readonly opts: { client: DynamoDBClient; tableName: string; keySchema: KeySchema; faults: FaultInjector }) {}

  /** Called for each op written to the source, with its key. */
  noteWrite(keys: AttributeMapWire): void {
    if (this.keys.length === KEYS_KEPT) this.keys.shift();
    this.keys.push(keys);
    if (!this.opts.faults.fires('targetDrift')) return;
    const kind = this.opts.faults.random('targetDrift');
    const earlier = this.keys[Math.floor(this.opts.faults.random('targetDrift') * this.keys.length)];
    const TableName = this.opts.tableName;
    let write: Promise<unknown>;
    if (kind < 1 / 3) {
      this.counts.wrongValues += 1;
      write = this.opts.client.send(new PutItemCommand({ TableName, Item: toSdkAttributeMap({ ...earlier, drift: { S: `wrong value ${this.counts.wrongValues}` } }) }));
    } else if (kind < 2 / 3) {
      this.counts.extraItems += 1;
      write = this.opts.client.send(new PutItemCommand({ TableName, Item: toSdkAttributeMap({ ...this.extraKey(), drift: { S: 'extra item' } }) }));
    } else {
      this.counts.deletions += 1;
      write = this.opts.client.send(new DeleteItemCommand({ TableName, Key: toSdkAttributeMap(earlier) }));
    }
    const done = write.then(() => undefined, (error: unknown) => {
      this.failure ??= error;
    });
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /** Waits for the drift writes made so far; throws if one failed (a fault that did not happen must not pass silently). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
    if (this.failure !== undefined) throw new EmulatorError('a target-drift write to the target table failed', { cause: this.failure });
  }

  /** A key no workload writes: "drift-extra-<n>" (S), 10^30 + n (N), or bytes "drift<n>" (B). */
  private extraKey(): AttributeMapWire {
    const n = ++this.extraSeq;
    const value = (attr: KeySchema['partitionKey']): AttributeValueWire =>
      attr.type === 'S' ? { S: `drift-extra-${n}` } : attr.type === 'N' ? { N: `1${'0'.repeat(30)}${n}` } : { B: Buffer.from(`drift${n}`).toString('base64') };
    const keySchema = this.opts.keySchema;
    return { [keySchema.partitionKey.name]: value(keySchema.partitionKey), ...(keySchema.sortKey === undefined ? {} : { [keySchema.sortKey.name]: value(keySchema.sortKey) }) };
  }
}
