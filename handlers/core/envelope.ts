import type { DynamoDBRecord } from 'aws-lambda';
import type { z } from 'zod';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { changeEnvelopeV1Schema, ENVELOPE_VERSION_1, type ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';
import { encodedSizeAtMost, ownValue, safeParseKeepingProto } from './attribute-value';
import { isPlainEnvelopeV1 } from './envelope-check';
import { InvalidEnvelopeError, UnencodableRecordError, UnknownEnvelopeVersionError } from './errors';
import { isTtlDelete } from './filter';
import { groupIdFor } from './group-id';
import type { KeySchema } from './key-schema';

/** The envelope every consumer works with: the newest version. Older versions are upgraded on decode. */
export type ChangeEnvelope = ChangeEnvelopeV1;

/**
 * Known envelope versions. Adding v2 = a schema file, fixtures under schemas/fixtures/v2, and an
 * entry here whose `upgrade` maps it to the current shape (and v1's entry upgrading to v2).
 */
interface EnvelopeVersion<T> {
  readonly schema: z.ZodType<T>;
  readonly upgrade: (envelope: T) => ChangeEnvelope;
}
const ENVELOPE_VERSIONS: ReadonlyMap<number, EnvelopeVersion<ChangeEnvelopeV1>> = new Map([
  [ENVELOPE_VERSION_1, { schema: changeEnvelopeV1Schema, upgrade: (envelope: ChangeEnvelopeV1) => envelope }],
]);

export const KNOWN_ENVELOPE_VERSIONS: readonly number[] = [...ENVELOPE_VERSIONS.keys()];

export interface EnvelopeContext {
  keySchema: KeySchema;
  /** Envelopes whose encoded size exceeds this are sent as RESYNC with keys only. */
  resyncThresholdBytes: number;
  /** Used when the record has no eventSourceARN to take the table name from. */
  sourceTableName: string;
}

const TABLE_FROM_STREAM_ARN = /:table\/([^/]+)\/stream\//;

/** Turns one stream record (JSON form, B as base64) into an envelope, or throws UnencodableRecordError. */
export function envelopeFromStreamRecord(record: DynamoDBRecord, ctx: EnvelopeContext): ChangeEnvelopeV1 {
  const eventId = record.eventID;
  const fail = (reason: string): never => {
    throw new UnencodableRecordError(`stream record ${eventId ?? '(no eventID)'} cannot be encoded: ${reason}`);
  };
  if (eventId === undefined || eventId === '') fail('it has no eventID');
  const stream = record.dynamodb ?? fail('it has no "dynamodb" section');
  const keys = (stream.Keys as AttributeMapWire | undefined) ?? fail('it has no Keys');
  checkKeysMatchSchema(keys, ctx.keySchema, fail);
  if (stream.ApproximateCreationDateTime === undefined) fail('it has no ApproximateCreationDateTime');
  if (stream.SequenceNumber === undefined) fail('it has no SequenceNumber');

  let op: ChangeEnvelopeV1['op'];
  let image: AttributeMapWire | undefined;
  switch (record.eventName) {
    case 'INSERT':
    case 'MODIFY':
      op = 'PUT';
      image = (stream.NewImage as AttributeMapWire | undefined) ??
        fail(`it has no NewImage (stream view type ${stream.StreamViewType ?? 'unknown'}; replication needs NEW_IMAGE or NEW_AND_OLD_IMAGES)`);
      break;
    case 'REMOVE':
      op = 'DELETE';
      break;
    default:
      return fail(`unknown eventName ${JSON.stringify(record.eventName)}`);
  }

  const candidate: ChangeEnvelopeV1 = {
    v: ENVELOPE_VERSION_1,
    op,
    table: TABLE_FROM_STREAM_ARN.exec(record.eventSourceARN ?? '')?.[1] ?? ctx.sourceTableName,
    keys,
    ...(image === undefined ? {} : { image }),
    seq: stream.SequenceNumber as string,
    // Streams give seconds (a JSON number, possibly fractional); envelopes carry milliseconds.
    at: Math.round((stream.ApproximateCreationDateTime as number) * 1000),
    eventId: eventId as string,
    groupId: groupIdFor(keys, ctx.keySchema),
    origin: isTtlDelete(record) ? 'ttl' : 'user',
  };
  // Validate what we emit, so a record the apply side would reject fails here, at the pipe, loudly.
  // The fast check settles the common case; anything it refuses gets the schema and its messages.
  let envelope = candidate;
  if (!isPlainEnvelopeV1(candidate)) {
    const parsed = safeParseKeepingProto(changeEnvelopeV1Schema, candidate);
    if (!parsed.success) fail(`it does not make a valid envelope: ${describeIssues(parsed.error)}`);
    envelope = (parsed as { data: ChangeEnvelopeV1 }).data;
  }

  if (!encodedSizeAtMost(envelope, ctx.resyncThresholdBytes)) {
    // Too large for the queue: the apply side re-reads the item from the source instead.
    const { image: _dropped, ...keysOnly } = envelope;
    return { ...keysOnly, op: 'RESYNC' };
  }
  return envelope;
}

function checkKeysMatchSchema(keys: AttributeMapWire, keySchema: KeySchema, fail: (reason: string) => never): void {
  const expected = keySchema.sortKey ? [keySchema.partitionKey, keySchema.sortKey] : [keySchema.partitionKey];
  for (const attribute of expected) {
    const value = ownValue(keys, attribute.name);
    if (value === undefined) fail(`Keys lack key attribute "${attribute.name}"`);
    else if (!(attribute.type in value)) fail(`key attribute "${attribute.name}" is not of type ${attribute.type} as KEY_SCHEMA says`);
  }
  if (Object.keys(keys).length !== expected.length) fail('Keys hold attributes that are not in KEY_SCHEMA');
}

export function encodeEnvelope(envelope: ChangeEnvelope): string {
  return sqsSafeJson(envelope);
}

/**
 * JSON text for an SQS message body. SQS allows #x10000–#x10FFFF in bodies, but fauxqs 1.9.2 (the
 * local SQS) tests bodies with a non-Unicode regex and rejects every character outside the BMP
 * (an emoji in a key) as InvalidMessageContents. Writing those characters as JSON surrogate-pair
 * escapes gives the same JSON value, which every consumer decodes identically — safe for real SQS too.
 */
export function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u{10000}-\u{10FFFF}]/gu, (char) => {
    const hi = char.charCodeAt(0).toString(16).padStart(4, '0');
    const lo = char.charCodeAt(1).toString(16).padStart(4, '0');
    return `\\u${hi}\\u${lo}`;
  });
}

/**
 * Decodes a message body. Throws InvalidEnvelopeError (or UnknownEnvelopeVersionError) with the
 * failing paths and reasons — never the values, which may be customer data.
 */
export function decodeEnvelope(body: string): ChangeEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    // No cause attached on purpose: JSON.parse's message quotes the body.
    throw new InvalidEnvelopeError('message body is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidEnvelopeError('message body is not a JSON object');
  }
  // Fast path: a well-formed current-version envelope is exactly what the schema would return.
  if (isPlainEnvelopeV1(raw)) return raw;
  const v: unknown = (raw as Record<string, unknown>).v;
  if (v === undefined) throw new InvalidEnvelopeError('message body has no envelope version "v"');
  const version = typeof v === 'number' ? ENVELOPE_VERSIONS.get(v) : undefined;
  if (typeof v !== 'number' || version === undefined) {
    const shown = typeof v === 'number' ? String(v) : `a ${typeof v}`;
    throw new UnknownEnvelopeVersionError(`unknown envelope version ${shown}; this consumer knows v${KNOWN_ENVELOPE_VERSIONS.join(', v')}`);
  }
  const parsed = safeParseKeepingProto(version.schema, raw);
  if (!parsed.success) {
    throw new InvalidEnvelopeError(`invalid v${v} envelope: ${describeIssues(parsed.error)}`, { cause: parsed.error });
  }
  const envelope = version.upgrade(parsed.data);
  const keyProblems = Object.entries(envelope.keys)
    .filter(([, value]) => !('S' in value || 'N' in value || 'B' in value))
    .map(([name]) => `keys.${name}: key attributes are S, N or B`);
  if (keyProblems.length > 0) throw new InvalidEnvelopeError(`invalid v${v} envelope: ${keyProblems.join('; ')}`);
  return envelope;
}

/** "path: reason" for each issue; zod 4 issues carry no input values unless asked to. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      // A key inside an M value can be customer data (an email used as a map key): never print it.
      const path = issue.path.length > 0 ? issue.path.map((segment, i) => (i > 0 && issue.path[i - 1] === 'M' ? '<map key>' : String(segment))).join('.') : '(root)';
      // The only unions in an envelope are AttributeValues; zod's own message is just "Invalid input".
      const message = issue.code === 'invalid_union' ? 'not an AttributeValue (exactly one of S, N, B, SS, NS, BS, M, L, NULL, BOOL)' : issue.message;
      return `${path}: ${message}`;
    })
    .join('; ');
}
