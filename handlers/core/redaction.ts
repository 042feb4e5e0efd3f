import { createHash } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';
import type { AttributeMapWire, AttributeValueWire } from '../../schemas/attribute-value';
import type { TargetRedaction } from '../../schemas/replication-config';
import { ConfigurationError } from './errors';
import { keyAttributeNames, type KeySchema } from './key-schema';

/**
 * A target's redaction, compiled once: removes `exclude`d attributes and replaces `redact`ed ones in
 * the images of PUT envelopes. Keys are never touched (the config refuses them; this re-checks,
 * because a wrong key would write a different item). Values are never logged.
 */
export type ImageRedactor = (image: AttributeMapWire) => AttributeMapWire;

/**
 * JSON with object keys sorted at every level, so a value hashes the same whatever the order its
 * map attributes arrive in. Sets are hashed in the order received (DynamoDB returns them normalised).
 * infra/glue/initial_load.py `canonical_json` must produce the same string (keys in UTF-16 code-unit
 * order, JSON.stringify's escaping): test/fixtures/redaction-vectors.json holds both to it.
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function redactedValue(value: AttributeValueWire, redactWith: TargetRedaction['redactWith']): AttributeValueWire {
  if ('token' in redactWith) return { S: redactWith.token };
  return { S: `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}` };
}

/** undefined when the redaction changes nothing (no policy, or empty lists). */
export function compileRedaction(redaction: TargetRedaction | undefined, keySchema: KeySchema): ImageRedactor | undefined {
  if (redaction === undefined || (redaction.exclude.length === 0 && redaction.redact.length === 0)) return undefined;
  const keys = keyAttributeNames(keySchema);
  const touched = [...redaction.exclude, ...redaction.redact].filter((name) => keys.includes(name));
  if (touched.length > 0) throw new ConfigurationError(`redaction names key attribute(s) ${touched.join(', ')}; keys are always replicated as they are`);
  const exclude = new Set(redaction.exclude);
  const redact = new Set(redaction.redact);
  // Object.fromEntries defines "__proto__" as an own attribute; `out[name] =` would set the prototype and lose it.
  return (image) => Object.fromEntries(
    Object.entries(image)
      .filter(([name]) => !exclude.has(name))
      .map(([name, value]) => [name, redact.has(name) ? redactedValue(value, redaction.redactWith) : value]),
  );
}

/** The record with its NewImage redacted (the only image an envelope carries); other records unchanged. */
export function redactRecord(record: DynamoDBRecord, redactor: ImageRedactor | undefined): DynamoDBRecord {
  const image = record.dynamodb?.NewImage;
  if (redactor === undefined || image === undefined) return record;
  const NewImage = redactor(image as AttributeMapWire) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];
  return { ...record, dynamodb: { ...record.dynamodb, NewImage } };
}
