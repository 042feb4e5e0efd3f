import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadReplicationConfig } from '../../infra/config';
import { InvalidReplicationConfigError } from '../../schemas/replication-config';
import { testConfigInput } from './support';

const REPO_ROOT = resolve(__dirname, '..', '..');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ddbrepl-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadReplicationConfig', () => {
  test('reads and validates the file, applying the schema defaults', () => {
    writeFileSync(join(dir, 'replication.config.json'), JSON.stringify(testConfigInput()));
    const notices: string[] = [];
    const config = loadReplicationConfig(undefined, { cwd: dir, notice: (line) => notices.push(line) });
    expect(config.targets.map((t) => t.name)).toEqual(['dr', 'eu-analytics']);
    expect(config.targets[0].options.maxReceiveCount).toBe(5);
    expect(notices).toEqual([]);
  });

  test('without replication.config.json it synthesizes the example and says so in one line', () => {
    copyFileSync(join(REPO_ROOT, 'replication.config.example.json'), join(dir, 'replication.config.example.json'));
    const notices: string[] = [];
    const config = loadReplicationConfig('replication.config.json', { cwd: dir, notice: (line) => notices.push(line) });
    expect(config.replicationName).toBe('orders');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^replication\.config\.json not found; synthesizing replication\.config\.example\.json/);
  });

  test('a config path named explicitly must exist', () => {
    expect(() => loadReplicationConfig('other.json', { cwd: dir })).toThrow(new InvalidReplicationConfigError(`replication config ${join(dir, 'other.json')} does not exist (set by the CDK context "replicationConfig")`));
  });

  test('an invalid config fails with each field path and reason', () => {
    const input = testConfigInput();
    (input.targets as Record<string, unknown>[])[1].account = '12345';
    (input.source as Record<string, unknown>).tableStreamArn = 'arn:aws:dynamodb:eu-west-1:111111111111:table/other/stream/x';
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(input));
    expect(() => loadReplicationConfig(file)).toThrow(InvalidReplicationConfigError);
    expect(() => loadReplicationConfig(file)).toThrow(
      `${file} is invalid:\n  targets.1.account: a 12-digit AWS account id\n  source.tableStreamArn: must be a stream of table orders in eu-west-1/111111111111`,
    );
  });

  test('a file that is not JSON fails with the file name', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "replicationName": ');
    expect(() => loadReplicationConfig(file)).toThrow(new RegExp(`^replication config ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not readable JSON: `));
  });
});

test('the cdk entry fails synth on an invalid config: field paths on stderr, exit 1, no stack trace', () => {
  const input = testConfigInput();
  (input.targets as Record<string, unknown>[])[0].externalId = 'x';
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify(input));
  const result = spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['infra/app.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ replicationConfig: file }), CDK_OUTDIR: join(dir, 'cdk.out') },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(result.stderr).toBe(`${file} is invalid:\n  targets.0.externalId: an sts:ExternalId (2-1224 of letters, digits and +=,.@:/-)\n`);
  expect(result.status).toBe(1);
});
