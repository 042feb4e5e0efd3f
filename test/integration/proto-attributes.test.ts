import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { toSdkAttributeMap } from '../../handlers/core/attribute-value';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { sessionFileContent, startControlServer, writeSessionFile, type ControlServer } from '../../local/control';
import { startLocalSession, type LocalSession } from '../../local/session';
import { runCli } from '../support/run-cli';

/**
 * Attribute names that are properties of every JS object ("__proto__", "constructor", "toString"),
 * at the top level and inside maps and lists, written to the source in local mode: they reach the
 * target exactly — checked on DynamoDB's own JSON, bypassing the SDK — and `verify` compares them.
 */
jest.setTimeout(120_000);

const keySchema = { partitionKey: { name: 'pk', type: 'S' as const } };
const ITEM_JSON = '{"pk":{"S":"proto"},"__proto__":{"M":{"__proto__":{"N":"1.50"},"constructor":{"S":"c"},"b":{"B":"AAE="}}},' +
  '"constructor":{"L":[{"M":{"__proto__":{"BOOL":true}}}]},"toString":{"S":"t"},"prototype":{"NS":["1","2"]}}';

let session: LocalSession;
let control: ControlServer;
let dir: string;
let file: string;

beforeAll(async () => {
  // A low RESYNC threshold: the big variant of the item goes as a RESYNC (apply re-reads the source).
  session = await startLocalSession({ keySchema, seed: 3, resyncThresholdBytes: 4096 });
  await session.startReplication();
  control = await startControlServer(session);
  dir = mkdtempSync(join(tmpdir(), 'proto-attributes-'));
  file = join(dir, 'local-session.json');
  writeSessionFile(file, sessionFileContent(session, control, keySchema));
});

afterAll(async () => {
  await control?.close();
  await session?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** GetItem as DynamoDB Local answers it, parsed by JSON.parse alone (own "__proto__" properties). */
async function rawItem(table: string, pk: string): Promise<unknown> {
  const response = await fetch(session.endpoints.dynamodb, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.GetItem',
      authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }),
  });
  return (JSON.parse(await response.text()) as { Item?: unknown }).Item;
}

/** JSON with keys sorted at every level: attribute order is not part of an item. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

it('replicates an item with __proto__, constructor and toString attributes exactly, and verify compares it', async () => {
  await session.sourceClient.send(new PutItemCommand({ TableName: session.sourceTableName, Item: toSdkAttributeMap(JSON.parse(ITEM_JSON) as AttributeMapWire) }));
  // An update through an expression, too: the name reaches DynamoDB as an ExpressionAttributeNames value.
  await session.sourceClient.send(new UpdateItemCommand({
    TableName: session.sourceTableName, Key: { pk: { S: 'proto' } },
    UpdateExpression: 'SET #t = :t', ExpressionAttributeNames: { '#t': 'toString' }, ExpressionAttributeValues: { ':t': { S: 'updated' } },
  }));
  // The same names through RESYNC: too big for an envelope, so apply's GetItem on the source carries them.
  const big = JSON.parse(ITEM_JSON.replace('"pk":{"S":"proto"}', '"pk":{"S":"proto-resync"}')) as Record<string, never>;
  await session.sourceClient.send(new PutItemCommand({ TableName: session.sourceTableName, Item: toSdkAttributeMap({ ...big, pad: { S: 'x'.repeat(8192) } }) }));
  await session.waitForDrain({ timeoutMs: 60_000 });
  expect(sortedJson(await rawItem(session.targetTableName, 'proto-resync'))).toBe(sortedJson(await rawItem(session.sourceTableName, 'proto-resync')));

  const source = await rawItem(session.sourceTableName, 'proto');
  const target = await rawItem(session.targetTableName, 'proto');
  expect(sortedJson(source)).toContain('"__proto__":{"M":{"__proto__":{"N":');
  expect(sortedJson(target)).toBe(sortedJson(source));
  expect(session.stats().deadLettered).toBe(0);
  expect((await session.diffTables()).different).toBe(0);

  const equal = await runCli('verify', '--local', file, '--json');
  expect(equal.stderr).toBe('');
  expect(equal.code).toBe(0);
  expect(JSON.parse(equal.stdout)).toMatchObject({ missing: 0, extra: 0, different: 0 });

  // A difference inside the nested "__proto__" map is found, not skipped.
  const changed = JSON.parse(ITEM_JSON.replace('"N":"1.50"', '"N":"2"')) as Record<string, never>;
  await session.targetClient.send(new PutItemCommand({ TableName: session.targetTableName, Item: toSdkAttributeMap({ ...changed, toString: { S: 'updated' } }) }));
  const different = await runCli('verify', '--local', file, '--json');
  expect(different.code).toBe(1);
  expect(JSON.parse(different.stdout)).toMatchObject({ missing: 0, extra: 0, different: 1 });
});
