import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli as run } from '../support/run-cli';

/** Runs the CLI in-process. Every case here fails before any emulator starts (no I/O beyond tmp files). */

describe('ddb-replicate', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-main-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints help and the version with exit 0', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: ddb-replicate');
    expect(help.stdout).toContain('local');
    const localHelp = await run('local', '--help');
    expect(localHelp.code).toBe(0);
    expect(localHelp.stdout).toContain('--key-schema <spec>');
    expect(localHelp.stdout).toContain('TRIM_HORIZON');
    const version = await run('--version');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the version as the CLI reads it, from package.json
    expect(version).toEqual({ code: 0, stdout: `${(require('../../package.json') as { version: string }).version}\n`, stderr: '' });
  });

  it.each([
    [['nope'], /unknown command 'nope'/],
    [['local', '--nope'], /unknown option '--nope'/],
    [['local', '--seed', 'x', '--demo'], /--seed <n>' argument 'x' is invalid/],
    [['local', '--timeout', '0', '--demo'], /must be a positive number of seconds/],
    [['local'], /--key-schema is required/],
    [['local', '--key-schema', 'pk:Q'], /types are S, N or B/],
    [['local', '--key-schema', 'pk:S', '--bootstrap', '--ops', '/nonexistent/ops.jsonl'], /ops\.jsonl: cannot read file \(ENOENT\)/],
    [['local', '--demo', '--key-schema', 'pk:S'], /--demo generates its own data; drop --key-schema/],
    [['local', '--demo', '--faults', 'apply-throttle=2'], /rate of apply-throttle must be a number from 0 to 1/],
    [['local', '--demo', '--faults', 'meteor=0.1'], /unknown fault "meteor"/],
  ])('exits 2 on bad arguments: %j', async (args, message) => {
    const result = await run(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
    expect(result.stdout).toBe('');
  });

  it('exits 2 naming file and line for a malformed ops line', async () => {
    const ops = join(dir, 'ops.jsonl');
    writeFileSync(ops, '{"op":"delete","key":{"pk":{"S":"a"}}}\n{"op":"delete","key":{"pk":{"N":"1"}}}\n');
    const result = await run('local', '--key-schema', 'pk:S', '--ops', ops);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`error: ${ops}:2: key attribute "pk" must be of type S, got N\n`);
  });

  it('prints the stack with --debug', async () => {
    const result = await run('local', '--debug', '--key-schema', 'pk:S', '--seed-items', join(dir, 'absent.jsonl'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read file \(ENOENT\)/);
    expect(result.stderr).toMatch(/\n\s+at /);
  });
});
