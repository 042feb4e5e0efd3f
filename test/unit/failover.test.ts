import { canonicalKey } from '../../handlers/core/attribute-value';
import type { FreezeState } from '../../handlers/core/freeze';
import type { ReplicationState } from '../../handlers/core/replication-state';
import { runFailover, runReconcile, type FailoverPorts, type FailoverRecord } from '../../cli/dr/failover';
import type { AttributeMapWire } from '../../schemas/attribute-value';

/**
 * Unplanned failover (issue 17 §3) against fakes: freeze first, each part attempted and recorded
 * even when the source side is down; run again later, it completes the freeze at the first
 * failover point; --reconcile names exactly the keys whose item the target lacks.
 */
class Fakes implements FailoverPorts {
  readonly target = 'dr';
  readonly replication = 'orders';
  sourceDown = false;
  clock = Date.parse('2026-12-01T01:00:00.000Z');
  mark: FreezeState = { frozen: false };
  marks = 0;
  mapping = 'Enabled';
  stored: FailoverRecord | undefined;
  /** The target account's side: the replication state table. */
  targetDown = false;
  state: ReplicationState = {
    lastApplied: { approximateCreationDateTime: '2026-12-01T00:59:58.000Z', sequenceNumber: '4200000000000000000017', eventId: 'e-17', appliedAt: '2026-12-01T00:59:59.120Z' },
    lastSampledVerify: { at: '2026-12-01T00:50:00.000Z', sampled: 200, mismatches: 1, repaired: 1 },
  };
  private check(): void {
    if (this.sourceDown) throw new Error('connect ETIMEDOUT');
  }
  async readFreeze() {
    this.check();
    return this.mark;
  }
  async freeze(mark: { frozenAt: string; reason: 'cutover' | 'failover' }) {
    this.check();
    this.marks += 1;
    this.mark = { frozen: true, ...mark };
  }
  async disableApply() {
    this.check();
    this.mapping = 'Disabled';
    return this.mapping;
  }
  async bufferedDepths() {
    this.check();
    return { queue: 7, dlq: 1 };
  }
  async replicationState() {
    if (this.targetDown) throw new Error('AccessDeniedException: dynamodb:GetItem');
    return this.state;
  }
  loadRecord() {
    return this.stored;
  }
  saveRecord(record: FailoverRecord) {
    this.stored = structuredClone(record);
  }
  now() {
    return this.clock;
  }
}

test('source reachable: the mark first, then the mapping, then what is still buffered; recorded', async () => {
  const f = new Fakes();
  const record = await runFailover(f);
  expect(record).toEqual({
    v: 1, kind: 'failover', replication: 'orders', target: 'dr', failoverAt: '2026-12-01T01:00:00.000Z', updatedAt: '2026-12-01T01:00:00.000Z',
    mark: 'set', mapping: 'Disabled', buffered: { queue: 7, dlq: 1 },
    lastApplied: f.state.lastApplied, lastSampledVerify: f.state.lastSampledVerify,
  });
  expect(f.mark).toEqual({ frozen: true, frozenAt: '2026-12-01T01:00:00.000Z', reason: 'failover' });
  expect(f.stored).toEqual(record);
});

test('source down: recorded as unreachable, not fatal; run again when it is back, the freeze completes at the first failover point', async () => {
  const f = new Fakes();
  f.sourceDown = true;
  const first = await runFailover(f);
  expect(first).toMatchObject({ mark: 'unreachable: connect ETIMEDOUT', mapping: 'unreachable: connect ETIMEDOUT', buffered: { unreachable: 'connect ETIMEDOUT' } });
  expect(f.stored).toEqual(first);

  f.sourceDown = false;
  f.clock += 3_600_000;
  const second = await runFailover(f);
  expect(second).toMatchObject({ failoverAt: first.failoverAt, updatedAt: '2026-12-01T02:00:00.000Z', mark: 'set', mapping: 'Disabled', buffered: { queue: 7, dlq: 1 } });
  expect(f.mark).toEqual({ frozen: true, frozenAt: first.failoverAt, reason: 'failover' });

  await runFailover(f);
  expect(f.marks).toBe(1); // an existing mark is kept
});

test('source down: the last applied change and the last sampled verify still come from the target account', async () => {
  const f = new Fakes();
  f.sourceDown = true;
  const record = await runFailover(f);
  expect(record).toMatchObject({ mark: 'unreachable: connect ETIMEDOUT', lastApplied: f.state.lastApplied, lastSampledVerify: f.state.lastSampledVerify });
  expect(f.stored).toEqual(record);
});

test('nothing recorded yet: null for each, not an error', async () => {
  const f = new Fakes();
  f.state = {};
  expect(await runFailover(f)).toMatchObject({ lastApplied: null, lastSampledVerify: null });
});

test('state table unreachable: recorded with the reason; a re-run that cannot read it keeps what an earlier run read', async () => {
  const f = new Fakes();
  f.targetDown = true;
  expect(await runFailover(f)).toMatchObject({
    mark: 'set',
    lastApplied: { unreachable: 'AccessDeniedException: dynamodb:GetItem' },
    lastSampledVerify: { unreachable: 'AccessDeniedException: dynamodb:GetItem' },
  });
  f.targetDown = false;
  const read = await runFailover(f);
  expect(read.lastApplied).toEqual(f.state.lastApplied);
  f.targetDown = true;
  f.clock += 60_000;
  const again = await runFailover(f);
  expect(again).toMatchObject({ lastApplied: f.state.lastApplied, lastSampledVerify: f.state.lastSampledVerify, updatedAt: '2026-12-01T01:01:00.000Z' });
});

describe('reconcile', () => {
  const k = (pk: string): AttributeMapWire => ({ pk: { S: pk } });
  const item = (pk: string, v: string): AttributeMapWire => ({ pk: { S: pk }, v: { N: v } });
  const at = (iso: string) => Date.parse(iso);

  test('names exactly the keys whose item the target lacks, with the source\'s last change', async () => {
    const source = new Map<string, AttributeMapWire>([['a', item('a', '1')], ['b', item('b', '1')], ['d', item('d', '2')], ['e', item('e', '3')]]);
    const target = new Map<string, AttributeMapWire>([['a', item('a', '1')], ['c', item('c', '1')], ['d', item('d', '1')], ['e', item('e', '3')]]);
    const stream = [
      { sequence: '100', keys: k('a'), at: at('2026-12-01T00:59:00Z') }, // applied: equal
      { sequence: '101', keys: k('b'), at: at('2026-12-01T00:59:30Z') }, // never arrived
      { sequence: '102', keys: k('c'), at: at('2026-12-01T00:59:40Z') }, // deleted on the source, still in the target
      { sequence: '103', keys: k('d'), at: at('2026-12-01T00:59:50Z') },
      { sequence: '9000000000000000000000000000000104', keys: k('d'), at: at('2026-12-01T01:05:00Z') }, // changed after the failover
      { sequence: '105', keys: k('e'), at: at('2026-12-01T00:58:00Z') },
      { sequence: '106', keys: k('f'), at: at('2026-12-01T00:58:00Z') }, // gone on both sides
    ];
    const get = (m: Map<string, AttributeMapWire>) => async (keys: AttributeMapWire) => m.get((keys.pk as { S: string }).S);
    const result = await runReconcile({
      readStream: async (onRecord) => stream.forEach(onRecord),
      sourceItem: get(source),
      targetItem: get(target),
    }, '2026-12-01T01:00:00.000Z');
    expect(result.changedKeys).toBe(6);
    expect(result.entries).toEqual([
      { keys: k('b'), kind: 'missing', lastSequence: '101', lastAt: '2026-12-01T00:59:30.000Z', afterFailover: false },
      { keys: k('c'), kind: 'deleted', lastSequence: '102', lastAt: '2026-12-01T00:59:40.000Z', afterFailover: false },
      { keys: k('d'), kind: 'different', lastSequence: '9000000000000000000000000000000104', lastAt: '2026-12-01T01:05:00.000Z', afterFailover: true },
    ]);
    expect(new Set(result.entries.map((e) => canonicalKey(e.keys))).size).toBe(3);
  });
});
