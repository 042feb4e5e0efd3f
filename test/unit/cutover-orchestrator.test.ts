import type { FreezeState } from '../../handlers/core/freeze';
import { CutoverStepError, runCutover, type CutoverEvent, type CutoverPorts, type CutoverRecord, type VerifySummary } from '../../cli/dr/cutover';
import type { TargetStatus } from '../../cli/operator/status';

/**
 * The cutover orchestrator (issue 17 §2) against fakes: the steps in order, what each one refuses,
 * and that an interrupted or failed cutover, run again, resumes where it stopped.
 */
const EQUAL: VerifySummary = { equal: true, mode: 'full', sourceItems: 3, checked: 3, missing: 0, extra: 0, different: 0 };

function status(over: Partial<TargetStatus> = {}): TargetStatus {
  return {
    target: 'dr', where: 'fake', pipe: { name: 'p', state: 'RUNNING' }, stream: null, mapping: { id: 'm', state: 'Enabled' },
    queue: { visible: 0, inFlight: 0, delayed: 0 }, dlq: { visible: 0, inFlight: 0, delayed: 0 }, queueRedrive: null,
    oldestMessageAgeSeconds: null, appliedLastMinute: 0, lagLastMinute: {}, warnings: [], unreachable: [], ...over,
  };
}

/** A fake world: a clock that sleep advances, a queue that drains by one per poll, a stored record. */
class Fakes implements CutoverPorts {
  readonly target = 'dr';
  readonly replication = 'orders';
  readonly settleMs = 10_000;
  clock = Date.parse('2026-12-01T01:00:00.000Z');
  queued = 2;
  streamSequences: (string | undefined)[] = [];
  caughtUp = true;
  verifyResults: VerifySummary[] = [EQUAL];
  mark: FreezeState = { frozen: false };
  mapping = 'Enabled';
  stored: CutoverRecord | undefined;
  statusOverride: Partial<TargetStatus> = {};
  calls: string[] = [];
  /** Throws from sleep once the clock passes this: an interrupt at a chosen moment. */
  interruptAt: number | undefined;

  async status() {
    this.calls.push('status');
    const s = status({ queue: { visible: this.queued, inFlight: 0, delayed: 0 }, mapping: { id: 'm', state: this.mapping }, ...this.statusOverride });
    if (this.queued > 0) this.queued -= 1;
    return s;
  }
  async lastStreamSequence() {
    return this.streamSequences.length > 1 ? this.streamSequences.shift() : this.streamSequences[0];
  }
  async caughtUpWithStream() {
    return { caughtUp: this.caughtUp, lastSequence: '100' };
  }
  async verify() {
    this.calls.push('verify');
    return this.verifyResults.length > 1 ? this.verifyResults.shift()! : this.verifyResults[0];
  }
  async readFreeze() {
    return this.mark;
  }
  async freeze(mark: { frozenAt: string; reason: 'cutover' | 'failover' }) {
    this.calls.push('freeze');
    this.mark = { frozen: true, ...mark };
  }
  async disableApply() {
    this.calls.push('disableApply');
    this.mapping = 'Disabled';
    return this.mapping;
  }
  loadRecord() {
    return this.stored === undefined ? undefined : structuredClone(this.stored);
  }
  saveRecord(record: CutoverRecord) {
    this.stored = structuredClone(record);
  }
  now() {
    return this.clock;
  }
  async sleep(ms: number) {
    this.clock += ms;
    if (this.interruptAt !== undefined && this.clock >= this.interruptAt) {
      this.interruptAt = undefined;
      throw new Error('interrupted');
    }
  }
}

const run = (f: Fakes, opts: Partial<Parameters<typeof runCutover>[1]> = {}) => {
  const events: CutoverEvent[] = [];
  return { events, done: runCutover(f, { writesStopped: true, pollMs: 1000, onEvent: (e) => events.push(e), ...opts }) };
};

test('the steps in order: check, writes stopped, drain until the queue is empty twice and the stream is applied, verify, freeze (mark, then mapping, then settle)', async () => {
  const f = new Fakes();
  const { events, done } = run(f);
  const record = await done;
  expect(events.filter((e) => e.status === 'done').map((e) => e.step)).toEqual(['check', 'writes-stopped', 'drain', 'verify', 'freeze']);
  // Queue 2 → 1 → 0 → 0: the drain needs two empty polls.
  expect(events.filter((e) => e.step === 'drain' && e.status === 'progress').map((e) => e.message)).toEqual([
    'queue 1', 'queue 0, last stream record applied', 'queue 0, last stream record applied',
  ]);
  expect(f.calls.filter((c) => c !== 'status')).toEqual(['verify', 'freeze', 'disableApply']);
  expect(f.mark).toEqual({ frozen: true, frozenAt: record.steps.freeze!.frozenAt, reason: 'cutover' });
  // The freeze waits the apply's cache TTL + timeout after the mark before it reports done.
  expect(Date.parse(record.steps.freeze!.at) - Date.parse(record.steps.freeze!.frozenAt)).toBeGreaterThanOrEqual(f.settleMs);
  expect(record).toEqual(expect.objectContaining({ kind: 'cutover', replication: 'orders', target: 'dr', completedAt: expect.any(String) }));
  expect(record.steps['writes-stopped']).toEqual({ at: expect.any(String), how: 'confirmed' });
  expect(f.stored).toEqual(record);
});

test.each([
  [{ pipe: { name: 'p', state: 'STOPPED' } }, 'pipe p is STOPPED, not RUNNING'],
  [{ mapping: { id: 'm', state: 'Disabled' } }, 'the apply mapping is Disabled: nothing would drain'],
  [{ dlq: { visible: 3, inFlight: 0, delayed: 0 } }, 'the DLQ holds 3 messages: replay them first'],
  [{ lagLastMinute: { p99Ms: 90_000 } }, 'replication lag p99 is 90000 ms, over 60000 ms'],
  [{ queue: null }, 'the queue could not be read'],
] as [Partial<TargetStatus>, string][])('check refuses %j, changing nothing', async (over, message) => {
  const f = new Fakes();
  f.statusOverride = over;
  if (over.mapping) f.mapping = over.mapping.state;
  await expect(run(f).done).rejects.toThrow(new CutoverStepError('check', message).message.slice(0, 30));
  await expect(run(f).done).rejects.toThrow(message);
  expect(f.calls).not.toContain('freeze');
  expect(f.stored).toBeUndefined();
});

test('--allow-dlq lets a non-empty DLQ through', async () => {
  const f = new Fakes();
  f.statusOverride = { dlq: { visible: 3, inFlight: 0, delayed: 0 } };
  const record = await run(f, { allowDlq: true }).done;
  expect(record.steps.check!.dlq).toBe(3);
});

test('without --writes-stopped: waits until the stream shows no new record for the quiet period', async () => {
  const f = new Fakes();
  // Writes go on for three polls, then stop at sequence 13.
  f.streamSequences = ['10', '11', '12', '13'];
  const start = f.clock;
  const { events, done } = run(f, { writesStopped: false, quietMs: 5000 });
  const record = await done;
  expect(record.steps['writes-stopped']).toEqual({ at: expect.any(String), how: 'quiet-stream', lastSequence: '13' });
  // Three changing polls (1 s each), then five quiet seconds.
  expect(Date.parse(record.steps['writes-stopped']!.at) - start).toBe(8000);
  expect(events.some((e) => e.step === 'writes-stopped' && e.message === 'quiet for 5 s of 5 s')).toBe(true);
});

test('the drain waits for the apply to catch up with the last stream record, not only for an empty queue', async () => {
  const f = new Fakes();
  f.queued = 0;
  f.caughtUp = false;
  f.interruptAt = f.clock + 3000;
  await expect(run(f).done).rejects.toThrow('interrupted');
  expect(f.stored!.steps.drain).toBeUndefined();
  f.caughtUp = true;
  expect((await run(f).done).steps.drain).toBeDefined();
});

test('a drain that never finishes stops with a timeout; nothing frozen', async () => {
  const f = new Fakes();
  f.queued = 1_000_000;
  await expect(run(f, { drainTimeoutMs: 10_000 }).done).rejects.toThrow(/cutover stopped at drain: the queue has not drained in 10 s/);
  expect(f.mark.frozen).toBe(false);
});

test('verify differs: stops before the freeze; after a repair, the re-run skips the steps done and freezes', async () => {
  const f = new Fakes();
  f.verifyResults = [{ ...EQUAL, equal: false, missing: 2 }, EQUAL];
  await expect(run(f).done).rejects.toThrow('cutover stopped at verify: the target differs from the source (2 missing, 0 extra, 0 different); nothing was frozen');
  expect(f.mark.frozen).toBe(false);
  expect(f.mapping).toBe('Enabled');
  expect(Object.keys(f.stored!.steps)).toEqual(['check', 'writes-stopped', 'drain']);

  const again = run(f);
  const record = await again.done;
  expect(again.events.filter((e) => e.status === 'skipped').map((e) => e.step)).toEqual(['check', 'writes-stopped', 'drain']);
  expect(record.steps.verify!.equal).toBe(true);
  expect(record.startedAt).toBe(f.stored!.startedAt);
});

test('verify interrupted (Ctrl-C): no verdict, nothing frozen, the step not recorded', async () => {
  const f = new Fakes();
  f.verifyResults = [{ ...EQUAL, equal: false, interrupted: true }];
  await expect(run(f).done).rejects.toThrow('interrupted during verify; run cutover again to verify and freeze');
  expect(f.mark.frozen).toBe(false);
  expect(f.stored!.steps.verify).toBeUndefined();
});

test('interrupted during the freeze\'s settle wait: the re-run keeps the first freeze time and does not mark twice', async () => {
  const f = new Fakes();
  f.interruptAt = f.clock + 2000 + 5000; // after the drain's polls, inside the 10 s settle
  await expect(run(f).done).rejects.toThrow('interrupted');
  expect(f.mark.frozen).toBe(true);
  expect(f.stored!.steps.freeze).toBeUndefined();
  const frozenAt = (f.mark as { frozenAt: string }).frozenAt;

  const record = await run(f).done;
  expect(record.steps.freeze!.frozenAt).toBe(frozenAt);
  expect(f.calls.filter((c) => c === 'freeze')).toHaveLength(1);
  expect(Date.parse(record.steps.freeze!.at) - Date.parse(frozenAt)).toBeGreaterThanOrEqual(f.settleMs);
});

test('a completed cutover run again changes nothing', async () => {
  const f = new Fakes();
  const first = await run(f).done;
  f.calls = [];
  const again = run(f);
  expect(await again.done).toEqual(first);
  expect(f.calls).toEqual([]);
  expect(again.events.every((e) => e.status === 'skipped')).toBe(true);
});
