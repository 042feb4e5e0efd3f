import { createHash } from 'node:crypto';
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { canonicalKey, toWireAttributeMap } from '../../../handlers/core/attribute-value';
import { itemsEqual } from '../../../common/item-compare';
import type { AttributeMapWire, AttributeValueWire } from '../../../schemas/attribute-value';

/**
 * The test oracle for a target's expected contents: what a target table must hold, given the source
 * items, the target's policy (filter, redaction, TTL-delete setting) and the items TTL deleted.
 *
 * Written from the config reference (README, schemas/replication-config.ts doc comments), on purpose
 * without importing any production policy code (handlers/core/target-policy.ts, filter.ts,
 * redaction.ts): if a production rule is wrong, the target differs from this and the check fails.
 * Deliberately simple — it supports the policy fields the integration tests use and refuses others.
 * Only the item comparison (exact, sets unordered, numbers by value: common/item-compare.ts) and the key
 * encoding for maps are shared; neither decides what a target should hold.
 */
export interface OraclePolicy {
  readonly filter?: {
    /** @default true */
    readonly replicateTtlDeletes?: boolean;
    /** @default [] = every partition key */
    readonly partitionKeyPrefixes?: readonly string[];
    /** Every condition holds: the attribute exists and equals one of anyOf (S, N as written, BOOL). */
    readonly attributeEquals?: readonly { readonly attribute: string; readonly anyOf: readonly ({ S: string } | { N: string } | { BOOL: boolean })[] }[];
  };
  readonly redaction?: {
    readonly exclude?: readonly string[];
    readonly redact?: readonly string[];
    /** @default { token: 'REDACTED' } */
    readonly redactWith?: { readonly token: string } | { readonly sha256: true };
  };
}

/** "sha256:" + hex SHA-256 of the value as JSON with object keys sorted (code-unit order) at every level. */
export function oracleSha256(value: AttributeValueWire): string {
  const sorted = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(sorted).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      const names = Object.keys(v).sort();
      return `{${names.map((n) => `${JSON.stringify(n)}:${sorted((v as Record<string, unknown>)[n])}`).join(',')}}`;
    }
    return JSON.stringify(v);
  };
  return `sha256:${createHash('sha256').update(sorted(value)).digest('hex')}`;
}

function inView(item: AttributeMapWire, policy: OraclePolicy, partitionKey: string): boolean {
  const prefixes = policy.filter?.partitionKeyPrefixes ?? [];
  if (prefixes.length > 0) {
    const pk = item[partitionKey];
    if (pk === undefined || !('S' in pk) || !prefixes.some((p) => pk.S.startsWith(p))) return false;
  }
  for (const condition of policy.filter?.attributeEquals ?? []) {
    const actual = item[condition.attribute];
    if (actual === undefined) return false;
    if (!condition.anyOf.some((wanted) => JSON.stringify(wanted) === JSON.stringify(actual))) return false;
  }
  return true;
}

function redacted(item: AttributeMapWire, policy: OraclePolicy, keyNames: readonly string[]): AttributeMapWire {
  const exclude = policy.redaction?.exclude ?? [];
  const redact = policy.redaction?.redact ?? [];
  const redactWith = policy.redaction?.redactWith ?? { token: 'REDACTED' };
  const out: AttributeMapWire = {};
  for (const [name, value] of Object.entries(item)) {
    if (keyNames.includes(name)) {
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    if (exclude.includes(name)) continue;
    const kept = !redact.includes(name) ? value : 'token' in redactWith ? { S: redactWith.token } : { S: oracleSha256(value) };
    Object.defineProperty(out, name, { value: kept, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * The target's expected items: each source item in its view, redacted; plus, when the target does
 * not replicate TTL deletes, each item TTL deleted (as it was last written) that is not back in the source.
 */
export function expectedTargetItems(
  sourceItems: readonly AttributeMapWire[],
  policy: OraclePolicy,
  keys: { partitionKey: string; sortKey?: string },
  ttlDeleted: readonly AttributeMapWire[] = [],
): AttributeMapWire[] {
  const keyNames = [keys.partitionKey, ...(keys.sortKey === undefined ? [] : [keys.sortKey])];
  const keyOf = (item: AttributeMapWire): string => canonicalKey(Object.fromEntries(keyNames.map((n) => [n, item[n]])));
  const present = new Set(sourceItems.map(keyOf));
  const kept = policy.filter?.replicateTtlDeletes === false ? ttlDeleted.filter((item) => !present.has(keyOf(item))) : [];
  return [...sourceItems, ...kept].filter((item) => inView(item, policy, keys.partitionKey)).map((item) => redacted(item, policy, keyNames));
}

export interface OracleDiff {
  missing: number;
  extra: number;
  different: number;
  /** Canonical keys of the first few differences. */
  examples: string[];
}

async function scanTable(client: DynamoDBClient, tableName: string): Promise<AttributeMapWire[]> {
  const items: AttributeMapWire[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []).map(toWireAttributeMap));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** Scans source and target and compares the target with the oracle's expected items. */
export async function diffWithOracle(opts: {
  client: DynamoDBClient;
  sourceTableName: string;
  targetTableName: string;
  policy: OraclePolicy;
  keys: { partitionKey: string; sortKey?: string };
  ttlDeleted?: readonly AttributeMapWire[];
}): Promise<OracleDiff> {
  const [source, target] = await Promise.all([scanTable(opts.client, opts.sourceTableName), scanTable(opts.client, opts.targetTableName)]);
  const keyNames = [opts.keys.partitionKey, ...(opts.keys.sortKey === undefined ? [] : [opts.keys.sortKey])];
  const keyOf = (item: AttributeMapWire): string => canonicalKey(Object.fromEntries(keyNames.map((n) => [n, item[n]])));
  const actual = new Map(target.map((item) => [keyOf(item), item]));
  const diff: OracleDiff = { missing: 0, extra: 0, different: 0, examples: [] };
  const note = (kind: 'missing' | 'extra' | 'different', key: string): void => {
    diff[kind] += 1;
    if (diff.examples.length < 5) diff.examples.push(`${kind} ${key}`);
  };
  for (const item of expectedTargetItems(source, opts.policy, opts.keys, opts.ttlDeleted)) {
    const key = keyOf(item);
    const other = actual.get(key);
    actual.delete(key);
    if (other === undefined) note('missing', key);
    else if (!itemsEqual(item, other)) note('different', key);
  }
  for (const key of actual.keys()) note('extra', key);
  return diff;
}
