import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { runCli } from '../support/run-cli';

/**
 * `failover` with the source account dark and only the target account's credentials
 * (`--target-profile`): the source-side parts are recorded as unreachable, and the last applied
 * change and the last sampled verify still come from the target's state table — read in the target
 * Region, signed with the target profile (docs/disaster-recovery.md).
 */
const cfn = mockClient(CloudFormationClient);
const ddb = mockClient(DynamoDBClient);
const CONFIG = resolve(__dirname, '../../replication.config.example.json');
const ENV_KEYS = ['AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION'] as const;
const saved: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};
let dir: string;
let cwd: string;

beforeEach(() => {
  cfn.reset();
  ddb.reset();
  dir = mkdtempSync(join(tmpdir(), 'ddbrepl-failover-'));
  for (const key of ENV_KEYS) saved[key] = process.env[key];
  writeFileSync(join(dir, 'credentials'), '[dr-admin]\naws_access_key_id = AKIDTARGETONLY\naws_secret_access_key = target-secret\n');
  writeFileSync(join(dir, 'config'), '');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
  process.env.AWS_CONFIG_FILE = join(dir, 'config');
  process.env.AWS_ACCESS_KEY_ID = 'AKIDSOURCE';
  process.env.AWS_SECRET_ACCESS_KEY = 'source-secret';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  cwd = process.cwd();
  process.chdir(dir); // the record goes to ./.ddb-replicate
});

afterEach(() => {
  process.chdir(cwd);
  for (const key of ENV_KEYS) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
  rmSync(dir, { recursive: true, force: true });
});

const state = {
  lastApplied: { kind: { S: 'lastApplied' }, approximateCreationDateTime: { S: '2026-12-01T00:59:58.000Z' }, sequenceNumber: { S: '4200000000000000000017' }, sequenceOrder: { S: '4200000000000000000017'.padStart(40, '0') }, eventId: { S: 'e-17' }, appliedAt: { S: '2026-12-01T00:59:59.120Z' } },
  lastSampledVerify: { kind: { S: 'lastSampledVerify' }, at: { S: '2026-12-01T00:50:00.000Z' }, sampled: { N: '200' }, mismatches: { N: '1' }, repaired: { N: '0' } },
};

test('source account unreachable: the report still names the last applied change and the last sampled verify, read with the target profile', async () => {
  cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:443'), { name: 'TimeoutError' }));
  const reads: { table?: string; kind?: string; region: string; accessKeyId: string; consistent?: boolean }[] = [];
  ddb.on(GetItemCommand).callsFake(async (input: { TableName: string; Key: { kind: { S: 'lastApplied' | 'lastSampledVerify' } }; ConsistentRead?: boolean }, getClient: () => DynamoDBClient) => {
    const client = getClient();
    reads.push({ table: input.TableName, kind: input.Key.kind?.S, region: await client.config.region(), accessKeyId: (await client.config.credentials()).accessKeyId, consistent: input.ConsistentRead });
    return { Item: state[input.Key.kind.S] };
  });

  const run = await runCli('failover', '--target', 'dr', '--config', CONFIG, '--target-profile', 'dr-admin', '--json');

  expect(run.code).toBe(0);
  const record = JSON.parse(run.stdout) as Record<string, unknown>;
  expect(record).toMatchObject({
    target: 'dr', replication: 'orders',
    mark: expect.stringMatching(/^unreachable: /), mapping: expect.stringMatching(/^unreachable: /), buffered: { unreachable: expect.any(String) },
    lastApplied: { approximateCreationDateTime: '2026-12-01T00:59:58.000Z', sequenceNumber: '4200000000000000000017', eventId: 'e-17', appliedAt: '2026-12-01T00:59:59.120Z' },
    lastSampledVerify: { at: '2026-12-01T00:50:00.000Z', sampled: 200, mismatches: 1, repaired: 0 },
  });
  expect(reads.map((r) => r.kind).sort()).toEqual(['lastApplied', 'lastSampledVerify']);
  for (const read of reads) expect(read).toEqual({ table: 'ddbrepl-orders-dr-state', kind: read.kind, region: 'eu-central-1', accessKeyId: 'AKIDTARGETONLY', consistent: true });
});

test('the text report says what is missing: the change of …, sequence number …, as recorded at …; unreachable parts with their reason', async () => {
  cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:443'), { name: 'TimeoutError' }));
  ddb.on(GetItemCommand).rejects(Object.assign(new Error('User is not authorized to perform: dynamodb:GetItem'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));

  const run = await runCli('failover', '--target', 'dr', '--config', CONFIG, '--target-profile', 'dr-admin');

  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/last applied: {2}unknown \(state table unreachable: .*dynamodb:GetItem/);
  expect(run.stdout).toMatch(/last sampled verify: unknown \(state table unreachable: /);

  ddb.reset();
  ddb.on(GetItemCommand).callsFake((input: { Key: { kind: { S: 'lastApplied' | 'lastSampledVerify' } } }) => ({ Item: state[input.Key.kind.S] }));
  const again = await runCli('failover', '--target', 'dr', '--config', CONFIG, '--target-profile', 'dr-admin');
  expect(again.stdout).toContain('last applied:  the change of 2026-12-01T00:59:58.000Z, sequence number 4200000000000000000017 (event e-17), as recorded at 2026-12-01T00:59:59.120Z');
  expect(again.stdout).toContain('last sampled verify: 2026-12-01T00:50:00.000Z: 1 mismatch(es) in 200 sampled item(s)');
});
