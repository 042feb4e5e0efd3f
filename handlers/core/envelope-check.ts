import { BASE64_PATTERN, NUMBER_PATTERN } from '../../schemas/attribute-value';
import { CHANGE_OPS, CHANGE_ORIGINS, ENVELOPE_VERSION_1, GROUP_ID_PATTERN, type ChangeEnvelopeV1 } from '../../schemas/change-envelope.v1';

/**
 * Fast path of envelope validation. The zod schema (schemas/change-envelope.v1.ts) stays the
 * definition and the source of every error message; this one-pass check accepts only what the
 * schema accepts unchanged (a property test holds it to that), and refuses anything doubtful, so
 * the caller then takes the schema path. An attribute named "__proto__" is an own property here
 * (JSON.parse defines it so) and is read as one: `value[name]` finds the own property first.
 * Why: the schema's union of ten strict objects per AttributeValue made validation ~80% of the
 * handlers' CPU (bench/, docs/performance.md).
 */
export function isPlainEnvelopeV1(value: unknown): value is ChangeEnvelopeV1 {
  if (!isPlainObject(value)) return false;
  let count = 0;
  for (const name in value) {
    if (!ENVELOPE_FIELDS.has(name)) return false;
    count++;
  }
  const e = value;
  if (e.image === undefined) {
    // Present-but-undefined is left to the schema.
    if ('image' in e || count !== 9) return false;
  } else if (count !== 10) {
    return false;
  }
  if (e.v !== ENVELOPE_VERSION_1) return false;
  if (!OPS.has(e.op as string) || !ORIGINS.has(e.origin as string)) return false;
  if (typeof e.table !== 'string' || e.table.length < 3 || e.table.length > 255) return false;
  if (typeof e.seq !== 'string') return false;
  if (typeof e.at !== 'number' || !Number.isSafeInteger(e.at) || e.at < 0) return false;
  if (typeof e.eventId !== 'string' || e.eventId.length < 1 || e.eventId.length > 128) return false;
  if (typeof e.groupId !== 'string' || !GROUP_ID_PATTERN.test(e.groupId)) return false;
  if (!isKeyMap(e.keys)) return false;
  return e.op === 'PUT' ? e.image !== undefined && isAttributeMap(e.image) : e.image === undefined;
}

const ENVELOPE_FIELDS: ReadonlySet<string> = new Set(['v', 'op', 'table', 'keys', 'image', 'seq', 'at', 'eventId', 'groupId', 'origin']);
const OPS: ReadonlySet<string> = new Set(CHANGE_OPS);
const ORIGINS: ReadonlySet<string> = new Set(CHANGE_ORIGINS);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** One or two key attributes, each S, N or B (what decodeEnvelope requires beyond the schema). */
function isKeyMap(value: unknown): boolean {
  if (!isAttributeMap(value)) return false;
  let count = 0;
  for (const name in value) {
    const v = value[name] as Record<string, unknown>;
    if (!('S' in v || 'N' in v || 'B' in v)) return false;
    count++;
  }
  return count === 1 || count === 2;
}

function isAttributeMap(value: unknown): value is Record<string, unknown> {
  if (!isPlainObject(value)) return false;
  for (const name in value) {
    if (!isAttributeValue(value[name])) return false;
  }
  return true;
}

function isAttributeValue(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  let tag: string | undefined;
  for (const name in value) {
    if (tag !== undefined) return false;
    tag = name;
  }
  const inner = tag === undefined ? undefined : value[tag];
  switch (tag) {
    case 'S': return typeof inner === 'string';
    case 'N': return typeof inner === 'string' && NUMBER_PATTERN.test(inner);
    case 'B': return typeof inner === 'string' && BASE64_PATTERN.test(inner);
    case 'SS': return isNonEmptyArrayOf(inner, (s) => typeof s === 'string');
    case 'NS': return isNonEmptyArrayOf(inner, (s) => typeof s === 'string' && NUMBER_PATTERN.test(s));
    case 'BS': return isNonEmptyArrayOf(inner, (s) => typeof s === 'string' && BASE64_PATTERN.test(s));
    case 'M': return isAttributeMap(inner);
    case 'L': return Array.isArray(inner) && everyElement(inner, isAttributeValue);
    case 'NULL': return inner === true;
    case 'BOOL': return typeof inner === 'boolean';
    default: return false;
  }
}

function isNonEmptyArrayOf(value: unknown, element: (item: unknown) => boolean): boolean {
  return Array.isArray(value) && value.length > 0 && everyElement(value, element);
}

// Not Array.prototype.every: it skips the holes of a sparse array, which the schema rejects.
function everyElement(array: readonly unknown[], element: (item: unknown) => boolean): boolean {
  for (let i = 0; i < array.length; i++) if (!element(array[i])) return false;
  return true;
}
