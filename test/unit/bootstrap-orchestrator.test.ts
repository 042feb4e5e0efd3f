import { BootstrapAbortedError, BootstrapError, runBootstrap, type BootstrapEvent } from '../../cli/bootstrap/orchestrator';
import type { BootstrapPorts, CopyHandle, CopyProgress } from '../../cli/bootstrap/ports';

/** The orchestrator over fake ports: order of operations, failure and abort handling, dry run. */

interface FakeOptions {
  pipeState?: string;
  /** copyProgress answers, in order; the last one repeats. */
  progress?: (CopyProgress | Error)[];
  queueDepths?: number[];
  itemCount?: number;
  failEnable?: number;
  onCopyProgress?: (call: number) => void;
}

function fakePorts(o: FakeOptions = {}) {
  const calls: string[] = [];
  let mapping = 'Enabled';
  let pendingMapping: string | undefined;
  let progressCall = 0;
  let cancelled = false;
  const depths = [...(o.queueDepths ?? [3, 1, 0])];
  let enableFailures = o.failEnable ?? 0;
  const handle: CopyHandle = { id: 'run-1', description: 'Glue job j (engine scan)' };
  const ports: BootstrapPorts = {
    names: { target: 'dr', pipe: 'ddbrepl-orders-dr', mapping: 'uuid-1', queue: 'ddbrepl-orders-dr.fifo', sourceTable: 'orders', copy: 'Glue job j' },
    describePipe: async () => { calls.push('describePipe'); return o.pipeState ?? 'RUNNING'; },
    getMappingState: async () => {
      calls.push('getMappingState');
      // A state change takes one poll, as Lambda's Disabling/Enabling do.
      if (pendingMapping !== undefined) {
        const next = pendingMapping;
        pendingMapping = undefined;
        const transitional = next === 'Disabled' ? 'Disabling' : 'Enabling';
        mapping = next;
        return transitional;
      }
      return mapping;
    },
    disableMapping: async () => { calls.push('disableMapping'); pendingMapping = 'Disabled'; },
    enableMapping: async () => {
      calls.push('enableMapping');
      if (enableFailures > 0) {
        enableFailures -= 1;
        throw new Error('AccessDeniedException: lambda:UpdateEventSourceMapping');
      }
      pendingMapping = 'Enabled';
    },
    startCopy: async () => { calls.push('startCopy'); return handle; },
    copyProgress: async () => {
      calls.push('copyProgress');
      o.onCopyProgress?.(progressCall);
      const answers = o.progress ?? [{ state: 'RUNNING', itemsCopied: 50, elapsedMs: 1000 }, { state: 'SUCCEEDED', itemsCopied: 100, elapsedMs: 2000 }];
      if (cancelled) return { state: 'STOPPED', itemsCopied: 60, elapsedMs: 3000 };
      const answer = answers[Math.min(progressCall++, answers.length - 1)];
      if (answer instanceof Error) throw answer;
      return answer;
    },
    cancelCopy: async () => { calls.push('cancelCopy'); cancelled = true; },
    queueDepth: async () => { calls.push('queueDepth'); return depths.length > 1 ? depths.shift()! : depths[0]; },
    tableItemCount: async () => { calls.push('tableItemCount'); return o.itemCount ?? 200; },
  };
  return { ports, calls, mappingState: () => mapping };
}

let clock = 0;
const fast = { pollIntervalMs: 1000, sleep: async (ms: number) => { clock += ms; }, now: () => clock };
const mutating = ['disableMapping', 'enableMapping', 'startCopy', 'cancelCopy'];

beforeEach(() => {
  clock = 0;
});

test('pauses, copies, resumes, then waits for the queue to drain — in that order', async () => {
  const fake = fakePorts();
  const events: BootstrapEvent[] = [];
  const summary = await runBootstrap({ ports: fake.ports, onEvent: (e) => events.push(e), ...fast });

  const order = fake.calls.filter((c) => mutating.includes(c) || c === 'queueDepth');
  expect(order).toEqual(['queueDepth', 'disableMapping', 'startCopy', 'enableMapping', 'queueDepth', 'queueDepth']);
  // The copy starts only once the mapping reports Disabled; the drain waits start only once it reports Enabled.
  const startCopy = fake.calls.indexOf('startCopy');
  expect(fake.calls.slice(fake.calls.indexOf('disableMapping'), startCopy).filter((c) => c === 'getMappingState')).toHaveLength(2);
  expect(fake.mappingState()).toBe('Enabled');
  expect(summary).toMatchObject({ outcome: 'succeeded', itemsCopied: 100, queueDepthAtEnd: 0 });
  expect(events.filter((e) => e.kind === 'step').map((e) => e.kind === 'step' && e.step)).toEqual(['check', 'pause', 'copy', 'resume', 'drain']);
  // Rate and ETA from the table's approximate ItemCount (200): 50 items in 1 s → 150 left at 50/s.
  expect(events.find((e) => e.kind === 'copy-progress')).toEqual({ kind: 'copy-progress', state: 'RUNNING', elapsedMs: 1000, itemsCopied: 50, rate: 50, etaSeconds: 3, tableItemCount: 200 });
  expect(events.filter((e) => e.kind === 'drain-progress').map((e) => e.kind === 'drain-progress' && e.queueDepth)).toEqual([1, 0]);
});

test('a pipe that is not RUNNING stops everything before anything changes', async () => {
  const fake = fakePorts({ pipeState: 'STOPPED' });
  const error = await runBootstrap({ ports: fake.ports, ...fast }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BootstrapError);
  expect((error as BootstrapError).message).toMatch(/^pipe ddbrepl-orders-dr is STOPPED, not RUNNING: .* Nothing was changed\.$/);
  expect((error as BootstrapError).state).toEqual({ mapping: 'enabled', copy: 'not-started' });
  expect(fake.calls.filter((c) => mutating.includes(c))).toEqual([]);
});

test('--dry-run reports the plan and calls no mutating port', async () => {
  const fake = fakePorts();
  const summary = await runBootstrap({ ports: fake.ports, dryRun: true, ...fast });
  expect(fake.calls.filter((c) => mutating.includes(c))).toEqual([]);
  expect(summary.outcome).toBe('dry-run');
  expect(summary.plan).toMatchObject({ pipeState: 'RUNNING', mappingState: 'Enabled', queueDepth: 3, tableItemCount: 200 });
  expect(summary.plan.steps).toHaveLength(5);
  expect(summary.plan.steps[1]).toMatch(/^disable event source mapping uuid-1/);
});

test('a failed copy re-enables the mapping and the error says what state things are in', async () => {
  const fake = fakePorts({ progress: [{ state: 'RUNNING', itemsCopied: 10, elapsedMs: 500 }, { state: 'FAILED', itemsCopied: 40, elapsedMs: 900, message: 'WriteFailedError: throttled' }] });
  const error = await runBootstrap({ ports: fake.ports, ...fast }).catch((e: unknown) => e) as BootstrapError;
  expect(error).toBeInstanceOf(BootstrapError);
  expect(error).not.toBeInstanceOf(BootstrapAbortedError);
  expect(fake.calls.filter((c) => mutating.includes(c))).toEqual(['disableMapping', 'startCopy', 'enableMapping']);
  expect(fake.mappingState()).toBe('Enabled');
  expect(error.state).toEqual({ mapping: 'enabled', copy: 'failed', itemsCopied: 40 });
  expect(error.message).toBe(
    'bootstrap failed: the copy (Glue job j (engine scan)) failed: WriteFailedError: throttled. ' +
    'The event source mapping uuid-1 is enabled again; buffered changes are being applied from queue ddbrepl-orders-dr.fifo. ' +
    'The snapshot copy (Glue job j (engine scan)) failed after 40 items: WriteFailedError: throttled. ' +
    'Re-run bootstrap to copy again: it is idempotent, because the copy writes full-item puts and every change made since replays after it.',
  );
});

test('a progress poll that throws stops the still-running copy, then re-enables the mapping', async () => {
  const fake = fakePorts({ progress: [{ state: 'RUNNING', itemsCopied: 10, elapsedMs: 500 }, new Error('ThrottlingException: Rate exceeded')] });
  const error = await runBootstrap({ ports: fake.ports, ...fast }).catch((e: unknown) => e) as BootstrapError;
  expect(fake.calls.filter((c) => mutating.includes(c))).toEqual(['disableMapping', 'startCopy', 'cancelCopy', 'enableMapping']);
  expect(error.state).toEqual({ mapping: 'enabled', copy: 'stopped', itemsCopied: 60 });
  expect(error.message).toMatch(/^bootstrap failed: ThrottlingException: Rate exceeded\. The event source mapping uuid-1 is enabled again; .* The snapshot copy stopped after 60 items\. Re-run bootstrap/);
});

test('an abort (Ctrl-C) during the copy stops it, re-enables the mapping, and says so', async () => {
  const controller = new AbortController();
  const fake = fakePorts({
    progress: [{ state: 'RUNNING', itemsCopied: 10, elapsedMs: 500 }],
    onCopyProgress: (call) => { if (call === 2) controller.abort(); },
  });
  const error = await runBootstrap({ ports: fake.ports, signal: controller.signal, ...fast }).catch((e: unknown) => e) as BootstrapError;
  expect(error).toBeInstanceOf(BootstrapAbortedError);
  expect(fake.calls.filter((c) => mutating.includes(c))).toEqual(['disableMapping', 'startCopy', 'cancelCopy', 'enableMapping']);
  expect(fake.mappingState()).toBe('Enabled');
  expect(error.state).toEqual({ mapping: 'enabled', copy: 'stopped', itemsCopied: 60 });
  expect(error.message).toBe(
    'bootstrap interrupted. The event source mapping uuid-1 is enabled again; buffered changes are being applied from queue ddbrepl-orders-dr.fifo. ' +
    'The snapshot copy stopped after 60 items. ' +
    'Re-run bootstrap to copy again: it is idempotent, because the copy writes full-item puts and every change made since replays after it.',
  );
});

test('an abort while the mapping is being disabled re-enables it; the copy never starts', async () => {
  const controller = new AbortController();
  const fake = fakePorts();
  const ports: BootstrapPorts = { ...fake.ports, disableMapping: async () => { await fake.ports.disableMapping(); controller.abort(); } };
  const error = await runBootstrap({ ports, signal: controller.signal, ...fast }).catch((e: unknown) => e) as BootstrapError;
  expect(error).toBeInstanceOf(BootstrapAbortedError);
  expect(fake.calls.filter((c) => mutating.includes(c))).toEqual(['disableMapping', 'enableMapping']);
  expect(error.state).toEqual({ mapping: 'enabled', copy: 'not-started' });
  expect(error.message).toMatch(/The snapshot copy had not started\./);
});

test('if the mapping cannot be enabled again, the error says so and how to fix it', async () => {
  const fake = fakePorts({ progress: [{ state: 'FAILED', itemsCopied: 0, elapsedMs: 100, message: 'boom' }], failEnable: 5 });
  const error = await runBootstrap({ ports: fake.ports, ...fast }).catch((e: unknown) => e) as BootstrapError;
  expect(error.state).toEqual({ mapping: 'disabled', copy: 'failed', itemsCopied: 0 });
  expect(error.message).toContain('The event source mapping uuid-1 could NOT be enabled again (AccessDeniedException: lambda:UpdateEventSourceMapping): changes keep buffering');
  expect(error.message).toContain('aws lambda update-event-source-mapping --uuid uuid-1 --enabled');
});

test('an abort during the drain wait ends it early: the bootstrap has succeeded, the queue is still draining', async () => {
  const controller = new AbortController();
  const fake = fakePorts({ queueDepths: [5, 4, 3, 2, 1, 0] });
  const summary = await runBootstrap({
    ports: fake.ports, signal: controller.signal, ...fast,
    onEvent: (e) => { if (e.kind === 'drain-progress' && e.queueDepth === 3) controller.abort(); },
  });
  expect(summary).toMatchObject({ outcome: 'succeeded', itemsCopied: 100, queueDepthAtEnd: 3 });
  expect(summary.drainSeconds).toBeUndefined();
  expect(fake.mappingState()).toBe('Enabled');
});
