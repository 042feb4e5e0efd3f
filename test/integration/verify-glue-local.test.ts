import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { toWireAttributeMap } from '../../handlers/core/attribute-value';
import { runCli as run } from '../support/run-cli';
import { startKeptSession, type KeptSession } from './support/kept-session';

/**
 * `verify --engine glue --local` end to end: the CLI starts the verify job's own script
 * (infra/glue/verify_job.py --local, on /usr/bin/python3 with boto3) against a kept local session's
 * DynamoDB Local, follows its progress, reads its summary and its differences.jsonl, and --repair
 * enqueues RESYNCs from that report through the real queue and apply. The oracle is the planted
 * differences and a direct read of the tables, not the verify code.
 */
jest.setTimeout(240_000);

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };
let kept: KeptSession;

beforeAll(async () => {
  kept = await startKeptSession(keySchema, 31);
});

afterAll(async () => {
  await kept?.stop();
});

const key = (name: string): Record<string, AttributeValue> => ({ pk: { S: name }, sk: { N: '1' } });
const put = (item: Record<string, AttributeValue>, table = kept.session.sourceTableName) => kept.session.sourceClient.send(new PutItemCommand({ TableName: table, Item: item }));
const getTarget = async (name: string) => {
  const out = await kept.session.targetClient.send(new GetItemCommand({ TableName: kept.session.targetTableName, Key: key(name), ConsistentRead: true }));
  return out.Item === undefined ? undefined : toWireAttributeMap(out.Item);
};
const nested = (leaf: AttributeValue): Record<string, AttributeValue> => ({
  ...key('nested'),
  doc: { M: { profile: { M: { tags: { L: [{ S: 'a' }, { M: { deep: leaf } }] } } } } },
});

test('verify --engine glue --local finds missing, extra and nested differences; --repair from its report fixes them', async () => {
  const { session, file } = kept;
  for (let i = 0; i < 40; i += 1) await put({ ...key(`ok-${i}`), v: { N: String(i) } });
  await put(nested({ N: '1.5' }));
  await put({ ...key('missing'), v: { S: 'x' } });
  await session.waitForDrain();
  expect(await session.diffTables()).toMatchObject({ missing: 0, extra: 0, different: 0 });

  // Planted straight into the target table (it has no stream: nothing replicates back).
  const tgt = session.targetTableName;
  await session.targetClient.send(new DeleteItemCommand({ TableName: tgt, Key: key('missing') }));
  await put({ ...key('extra'), v: { S: 'only in the target' } }, tgt);
  await put(nested({ N: '1.50001' }), tgt);

  const found = await run('verify', '--local', file, '--engine', 'glue', '--segments', '3', '--buckets', '64', '--settle', '0', '--json');
  expect(found.code).toBe(1);
  const result = JSON.parse(found.stdout) as { engine: string; report: string; missing: number; extra: number; different: number; diffs: { kind: string; keys: { pk: { S: string } } }[] };
  expect(result).toMatchObject({ engine: 'glue', mode: 'full', missing: 1, extra: 1, different: 1, buckets: 64, sourceItems: 42, targetItems: 42 });
  expect(result.diffs.map((d) => `${d.kind} ${d.keys.pk.S}`).sort()).toEqual(['different nested', 'extra extra', 'missing missing']);
  // The job's report, in the run folder beside the session file: kind and keys, never values.
  expect(resolve(dirname(result.report))).toContain(resolve(dirname(file), 'verify-glue'));
  const report = readFileSync(result.report, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; keys: { pk: { S: string }; sk: { N: string } } });
  expect(report.map((d) => `${d.kind} ${d.keys.pk.S} ${d.keys.sk.N}`).sort()).toEqual(['different nested 1', 'extra extra 1', 'missing missing 1']);
  expect(report.every((d) => Object.keys(d).join() === 'kind,keys')).toBe(true);
  expect(found.stdout).not.toContain('1.50001');
  expect(found.stderr).toContain('started the local verify runner');

  const text = await run('verify', '--local', file, '--engine', 'glue', '--settle', '0');
  expect(text.code).toBe(1);
  expect(text.stdout).toContain('3 differences: 1 missing in the target, 1 extra in the target, 1 different');
  expect(text.stdout).toContain('different {"pk":{"S":"nested"},"sk":{"N":"1"}}');
  expect(text.stdout).toContain(`fix them with \`ddb-replicate verify --local ${file} --engine glue --repair\``);
  expect(text.stdout).toMatch(/every difference \(keys only\): .*verify-glue.*differences\.jsonl/);

  const copy = join(dirname(file), 'copied.jsonl');
  const repair = await run('verify', '--local', file, '--engine', 'glue', '--settle', '0', '--repair', '--report', copy);
  expect(repair.code).toBe(1);
  expect(repair.stdout).toContain('repair: enqueued 3 RESYNCs');
  expect(readFileSync(copy, 'utf8').trim().split('\n')).toHaveLength(3);
  await session.waitForDrain();
  // Independent of verify: the tables themselves.
  expect(await session.diffTables()).toMatchObject({ missing: 0, extra: 0, different: 0 });
  expect(await getTarget('extra')).toBeUndefined();
  expect(await getTarget('missing')).toEqual({ ...key('missing'), v: { S: 'x' } });
  expect(await getTarget('nested')).toEqual(toWireAttributeMap(nested({ N: '1.5' })));

  const clean = await run('verify', '--local', file, '--engine', 'glue', '--json');
  expect(clean.code).toBe(0);
  expect(JSON.parse(clean.stdout)).toMatchObject({ engine: 'glue', missing: 0, extra: 0, different: 0, mismatchingBuckets: 0, repaired: 0 });
  expect(JSON.parse(clean.stdout)).not.toHaveProperty('report');
});

test('verify --engine glue refuses --sample before starting anything', async () => {
  const refused = await run('verify', '--local', kept.file, '--engine', 'glue', '--sample', '0.1');
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('--sample is not available with --engine glue');
});
