import { BatchWriteItemCommand, DynamoDBClient, DynamoDBServiceException, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { writeItems, type WriteItemsOptions } from '../../handlers/core/batch-writer';
import type { KeySchema } from '../../handlers/core/key-schema';

const keySchema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };
const TABLE = 'target';
const ddb = mockClient(DynamoDBClient);
const client = new DynamoDBClient({ region: 'eu-west-1' });

const put = (i: number): WriteRequest => ({ PutRequest: { Item: { pk: { S: `p${i}` }, sk: { N: String(i) }, data: { B: new Uint8Array([i % 256]) } } } });
const del = (i: number): WriteRequest => ({ DeleteRequest: { Key: { pk: { S: `p${i}` }, sk: { N: String(i) } } } });

function awsError(name: string, httpStatusCode: number): DynamoDBServiceException {
  return new DynamoDBServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message: `${name} happened` });
}

/** A clock that only moves when the writer sleeps, so budgets are exact. */
function fakeTime(deadline: number): WriteItemsOptions & { sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return { keySchema, deadline, now: () => t, sleep: async (ms) => { sleeps.push(ms); t += ms; }, random: () => 0.5, sleeps };
}

/** DynamoDB hands back copies, never our objects (and with a re-spelled number, as it normalises them). */
const copies = (requests: WriteRequest[]): WriteRequest[] =>
  requests.map((r) => (r.PutRequest ? { PutRequest: { Item: { ...structuredClone(r.PutRequest.Item), sk: { N: `${r.PutRequest.Item?.sk?.N}.0` } } } } : structuredClone(r)));

beforeEach(() => ddb.reset());

describe('writeItems', () => {
  it('retries UnprocessedItems with growing, jittered backoff until all are written', async () => {
    const requests = [put(1), put(2), del(3)];
    ddb.on(BatchWriteItemCommand)
      .resolvesOnce({ UnprocessedItems: { [TABLE]: copies([requests[0], requests[2]]) } })
      .resolvesOnce({ UnprocessedItems: { [TABLE]: copies([requests[2]]) } })
      .resolvesOnce({ UnprocessedItems: {} });
    const opts = fakeTime(60_000);

    const result = await writeItems(client, TABLE, requests, opts);

    expect(result.written).toEqual([requests[1], requests[0], requests[2]]);
    expect(result.written[0]).toBe(requests[1]);
    expect(result.unprocessed).toEqual([]);
    expect(result).toMatchObject({ attempts: 3, throttles: 2, failures: [] });
    expect(ddb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input.RequestItems?.[TABLE]?.length)).toEqual([3, 2, 1]);
    // Full jitter: random(0.5) × min(cap, 50 · 2^n).
    expect(opts.sleeps).toEqual([25, 50]);
  });

  it.each([
    ['ProvisionedThroughputExceededException', 400],
    ['ThrottlingException', 400],
    ['RequestLimitExceeded', 400],
    ['InternalServerError', 500],
    ['SomethingNew', 503],
  ])('retries %s and then succeeds', async (name, status) => {
    ddb.on(BatchWriteItemCommand).rejectsOnce(awsError(name, status)).resolvesOnce({});
    const result = await writeItems(client, TABLE, [put(1)], fakeTime(60_000));
    expect(result).toMatchObject({ written: [put(1)], unprocessed: [], attempts: 2, throttles: 1 });
  });

  it('stops when the budget would be exceeded and reports what is left, losing nothing', async () => {
    const requests = Array.from({ length: 30 }, (_, i) => put(i));
    ddb.on(BatchWriteItemCommand).rejects(awsError('ProvisionedThroughputExceededException', 400));
    const opts = { ...fakeTime(300), random: () => 0.999 };

    const result = await writeItems(client, TABLE, requests, opts);

    expect(result.written).toEqual([]);
    expect(result.unprocessed).toEqual(requests);
    expect(result.failures).toEqual([]);
    // Per chunk: tries at t=0, 49, 148; the next backoff (199 ms) would pass the deadline. The second
    // chunk then gets its own tries within what is left (t=148, 197, 296).
    expect(ddb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input.RequestItems?.[TABLE]?.length)).toEqual([25, 25, 25, 5, 5, 5]);
    expect(result.attempts).toBe(6);
    expect(opts.sleeps.reduce((a, b) => a + b, 0)).toBeLessThan(300);
  });

  it('gives up after maxAttempts', async () => {
    ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: { [TABLE]: copies([put(1)]) } });
    const result = await writeItems(client, TABLE, [put(1)], { ...fakeTime(10_000_000), maxAttempts: 4 });
    expect(result).toMatchObject({ written: [], unprocessed: [put(1)], attempts: 4, throttles: 4 });
  });

  it('does not start a call after the deadline', async () => {
    const result = await writeItems(client, TABLE, [put(1)], fakeTime(0));
    expect(result).toMatchObject({ written: [], unprocessed: [put(1)], attempts: 0 });
    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(0);
  });

  it('fails a chunk on a non-retryable error, with the cause, and goes on with the next chunk', async () => {
    const requests = Array.from({ length: 30 }, (_, i) => put(i));
    const validation = awsError('ValidationException', 400);
    // p0 is invalid: the first chunk is rejected whole, then retried one request per call.
    ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => {
      if ((input.RequestItems[TABLE] ?? []).some((r) => r.PutRequest?.Item?.pk?.S === 'p0')) throw validation;
      return {};
    });

    const result = await writeItems(client, TABLE, requests, fakeTime(60_000));

    expect(result.failures).toEqual([{ requests: [requests[0]], cause: validation }]);
    expect(result.unprocessed).toEqual([requests[0]]);
    expect(result.written).toEqual(requests.slice(1));
    expect(result.attempts).toBe(1 + 25 + 1);
  });

  it('isolates a non-retryable error to the one request that causes it; the others of the chunk are written', async () => {
    const requests = [put(1), put(2), put(3)];
    const validation = awsError('ValidationException', 400);
    // DynamoDB rejects the whole call for one bad request (e.g. an item over 400 KB).
    ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => {
      if ((input.RequestItems[TABLE] ?? []).some((r) => r.PutRequest?.Item?.pk?.S === 'p2')) throw validation;
      return {};
    });

    const result = await writeItems(client, TABLE, requests, fakeTime(60_000));

    expect(result.written).toEqual([requests[0], requests[2]]);
    expect(result.unprocessed).toEqual([requests[1]]);
    expect(result.failures).toEqual([{ requests: [requests[1]], cause: validation }]);
  });

  it('does not split a chunk on an error without a response (network): the SDK has retried it already', async () => {
    const requests = [put(1), put(2)];
    const network = Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
    ddb.on(BatchWriteItemCommand).rejects(network);

    const result = await writeItems(client, TABLE, requests, fakeTime(60_000));

    expect(result).toMatchObject({ written: [], unprocessed: requests, failures: [{ requests, cause: network }], attempts: 1 });
  });

  it('writes in chunks of 25', async () => {
    ddb.on(BatchWriteItemCommand).resolves({});
    const requests = Array.from({ length: 60 }, (_, i) => (i % 2 ? put(i) : del(i)));
    const result = await writeItems(client, TABLE, requests, fakeTime(60_000));
    expect(result.written).toHaveLength(60);
    expect(ddb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input.RequestItems?.[TABLE]?.length)).toEqual([25, 25, 10]);
  });

  it('always accounts for every request: written ∪ unprocessed = input, disjoint (property)', async () => {
    const behaviour = fc.oneof(
      fc.constant({ kind: 'ok' as const }),
      fc.constant({ kind: 'throttle' as const }),
      fc.constant({ kind: 'invalid' as const }),
      fc.array(fc.boolean(), { minLength: 25, maxLength: 25 }).map((mask) => ({ kind: 'partial' as const, mask })),
    );
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 70 }), fc.array(behaviour, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 3000 }), async (n, script, budget) => {
      ddb.reset();
      let call = 0;
      ddb.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, WriteRequest[]> }) => {
        const step = script[call++ % script.length] ?? { kind: 'ok' as const };
        const sent = input.RequestItems[TABLE] ?? [];
        if (step.kind === 'throttle') throw awsError('ThrottlingException', 400);
        if (step.kind === 'invalid') throw awsError('ValidationException', 400);
        if (step.kind === 'partial') return { UnprocessedItems: { [TABLE]: copies(sent.filter((_, i) => step.mask[i])) } };
        return {};
      });
      const requests = Array.from({ length: n }, (_, i) => (i % 3 ? put(i) : del(i)));
      const result = await writeItems(client, TABLE, requests, fakeTime(budget));
      const seen = [...result.written, ...result.unprocessed];
      expect(seen).toHaveLength(n);
      expect(new Set(seen)).toEqual(new Set(requests));
      for (const failure of result.failures) for (const r of failure.requests) expect(result.unprocessed).toContain(r);
    }), { numRuns: 150 });
  });
});
