import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { FaultInjector, parseFaults } from '../../local/faults';
import { TargetDrift } from '../../local/target-drift';

/** The target-drift fault (local/target-drift.ts) over a mocked DynamoDB: seeded, all three kinds, target table only. */

const ddb = mockClient(DynamoDBClient);
const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };

function drive(seed: number, rate: number, writes: number): TargetDrift {
  const drift = new TargetDrift({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: 'target', keySchema, faults: new FaultInjector({ targetDrift: rate }, seed) });
  for (let i = 0; i < writes; i++) drift.noteWrite({ pk: { S: `k${i}` }, sk: { N: '1' } });
  return drift;
}

beforeEach(() => {
  ddb.reset();
  ddb.on(PutItemCommand).resolves({});
  ddb.on(DeleteItemCommand).resolves({});
});

test('is parsed from --faults like the others', () => {
  expect(parseFaults('target-drift=0.02,apply-throttle=0.1')).toEqual({ targetDrift: 0.02, applyThrottle: 0.1 });
});

test('the same seed gives the same drift; about rate × writes of them, of all three kinds, written to the target table only', async () => {
  const drift = drive(7, 0.2, 300);
  await drift.settle();
  const { wrongValues, extraItems, deletions } = drift.counts;
  expect(wrongValues + extraItems + deletions).toBeGreaterThan(30);
  expect(wrongValues + extraItems + deletions).toBeLessThan(90);
  expect(Math.min(wrongValues, extraItems, deletions)).toBeGreaterThan(0);
  const puts = ddb.commandCalls(PutItemCommand).map((c) => c.args[0].input);
  expect([...puts, ...ddb.commandCalls(DeleteItemCommand).map((c) => c.args[0].input)].every((input) => input.TableName === 'target')).toBe(true);
  // Extra items have keys no workload writes; wrong values keep a written key and change the item.
  expect(puts.filter((p) => p.Item?.pk?.S?.startsWith('drift-extra-'))).toHaveLength(extraItems);
  expect(puts.filter((p) => /^k\d+$/.test(p.Item?.pk?.S ?? '') && p.Item?.drift?.S?.startsWith('wrong value'))).toHaveLength(wrongValues);
  expect(ddb.commandCalls(DeleteItemCommand).every((c) => /^k\d+$/.test(c.args[0].input.Key?.pk?.S ?? ''))).toBe(true);
  const again = drive(7, 0.2, 300);
  await again.settle();
  expect(again.counts).toEqual(drift.counts);
});

test('rate 0: nothing; a failed drift write fails settle()', async () => {
  await drive(1, 0, 100).settle();
  expect(ddb.calls()).toHaveLength(0);
  ddb.on(PutItemCommand).rejects(new Error('boom'));
  ddb.on(DeleteItemCommand).rejects(new Error('boom'));
  await expect(drive(1, 1, 3).settle()).rejects.toThrow('a target-drift write to the target table failed');
});
