import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { reverseConfig } from '../../cli/dr/reverse';
import { loadReplicationConfigs } from '../../infra/config';
import { parseReplicationConfigs } from '../../schemas/replication-config';
import { runCli as run } from '../support/run-cli';

/**
 * Failback config generation (issue 17 §4): the reverse replication, the forward target removed,
 * the loop check over the result, and the command's file handling and stream check.
 */
const EXAMPLE = join(__dirname, '..', '..', 'replication.config.example.json');
const STREAM = 'arn:aws:dynamodb:eu-central-1:222222222222:table/orders-replica/stream/2026-12-01T00:00:00.000';
const example = () => loadReplicationConfigs(EXAMPLE);

describe('reverseConfig', () => {
  test('the target becomes the source, the old source a target; the forward target is removed, its other targets kept', () => {
    const { configs, reverse, removed } = reverseConfig(example(), { replication: 'orders', target: 'dr', streamArn: STREAM, externalId: 'back-orders-x1' });
    expect(removed).toBe('target dr removed from replication orders');
    expect(configs.map((c) => [c.replicationName, c.targets.map((t) => t.name)])).toEqual([['orders', ['analytics']], ['back-orders', ['origin']]]);
    expect(reverse.source).toEqual({ account: '222222222222', region: 'eu-central-1', tableName: 'orders-replica', tableStreamArn: STREAM, keySchema: example()[0].source.keySchema });
    expect(reverse.targets[0]).toMatchObject({ name: 'origin', account: '111111111111', region: 'eu-west-1', tableName: 'orders', externalId: 'back-orders-x1' });
    // A full copy back: default filter, no redaction.
    expect(reverse.targets[0].filter).toEqual({ eventNames: ['INSERT', 'MODIFY', 'REMOVE'], replicateTtlDeletes: true, partitionKeyPrefixes: [] });
    expect(reverse.targets[0].redaction).toBeUndefined();
  });

  test('the only target: its replication goes, and the result still passes the loop check', () => {
    const [orders] = example();
    const single = [{ ...orders, targets: [orders.targets[0]] }];
    const { configs, removed } = reverseConfig(single, { replication: 'orders', target: 'dr', streamArn: STREAM });
    expect(removed).toBe('replication orders removed (dr was its only target)');
    expect(configs.map((c) => c.replicationName)).toEqual(['back-orders']);
    expect(configs[0].targets[0].externalId).toMatch(/^back-orders-[0-9a-f]{16}$/);
  });

  test('keeping the forward target next to the reverse replication is a loop the config refuses', () => {
    const { reverse } = reverseConfig(example(), { replication: 'orders', target: 'dr', streamArn: STREAM });
    expect(() => parseReplicationConfigs({ replications: [...example(), reverse] })).toThrow(
      /replications\.1\.targets\.0\.tableName: replication loop: replications\.1\.targets\.0 replicates 222222222222\/eu-central-1\/orders-replica → 111111111111\/eu-west-1\/orders, and replications\.0\.targets\.0 replicates/,
    );
  });

  test('a filtered or redacted target is no full copy: refused', () => {
    expect(() => reverseConfig(example(), { replication: 'orders', target: 'analytics', streamArn: STREAM })).toThrow(
      'target analytics receives a partial view of its source (filter.replicateTtlDeletes: false): replicating it back would overwrite orders with that view',
    );
  });

  test('a reverse name that is too long asks for --name', () => {
    const [orders] = example();
    const long = [{ ...orders, replicationName: 'orders-of-the-world' }];
    expect(() => reverseConfig(long, { replication: 'orders-of-the-world', target: 'dr', streamArn: STREAM })).toThrow(/replicationName: .*at most 20 characters \(choose its name with --name\)/);
  });
});

describe('ddb-replicate reverse', () => {
  const ddb = mockClient(DynamoDBClient);
  const dir = mkdtempSync(join(tmpdir(), 'ddbrepl-reverse-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => ddb.reset());

  test('writes a config that loads (both replications), refuses to overwrite it without --force', async () => {
    const out = join(dir, 'back.json');
    const result = await run('reverse', '--config', EXAMPLE, '--target', 'dr', '--stream-arn', STREAM, '--out', out);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('replication back-orders copies orders-replica (222222222222, eu-central-1) back into orders (111111111111, eu-west-1); target dr removed from replication orders.');
    expect(result.stdout).toContain('npx cdk deploy -c replicationConfig=' + out + ' Ddbrepl-back-orders Ddbrepl-back-orders-origin-access');
    expect(loadReplicationConfigs(out).map((c) => c.replicationName)).toEqual(['orders', 'back-orders']);

    const again = await run('reverse', '--config', EXAMPLE, '--target', 'dr', '--stream-arn', STREAM, '--out', out);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists; choose another --out or pass --force');
    expect(ddb.calls()).toHaveLength(0);
  });

  test('reads the stream of the target table; without one, says how to enable it and writes nothing', async () => {
    const out = join(dir, 'none.json');
    ddb.on(DescribeTableCommand, { TableName: 'orders-replica' }).resolvesOnce({ Table: { TableName: 'orders-replica' } }).resolves({
      Table: { TableName: 'orders-replica', StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' }, LatestStreamArn: STREAM },
    });
    const missing = await run('reverse', '--config', EXAMPLE, '--target', 'dr', '--out', out, '--target-profile', 'dr-admin');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('table orders-replica has no stream; the reverse replication reads its stream with both images. Enable it: aws dynamodb update-table --table-name orders-replica --region eu-central-1 --profile dr-admin --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES');
    expect(existsSync(out)).toBe(false);

    const ok = await run('reverse', '--config', EXAMPLE, '--target', 'dr', '--out', out, '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ out, reverse: 'back-orders', removed: 'target dr removed from replication orders', replications: ['orders', 'back-orders'] });
    expect((JSON.parse(readFileSync(out, 'utf8')) as { replications: { source: { tableStreamArn?: string } }[] }).replications[1].source.tableStreamArn).toBe(STREAM);
  });
});

test('cutover refuses a target with a partial view before touching AWS (exit 2)', async () => {
  const result = await run('cutover', '--config', EXAMPLE, '--target', 'analytics', '--writes-stopped');
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('error: target analytics receives a partial view of its source (filter.replicateTtlDeletes: false): it is not a full copy of orders and cannot become the primary');
});

test('reverse needs --target (or --local)', async () => {
  const result = await run('reverse', '--config', EXAMPLE);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('error: --target is required (or --local for a kept local session)');
});
