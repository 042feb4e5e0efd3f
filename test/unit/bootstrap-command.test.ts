import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBootstrapCommand, type BootstrapCommandDeps, type BootstrapCommandOptions } from '../../cli/bootstrap/command';
import type { BootstrapPorts, CopyProgress } from '../../cli/bootstrap/ports';
import { CliError, EXIT } from '../../cli/errors';
import { main } from '../../cli/index';

/** `ddb-replicate bootstrap` over fake ports: dry run, confirmation, output, Ctrl-C, exit codes. */

const dir = mkdtempSync(join(tmpdir(), 'ddbrepl-bootstrap-'));
const configPath = join(dir, 'replication.config.json');
writeFileSync(configPath, JSON.stringify({
  replicationName: 'orders',
  source: {
    account: '111111111111', region: 'eu-west-1', tableName: 'orders',
    tableStreamArn: 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2026-11-01T00:00:00.000',
    keySchema: { partitionKey: { name: 'pk', type: 'S' } },
  },
  targets: [
    { name: 'dr', account: '222222222222', region: 'eu-central-1', tableName: 'orders-replica', externalId: 'orders-dr-7f3c1a' },
    { name: 'analytics', account: '333333333333', region: 'eu-west-1', tableName: 'orders-analytics', externalId: 'orders-an-91be02' },
  ],
}));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t) } } };
}

function fakePorts(onProgress?: (call: number) => void) {
  const calls: string[] = [];
  let mapping = 'Enabled';
  let progressCalls = 0;
  let stopped = false;
  const ports: BootstrapPorts = {
    names: { target: 'dr', pipe: 'ddbrepl-orders-dr', mapping: 'uuid-1', queue: 'q.fifo', sourceTable: 'orders', copy: 'Glue job j' },
    describePipe: async () => 'RUNNING',
    getMappingState: async () => mapping,
    disableMapping: async () => { calls.push('disable'); mapping = 'Disabled'; },
    enableMapping: async () => { calls.push('enable'); mapping = 'Enabled'; },
    startCopy: async () => { calls.push('startCopy'); return { id: 'jr_1', description: 'Glue job j run jr_1' }; },
    copyProgress: async (): Promise<CopyProgress> => {
      onProgress?.(progressCalls);
      progressCalls += 1;
      if (stopped) return { state: 'STOPPED', elapsedMs: 3000 };
      return progressCalls < 3 ? { state: 'RUNNING', elapsedMs: progressCalls * 1000 } : { state: 'SUCCEEDED', elapsedMs: 3000 };
    },
    cancelCopy: async () => { calls.push('cancel'); stopped = true; },
    queueDepth: async () => 0,
    tableItemCount: async () => 1000,
  };
  return { ports, calls };
}

const run = (opts: Partial<BootstrapCommandOptions>, deps: BootstrapCommandDeps, io = capture().io) =>
  runBootstrapCommand({ target: 'dr', config: configPath, ...opts }, io, { pollIntervalMs: 1, interactive: false, onInterrupt: () => () => undefined, ...deps });

test('--dry-run prints the plan on stdout and changes nothing', async () => {
  const fake = fakePorts();
  const { out, io } = capture();
  expect(await run({ dryRun: true }, { ports: async () => ({ ports: fake.ports, close: () => undefined }) }, io)).toBe(EXIT.ok);
  expect(fake.calls).toEqual([]);
  expect(out.stdout).toMatch(/^bootstrap plan for target dr \(dry run: nothing was changed\):\n {2}1\. pipe ddbrepl-orders-dr is RUNNING/);
  expect(out.stdout.split('\n').filter((l) => /^ {2}\d\. /.test(l))).toHaveLength(5);
});

test('--dry-run --json prints one JSON line', async () => {
  const { out, io } = capture();
  await run({ dryRun: true, json: true }, { ports: async () => ({ ports: fakePorts().ports, close: () => undefined }) }, io);
  const lines = out.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0])).toMatchObject({ target: 'dr', engine: 'scan', outcome: 'dry-run', plan: { pipeState: 'RUNNING', tableItemCount: 1000 } });
});

test('without --yes and without a terminal it refuses (exit 2) before changing anything', async () => {
  const fake = fakePorts();
  const error = await run({}, { ports: async () => ({ ports: fake.ports, close: () => undefined }) }).catch((e: unknown) => e) as CliError;
  expect(error).toBeInstanceOf(CliError);
  expect(error.exitCode).toBe(EXIT.badInput);
  expect(error.message).toMatch(/pass --yes/);
  expect(fake.calls).toEqual([]);
});

test('a "no" at the prompt changes nothing (exit 1)', async () => {
  const fake = fakePorts();
  const questions: string[] = [];
  const { out, io } = capture();
  const code = await run({}, { interactive: true, confirm: async (q) => { questions.push(q); return false; }, ports: async () => ({ ports: fake.ports, close: () => undefined }) }, io);
  expect(code).toBe(EXIT.failure);
  expect(questions[0]).toMatch(/^Bootstrap target dr: pause the apply \(event source mapping uuid-1\)/);
  expect(out.stderr).toContain('not started; nothing was changed');
  expect(fake.calls).toEqual([]);
});

test('--yes runs it: steps on stderr, the result on stdout, ports closed', async () => {
  const fake = fakePorts();
  let closed = false;
  const { out, io } = capture();
  expect(await run({ yes: true }, { ports: async () => ({ ports: fake.ports, close: () => { closed = true; } }) }, io)).toBe(EXIT.ok);
  expect(fake.calls).toEqual(['disable', 'startCopy', 'enable']);
  expect(out.stderr).toMatch(/\[pause\] disabling event source mapping uuid-1[\s\S]*\[copy\][\s\S]*\[resume\][\s\S]*\[drain\]/);
  expect(out.stdout).toMatch(/^bootstrap of target dr succeeded: copied in .* \(engine scan\); the queue drained in /);
  expect(closed).toBe(true);
});

test('first Ctrl-C stops the copy and re-enables the mapping (exit 130); a second one leaves at once', async () => {
  let interrupt: () => void = () => undefined;
  const forced: number[] = [];
  const fake = fakePorts((call) => { if (call === 1) { interrupt(); interrupt(); } });
  const { out, io } = capture();
  const error = await run({ yes: true }, {
    ports: async () => ({ ports: fake.ports, close: () => undefined }),
    onInterrupt: (handler) => { interrupt = handler; return () => { interrupt = () => undefined; }; },
    forceExit: (code) => forced.push(code),
  }, io).catch((e: unknown) => e) as CliError;
  expect(error.exitCode).toBe(EXIT.interrupted);
  expect(error.message).toMatch(/^bootstrap interrupted\. The event source mapping uuid-1 is enabled again;/);
  expect(fake.calls).toEqual(['disable', 'startCopy', 'cancel', 'enable']);
  expect(forced).toEqual([EXIT.interrupted]);
  expect(out.stderr).toContain('stopping: the copy is being stopped and the event source mapping re-enabled');
  expect(out.stderr).toContain('aws lambda get-event-source-mapping --uuid uuid-1');
});

test('a target not in the config is exit 2 and lists the configured ones', async () => {
  await expect(run({ target: 'nope' }, {})).rejects.toMatchObject({ exitCode: EXIT.badInput, message: 'target "nope" is not in the config; configured targets: dr, analytics' });
});

test('through main(): bad engine, bad segments, a missing config file are exit 2', async () => {
  const argv = (...args: string[]) => ['node', 'ddb-replicate', 'bootstrap', ...args];
  expect(await main(argv('--target', 'dr', '--engine', 'bogus'), capture().io)).toBe(EXIT.badInput);
  expect(await main(argv('--target', 'dr', '--segments', '0'), capture().io)).toBe(EXIT.badInput);
  const { out, io } = capture();
  expect(await main(argv('--target', 'dr', '--config', join(dir, 'missing.json'), '--dry-run'), io)).toBe(EXIT.badInput);
  expect(out.stderr).toMatch(/missing\.json does not exist/);
});

test('SIGTERM (kill, a CI timeout) stops like Ctrl-C: the copy is stopped and the mapping enabled again', async () => {
  const fake = fakePorts((call) => {
    if (call === 0) process.emit('SIGTERM');
  });
  // The real signal handlers (default onInterrupt); process.emit only calls listeners, it kills nothing.
  const error = await run({ yes: true }, { ports: async () => ({ ports: fake.ports, close: () => undefined }), onInterrupt: undefined }).catch((e: unknown) => e) as CliError;
  expect(error).toBeInstanceOf(CliError);
  expect(error.exitCode).toBe(EXIT.interrupted);
  expect(fake.calls).toEqual(['disable', 'startCopy', 'cancel', 'enable']);
  expect(process.listenerCount('SIGTERM')).toBe(0);
});
