import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * After SIGINT, SIGTERM or the loss of its parent, `ddb-replicate local` leaves no process and no
 * file behind: the CLI, DynamoDB Local (java and its supervisor), fauxqs — checked by pid — and
 * nothing in its temp directory (TMPDIR, which holds DynamoDB Local's work and JVM temp directory)
 * nor a JVM perf-data file. Exit codes: 130 for SIGINT, 143 for SIGTERM.
 */
jest.setTimeout(240_000);

const BIN = join(__dirname, '..', '..', 'bin', 'ddb-replicate.js');
const ARGS = [BIN, 'local', '--demo', '--timeout', '200'];

/** ppid of every process, from /proc (Linux). */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      out.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function descendants(root: number): number[] {
  const byParent = parents();
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of byParent) if (parent === pid) { found.push(child); walk(child); }
  };
  walk(root);
  return found;
}

const cmdline = (pid: number): string => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return ''; } };
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return !(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').startsWith('Z'); } catch { return false; } };

/** Polls until `check` holds (the processes here are not our children: no exit event to wait on). */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Waits until the CLI runs both emulators; returns every process of the run (the CLI first). */
async function emulatorsOf(cli: number): Promise<{ all: number[]; java: number }> {
  let all: number[] = [];
  await until('DynamoDB Local and fauxqs to start', () => {
    all = descendants(cli);
    return all.some((p) => cmdline(p).includes('DynamoDBLocal.jar')) && all.some((p) => cmdline(p).includes('fauxqs'));
  }, 90_000);
  return { all: [cli, ...all], java: all.find((p) => cmdline(p).startsWith('java'))! };
}

async function expectNothingLeft(run: { all: number[]; java: number }, tmp: string): Promise<void> {
  await until('every process of the run to end', () => run.all.every((p) => !alive(p)), 60_000);
  expect(run.all.filter(alive)).toEqual([]);
  // tsx keeps its compile cache (tsx-<uid>) in the temp folder for every later run: not the run's.
  expect(readdirSync(tmp).filter((name) => !/^tsx-\d+$/.test(name))).toEqual([]);
  expect(existsSync(join('/tmp', `hsperfdata_${userInfo().username}`, String(run.java)))).toBe(false);
}

const exited = (child: ChildProcess): Promise<number | null> => new Promise((resolve) => child.once('exit', (code) => resolve(code)));

describe.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('on %s', (signal, exitCode) => {
  it(`stops everything and exits ${exitCode}`, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'signals-'));
    try {
      const cli = spawn(process.execPath, ARGS, { env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore' });
      const code = exited(cli);
      const run = await emulatorsOf(cli.pid!);
      cli.kill(signal);
      expect(await code).toBe(exitCode);
      await expectNothingLeft(run, tmp);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

it('stops everything when its parent goes away (orphaned)', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'signals-'));
  const logDir = mkdtempSync(join(tmpdir(), 'signals-log-'));
  try {
    // A parent that starts the CLI (its output to a file, not to the parent) and stays until killed,
    // as `npm run demo` does; SIGKILL so that it cannot pass anything on.
    const log = join(logDir, 'cli.log');
    const parent = spawn(process.execPath, ['-e', `
      const out = require('node:fs').openSync(${JSON.stringify(log)}, 'w');
      const child = require('node:child_process').spawn(process.execPath, ${JSON.stringify(ARGS)}, { stdio: ['ignore', out, out] });
      process.stdout.write(String(child.pid) + '\\n');
      setInterval(() => undefined, 1000);
    `], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'] });
    const parentGone = exited(parent);
    const cliPid = await new Promise<number>((resolve) => parent.stdout.once('data', (data: Buffer) => resolve(Number(data.toString().trim()))));
    const run = await emulatorsOf(cliPid);
    parent.kill('SIGKILL');
    await parentGone;
    await expectNothingLeft(run, tmp);
    expect(readFileSync(log, 'utf8')).toContain('stopped (the parent process exited)');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
  }
});
