import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { canonicalKey, toWireAttributeMap } from '../handlers/core/attribute-value';
import { keyAttributeNames, type KeySchema } from '../handlers/core/key-schema';
import { compileTargetPolicy } from '../handlers/core/target-policy';
import type { AttributeMapWire } from '../schemas/attribute-value';
import { targetConfigSchema, targetFilterSchema, targetPolicyProblems, targetRedactionSchema, type TargetFilter, type TargetRedaction } from '../schemas/replication-config';
import { itemsEqual } from '../common/item-compare';
import { EmulatorError } from './errors';
import type { LocalSessionOptions } from './session';
import { LOCAL_TARGET, SOURCE_TABLE, TARGET_TABLE } from './session-constants';
import type { Tombstones } from './session-lag';

/**
 * A local session's targets (docs/architecture.md#local-mode): which ones it has, validated like the
 * config, and the check of a target table against the source as that target should see it.
 */
export interface TargetSpec {
  name: string;
  tableName: string;
  filter: TargetFilter;
  redaction?: TargetRedaction;
}

export interface TableDiff {
  missing: number;
  extra: number;
  different: number;
  examples: { keys: AttributeMapWire; kind: 'missing' | 'extra' | 'different' }[];
}

type SafeParse = { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } };

/** One entry of `opts.targets` as a spec, its problems (config paths under `targets.<i>`) appended to `problems`. */
function resolveTarget(t: NonNullable<LocalSessionOptions['targets']>[number], i: number, keySchema: KeySchema, problems: string[]): TargetSpec {
  const label = `targets.${i}`;
  const issues = (path: string, result: SafeParse): void => {
    for (const issue of result.error?.issues ?? []) problems.push(`${label}.${[path, ...issue.path.map(String)].join('.')}: ${issue.message}`);
  };
  const name = targetConfigSchema.shape.name.safeParse(t.name);
  const filter = targetFilterSchema.safeParse(t.filter ?? {});
  const redaction = t.redaction === undefined ? undefined : targetRedactionSchema.safeParse(t.redaction);
  issues('name', name);
  issues('filter', filter);
  if (redaction !== undefined) issues('redaction', redaction);
  const spec: TargetSpec = { name: t.name, tableName: `${TARGET_TABLE}-${t.name}`, filter: filter.data ?? targetFilterSchema.parse({}) };
  if (redaction?.data !== undefined) spec.redaction = redaction.data;
  if (filter.success && (redaction === undefined || redaction.success)) {
    for (const [path, message] of targetPolicyProblems(keySchema, spec.filter, spec.redaction)) problems.push(`${label}.${path.join('.')}: ${message}`);
  }
  return spec;
}

/** The session's targets, validated like the config: one implicit "local" target, or `opts.targets`. */
export function resolveTargets(opts: LocalSessionOptions): TargetSpec[] {
  if (opts.targets === undefined) {
    return [{ name: LOCAL_TARGET.name, tableName: TARGET_TABLE, filter: opts.filter ?? targetFilterSchema.parse({}) }];
  }
  if (opts.filter !== undefined) throw new EmulatorError('set either filter (one target) or targets (each with its own filter), not both');
  if (opts.targets.length === 0) throw new EmulatorError('targets: at least one target');
  const problems: string[] = [];
  const specs = opts.targets.map((t, i) => resolveTarget(t, i, opts.keySchema, problems));
  const names = specs.map((s) => s.name);
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i) problems.push(`targets.${i}.name: duplicate target name "${n}"`);
  });
  if (problems.length > 0) throw new EmulatorError(`invalid local targets:\n  ${problems.join('\n  ')}`);
  return specs;
}

async function scanAll(client: DynamoDBClient, tableName: string): Promise<AttributeMapWire[]> {
  const items: AttributeMapWire[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }));
    for (const item of out.Items ?? []) items.push(toWireAttributeMap(item));
    startKey = out.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/**
 * What a target table should hold: the source items its filter keeps — plus, for deletes it does
 * not replicate (TTL deletes it skips, or every REMOVE), the deleted item as last seen — with its
 * redaction applied. Targets that drop INSERT or MODIFY keep stale versions this cannot know.
 */
function expectedView(
  spec: TargetSpec,
  keySchema: KeySchema,
  sourceItems: AttributeMapWire[],
  tombstones: Tombstones,
  keysOf: (item: AttributeMapWire) => AttributeMapWire,
): AttributeMapWire[] {
  const names = new Set<string>(spec.filter.eventNames);
  if (!names.has('INSERT') || !names.has('MODIFY') || (!names.has('REMOVE') && (spec.filter.attributeEquals ?? []).length > 0)) {
    throw new EmulatorError(`diffTables: target "${spec.name}" drops ${!names.has('INSERT') ? 'INSERT' : !names.has('MODIFY') ? 'MODIFY' : 'REMOVE with attribute conditions'}, so it keeps stale items whose expected state is not known`);
  }
  const { view } = compileTargetPolicy(spec, keySchema);
  const present = new Set(sourceItems.map((item) => canonicalKey(keysOf(item))));
  const kept = [...tombstones.entries()]
    .filter(([key, tomb]) => !present.has(key) && (!names.has('REMOVE') || (tomb.ttl && !spec.filter.replicateTtlDeletes)))
    .map(([, tomb]) => tomb.image);
  return [...sourceItems, ...kept].flatMap((item) => { const seen = view(item); return seen === undefined ? [] : [seen]; });
}

/** Compares a target table with the source as that target should see it (LocalSession.diffTables). */
export async function diffTarget(
  dynamodb: DynamoDBClient,
  spec: TargetSpec,
  keySchema: KeySchema,
  tombstones: Tombstones,
  limit: number,
): Promise<TableDiff> {
  const [sourceItems, targetItems] = await Promise.all([scanAll(dynamodb, SOURCE_TABLE), scanAll(dynamodb, spec.tableName)]);
  const keyNames = keyAttributeNames(keySchema);
  const keysOf = (item: AttributeMapWire): AttributeMapWire => Object.fromEntries(keyNames.map((n) => [n, item[n]]));
  const expectedItems = expectedView(spec, keySchema, sourceItems, tombstones, keysOf);
  const targetByKey = new Map(targetItems.map((item) => [canonicalKey(keysOf(item)), item]));
  const diff: TableDiff = { missing: 0, extra: 0, different: 0, examples: [] };
  const note = (kind: 'missing' | 'extra' | 'different', item: AttributeMapWire): void => {
    diff[kind] += 1;
    if (diff.examples.length < limit) diff.examples.push({ keys: keysOf(item), kind });
  };
  for (const item of expectedItems) {
    const key = canonicalKey(keysOf(item));
    const other = targetByKey.get(key);
    targetByKey.delete(key);
    if (other === undefined) note('missing', item);
    else if (!itemsEqual(item, other)) note('different', item);
  }
  for (const item of targetByKey.values()) note('extra', item);
  return diff;
}
