import type { DynamoDBRecord } from 'aws-lambda';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { STREAM_EVENT_NAMES, targetFilterSchema, targetRedactionSchema, type TargetFilter, type TargetRedaction } from '../../schemas/replication-config';
import { ENV, jsonEnv } from './env';
import { compileFilterDecision, type FilterDecision } from './filter';
import { keyAttributeNames, type KeySchema } from './key-schema';
import { compileRedaction, type ImageRedactor } from './redaction';

/**
 * A target's policy — filter and redaction — compiled once, in one place, for every path that
 * writes to a target (docs/fan-out.md): enrichment (record by record: `decide`, then `redact` on PUT
 * images), RESYNC in apply and both initial-load engines (item by item: `view`), and the local
 * session's expected view. infra/glue/initial_load.py implements `view` in Python; the shared
 * vectors in test/fixtures/redaction-vectors.json keep the two equal.
 */
export interface TargetPolicy {
  decide: (record: DynamoDBRecord) => FilterDecision;
  /** undefined when the redaction changes nothing. */
  redact?: ImageRedactor;
  /**
   * A whole item (as read from the source table) → what this target holds of it: the item with its
   * redaction applied, or undefined when the item is outside the target's view (partition-key
   * prefixes and attribute conditions, tested as on a new image). Event names and TTL settings are
   * about changes, not items, so they play no part here.
   */
  view: (item: AttributeMapWire) => AttributeMapWire | undefined;
}

export interface TargetPolicyConfig {
  filter: TargetFilter;
  redaction?: TargetRedaction | undefined;
}

export function compileTargetPolicy(target: TargetPolicyConfig, keySchema: KeySchema): TargetPolicy {
  const redact = compileRedaction(target.redaction, keySchema);
  // The item predicate is the record decision on an INSERT of the item, with every event kept: one
  // implementation of prefixes and conditions, not a second one.
  const onItem = compileFilterDecision({ ...target.filter, eventNames: [...STREAM_EVENT_NAMES] }, keySchema);
  const keyNames = keyAttributeNames(keySchema);
  const view = (item: AttributeMapWire): AttributeMapWire | undefined => {
    const Keys = Object.fromEntries(keyNames.filter((name) => Object.hasOwn(item, name)).map((name) => [name, item[name]]));
    const record = { eventName: 'INSERT', dynamodb: { Keys, NewImage: item } } as DynamoDBRecord;
    if (onItem(record) !== 'forward') return undefined;
    return redact === undefined ? item : redact(item);
  };
  return { decide: compileFilterDecision(target.filter, keySchema), ...(redact === undefined ? {} : { redact }), view };
}

/** The policy the CDK construct (or local mode) sets on a function: TARGET_FILTER and TARGET_REDACTION; unset = everything, as is. */
export function targetPolicyFromEnv(keySchema: KeySchema, env: NodeJS.ProcessEnv = process.env): TargetPolicy {
  const filter = jsonEnv(ENV.targetFilter, targetFilterSchema, env) ?? targetFilterSchema.parse({});
  return compileTargetPolicy({ filter, redaction: jsonEnv(ENV.targetRedaction, targetRedactionSchema, env) }, keySchema);
}
