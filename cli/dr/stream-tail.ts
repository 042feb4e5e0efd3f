import { GetRecordsCommand, GetShardIteratorCommand, type DynamoDBStreamsClient, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { toWireAttributeMap } from '../../handlers/core/attribute-value';
import { describeAllShards } from '../../common/stream-shards';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { awsCall } from '../aws/errors';

/** The newest record of a source stream: its sequence number and the item's keys. */
export interface StreamHead {
  readonly sequence: string;
  readonly keys: AttributeMapWire;
  /** ApproximateCreationDateTime in ms (seconds precision in AWS; minutes in DynamoDB Local). */
  readonly at?: number;
}

/**
 * Follows the newest record of a DynamoDB stream across polls, for cutover's quiet wait and drain
 * check. The first poll reads each open shard from TRIM_HORIZON (at most the 24 h the stream
 * keeps); later polls continue after the last record seen, so a poll costs a few GetRecords calls.
 */
export class StreamTail {
  private readonly after = new Map<string, string>(); // shardId → last sequence number read
  private head: StreamHead | undefined;

  /** `onRecord` sees every record read, in shard order (failover --reconcile collects them). */
  constructor(private readonly streams: DynamoDBStreamsClient, private readonly streamArn: string, private readonly onRecord?: (head: StreamHead) => void) {}

  /** The newest record so far (undefined: the stream holds none). */
  async poll(): Promise<StreamHead | undefined> {
    const shards = await awsCall('dynamodbstreams:DescribeStream', `stream ${this.streamArn}`, () => describeAllShards(this.streams, this.streamArn));
    for (const shard of shards) {
      const shardId = shard.ShardId;
      if (shardId === undefined) continue;
      const last = this.after.get(shardId);
      // A closed shard read to its end has nothing new.
      if (last !== undefined && shard.SequenceNumberRange?.EndingSequenceNumber === last) continue;
      let iterator = (await awsCall('dynamodbstreams:GetShardIterator', `stream ${this.streamArn}`, () => this.streams.send(new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ...(last === undefined ? { ShardIteratorType: 'TRIM_HORIZON' } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: last }),
      })))).ShardIterator;
      // An open shard never ends: stop at the first empty page (the records written so far have been read).
      while (iterator !== undefined) {
        const page = await awsCall('dynamodbstreams:GetRecords', `stream ${this.streamArn}`, () => this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 })));
        const records = page.Records ?? [];
        for (const record of records) this.note(shardId, record);
        if (records.length === 0) break;
        iterator = page.NextShardIterator;
      }
    }
    return this.head;
  }

  private note(shardId: string, record: _Record): void {
    const sequence = record.dynamodb?.SequenceNumber;
    if (sequence === undefined) return;
    this.after.set(shardId, sequence);
    const created = record.dynamodb?.ApproximateCreationDateTime;
    const seen: StreamHead = { sequence, keys: toWireAttributeMap(record.dynamodb?.Keys ?? {}), ...(created === undefined ? {} : { at: created.getTime() }) };
    this.onRecord?.(seen);
    // Sequence numbers are decimal strings of up to 40 digits: compare as BigInt, never as numbers.
    if (this.head === undefined || BigInt(sequence) > BigInt(this.head.sequence)) this.head = seen;
  }
}
