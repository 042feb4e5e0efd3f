import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { LagTracker } from '../../local/session-lag';

const KEY = { pk: { S: 'a' } };
const record = (eventID: string, eventName: 'INSERT' | 'MODIFY' | 'REMOVE', extra: Partial<DynamoDBRecord> = {}): DynamoDBRecord => ({
  eventID, eventName, dynamodb: { Keys: KEY, OldImage: { ...KEY, v: { N: '1' } } }, ...extra,
});
const applied = (eventId: string): SQSRecord => ({ attributes: { MessageDeduplicationId: eventId } } as unknown as SQSRecord);

describe('LagTracker', () => {
  it('pairs each stream record with the oldest unpaired write of its key, and measures to the apply', () => {
    let now = 0;
    const lag = new LagTracker(() => now);
    lag.noteWrite(KEY, 100);
    lag.noteWrite(KEY, 250);
    lag.onDelivered(record('e1', 'INSERT'), true);
    lag.onDelivered(record('e2', 'MODIFY'), true);
    now = 1000;
    lag.onApplied(applied('e2'));
    lag.onApplied(applied('e1'));
    lag.onApplied(applied('e1')); // a duplicate delivery counts once
    expect(lag.lagMs()).toEqual([750, 900]);
  });

  it('measures nothing for a record its filter dropped (it is never applied)', () => {
    const lag = new LagTracker(() => 500);
    lag.noteWrite(KEY, 100);
    lag.onDelivered(record('e1', 'INSERT'), false);
    lag.onApplied(applied('e1'));
    expect(lag.lagMs()).toEqual([]);
  });

  it('keeps the last delete of a key, marks TTL deletes, and forgets it when the key is written again', () => {
    const lag = new LagTracker();
    lag.onDelivered(record('e1', 'REMOVE', { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } }), true);
    expect([...lag.tombstones.values()]).toEqual([{ image: { ...KEY, v: { N: '1' } }, ttl: true }]);
    lag.onDelivered(record('e2', 'INSERT'), true);
    expect(lag.tombstones.size).toBe(0);
    lag.onDelivered(record('e3', 'REMOVE'), true);
    expect([...lag.tombstones.values()]).toEqual([{ image: { ...KEY, v: { N: '1' } }, ttl: false }]);
  });
});
