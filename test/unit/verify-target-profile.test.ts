import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { operatorTargetTableClient } from '../../cli/aws/deployed-target';
import { buildProgram } from '../../cli/index';

/**
 * `verify --target-profile P` across accounts: the option reaches verify's options, and the target
 * table client signs with profile P's credentials, not the default chain's (cli/aws/deployed-target.ts).
 */
const ENV_KEYS = ['AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'] as const;
let dir: string;
const saved: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ddbrepl-profile-'));
  for (const key of ENV_KEYS) saved[key] = process.env[key];
  writeFileSync(join(dir, 'credentials'), '[dr-readonly]\naws_access_key_id = AKIDTARGETPROFILE\naws_secret_access_key = target-secret\n');
  writeFileSync(join(dir, 'config'), '');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
  process.env.AWS_CONFIG_FILE = join(dir, 'config');
  process.env.AWS_ACCESS_KEY_ID = 'AKIDDEFAULTCHAIN';
  process.env.AWS_SECRET_ACCESS_KEY = 'default-secret';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
});
afterEach(() => {
  for (const key of ENV_KEYS) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('verify --target-profile', () => {
  it('is a verify option commander hands to the action', () => {
    const sink = { write: () => true };
    const program = buildProgram({ io: { stdout: sink, stderr: sink }, exitCode: 0, debug: false });
    const verify = (program.commands as Command[]).find((c) => c.name() === 'verify');
    let opts: Record<string, unknown> | undefined;
    verify?.action(function record(this: Command) { opts = this.opts(); });
    program.parse(['node', 'ddb-replicate', 'verify', '--target', 'dr', '--target-profile', 'dr-readonly'], { from: 'node' });
    expect(opts).toMatchObject({ target: 'dr', targetProfile: 'dr-readonly' });
  });

  it('makes the target table client sign with that profile, in the target Region', async () => {
    const client = operatorTargetTableClient({ region: 'eu-central-1' }, 'dr-readonly');
    try {
      const credentials = await client.config.credentials();
      expect(credentials.accessKeyId).toBe('AKIDTARGETPROFILE');
      expect(await client.config.region()).toBe('eu-central-1');
    } finally {
      client.destroy();
    }
  });

  it('without it, uses the default credential chain', async () => {
    const client = operatorTargetTableClient({ region: 'eu-central-1' }, undefined);
    try {
      expect((await client.config.credentials()).accessKeyId).toBe('AKIDDEFAULTCHAIN');
    } finally {
      client.destroy();
    }
  });
});
