import { createReadStream } from 'node:fs';
import { UserInputError } from '../common/errors';
import { canonicalNumber, itemSizeBytes, ownValue, safeParseKeepingProto, setOwn } from '../handlers/core/attribute-value';
import { keyAttributeNames, type KeySchema } from '../handlers/core/key-schema';
import { attributeMapSchema, NUMBER_PATTERN, type AttributeMapWire } from '../schemas/attribute-value';
import { keySchemaSchema } from '../schemas/replication-config';

/**
 * Input of `ddb-replicate local` (docs/architecture.md#local-mode): `--key-schema pk:S[,sk:N]`, `items.jsonl` (one
 * DynamoDB-JSON item per line) and `ops.jsonl` (put / delete / update). Everything is validated in a
 * first streaming pass, before any emulator starts or any item is written, so bad input costs nothing
 * and names its file and line. Values stay raw wire AttributeValues: nothing is unmarshalled.
 */

/** Bad user input (CLI exit code 2). `file` and `line` (1-based) locate it when it comes from a file. */
export class InvalidInputError extends UserInputError {
  override readonly name: string = 'InvalidInputError';
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    options?: { cause?: unknown },
  ) {
    super(file === undefined ? message : `${file}${line === undefined ? '' : `:${line}`}: ${message}`, options);
  }
}

/** DynamoDB's item size limit (400 KB). */
export const MAX_ITEM_BYTES = 400 * 1024;

export type PutOp = { op: 'put'; item: AttributeMapWire };
export type DeleteOp = { op: 'delete'; key: AttributeMapWire };
export type UpdateOp = { op: 'update'; key: AttributeMapWire; set: AttributeMapWire; remove: string[] };
export type WorkloadOp = PutOp | DeleteOp | UpdateOp;

/** Parses `pk:S` or `pk:S,sk:N`. The type follows the last ':' so attribute names may contain ':'. */
export function parseKeySchemaSpec(spec: string): KeySchema {
  const parts = spec.split(',').map((part) => part.trim());
  if (parts.length < 1 || parts.length > 2 || parts.some((part) => part === '')) {
    throw new InvalidInputError(`--key-schema "${spec}": expected name:TYPE or name:TYPE,name:TYPE (e.g. pk:S,sk:N)`);
  }
  const attributes = parts.map((part) => {
    const colon = part.lastIndexOf(':');
    if (colon <= 0) throw new InvalidInputError(`--key-schema "${spec}": "${part}" must be name:TYPE with TYPE one of S, N, B`);
    return { name: part.slice(0, colon), type: part.slice(colon + 1) };
  });
  if (attributes.length === 2 && attributes[0].name === attributes[1].name) {
    throw new InvalidInputError(`--key-schema "${spec}": partition and sort key must be different attributes`);
  }
  const result = keySchemaSchema.safeParse({ partitionKey: attributes[0], sortKey: attributes[1] });
  if (!result.success) {
    const reasons = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new InvalidInputError(`--key-schema "${spec}": ${reasons} (types are S, N or B)`);
  }
  return result.data;
}

/** Validates one line of items.jsonl: an AttributeValue map holding the key attributes with their declared types. */
export function parseItemLine(text: string, keySchema: KeySchema, file?: string, line?: number): AttributeMapWire {
  const item = parseAttributeMap(parseJson(text, file, line), 'item', file, line);
  checkKeyAttributes(item, keySchema, 'item', false, file, line);
  checkSize(item, 'item', file, line);
  return item;
}

/** Validates one line of ops.jsonl. */
export function parseOpLine(text: string, keySchema: KeySchema, file?: string, line?: number): WorkloadOp {
  const raw = parseJson(text, file, line);
  if (!isPlainObject(raw)) throw new InvalidInputError('an op must be a JSON object such as {"op":"put","item":{…}}', file, line);
  const fields = (allowed: string[]): void => {
    const unknown = Object.keys(raw).filter((name) => !allowed.includes(name));
    if (unknown.length > 0) throw new InvalidInputError(`unknown field(s) ${unknown.map((n) => `"${n}"`).join(', ')} in a "${String(raw.op)}" op (allowed: ${allowed.join(', ')})`, file, line);
  };
  switch (raw.op) {
    case 'put': {
      fields(['op', 'item']);
      const item = parseAttributeMap(raw.item, '"item"', file, line);
      checkKeyAttributes(item, keySchema, '"item"', false, file, line);
      checkSize(item, '"item"', file, line);
      return { op: 'put', item };
    }
    case 'delete': {
      fields(['op', 'key']);
      const key = parseAttributeMap(raw.key, '"key"', file, line);
      checkKeyAttributes(key, keySchema, '"key"', true, file, line);
      return { op: 'delete', key };
    }
    case 'update': {
      fields(['op', 'key', 'set', 'remove']);
      const key = parseAttributeMap(raw.key, '"key"', file, line);
      checkKeyAttributes(key, keySchema, '"key"', true, file, line);
      const set = raw.set === undefined ? {} : parseAttributeMap(raw.set, '"set"', file, line);
      const remove = raw.remove === undefined ? [] : raw.remove;
      if (!Array.isArray(remove) || remove.some((name) => typeof name !== 'string' || name === '')) {
        throw new InvalidInputError('"remove" must be an array of attribute names', file, line);
      }
      const keyNames = keyAttributeNames(keySchema);
      const touched = [...Object.keys(set), ...(remove as string[])].filter((name) => keyNames.includes(name));
      if (touched.length > 0) throw new InvalidInputError(`an update must not change key attribute(s) ${touched.map((n) => `"${n}"`).join(', ')}`, file, line);
      const both = (remove as string[]).filter((name) => Object.prototype.hasOwnProperty.call(set, name));
      if (both.length > 0) throw new InvalidInputError(`attribute(s) ${both.map((n) => `"${n}"`).join(', ')} both set and removed`, file, line);
      if (new Set(remove).size !== remove.length) throw new InvalidInputError('"remove" lists an attribute twice', file, line);
      return { op: 'update', key, set, remove: remove as string[] };
    }
    default:
      throw new InvalidInputError(`"op" must be "put", "delete" or "update", got ${JSON.stringify(raw.op) ?? 'nothing'}`, file, line);
  }
}

/** The primary key of an op (the item's key attributes for a put). */
export function opKey(op: WorkloadOp, keySchema: KeySchema): AttributeMapWire {
  if (op.op !== 'put') return op.key;
  const key: AttributeMapWire = {};
  for (const name of keyAttributeNames(keySchema)) setOwn(key, name, op.item[name]);
  return key;
}

export interface JsonlLine<T> {
  line: number;
  value: T;
}

/**
 * Streams a JSONL file line by line (files may be large), parsing each non-blank line with `parse`.
 * Blank lines are skipped but counted, so line numbers match an editor's. The file is read as bytes
 * and each line decoded as strict UTF-8, so invalid UTF-8 is refused with its line instead of
 * becoming U+FFFD in the data. A UTF-8 byte-order mark is accepted at the start of the file (editors
 * write one) and refused, by name, anywhere else.
 */
export async function* readJsonl<T>(file: string, parse: (text: string, line: number) => T): AsyncGenerator<JsonlLine<T>> {
  const input = createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (cause: NodeJS.ErrnoException) => reject(new InvalidInputError(`cannot read file (${cause.code ?? cause.message})`, file, undefined, { cause })));
  });
  await opened;
  let line = 0;
  let pending: Buffer = Buffer.alloc(0);
  const next = (bytes: Buffer): JsonlLine<T> | undefined => {
    line += 1;
    const text = decodeLine(bytes, file, line);
    return text.trim() === '' ? undefined : { line, value: parse(text, line) };
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let start = 0;
      for (let newline = pending.indexOf(0x0a); newline !== -1; newline = pending.indexOf(0x0a, start)) {
        const parsed = next(pending.subarray(start, newline));
        start = newline + 1;
        if (parsed !== undefined) yield parsed;
      }
      pending = pending.subarray(start);
    }
    if (pending.length > 0) {
      const parsed = next(pending);
      if (parsed !== undefined) yield parsed;
    }
  } catch (cause) {
    if (cause instanceof InvalidInputError) throw cause;
    // A read error after opening (e.g. a directory, EISDIR) is still bad input, not a crash.
    throw new InvalidInputError(`cannot read file (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, file, line + 1, { cause });
  } finally {
    input.destroy();
  }
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function decodeLine(raw: Buffer, file: string, line: number): string {
  let bytes = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, -1) : raw;
  if (bytes.subarray(0, 3).equals(UTF8_BOM)) {
    if (line !== 1) throw new InvalidInputError('a UTF-8 byte-order mark (U+FEFF) starts this line; only the start of the file may carry one', file, line);
    bytes = bytes.subarray(3);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new InvalidInputError('the line is not valid UTF-8 (DynamoDB strings are UTF-8); fix the file\'s encoding', file, line, { cause });
  }
}

export const readItems = (file: string, keySchema: KeySchema): AsyncGenerator<JsonlLine<AttributeMapWire>> =>
  readJsonl(file, (text, line) => parseItemLine(text, keySchema, file, line));

export const readOps = (file: string, keySchema: KeySchema): AsyncGenerator<JsonlLine<WorkloadOp>> =>
  readJsonl(file, (text, line) => parseOpLine(text, keySchema, file, line));

/** The validation pass: reads the whole file, throws InvalidInputError at the first bad line, returns the number of records. */
export async function countValid<T>(lines: AsyncIterable<JsonlLine<T>>): Promise<number> {
  let count = 0;
  for await (const _ of lines) count += 1;
  return count;
}

function parseJson(text: string, file: string | undefined, line: number | undefined): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError(`not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`, file, line, { cause });
  }
}

function parseAttributeMap(raw: unknown, what: string, file: string | undefined, line: number | undefined): AttributeMapWire {
  if (!isPlainObject(raw)) throw new InvalidInputError(`${what} must be a DynamoDB-JSON object such as {"pk":{"S":"a"}}`, file, line);
  // DynamoDB's own rules first, so that an empty set or a duplicate gets its own message.
  const problem = mapProblem(raw, '');
  if (problem !== undefined) throw new InvalidInputError(`${what} ${problem}`, file, line);
  // Keeps attributes named "__proto__" (zod alone drops them).
  const result = safeParseKeepingProto(attributeMapSchema, raw);
  if (!result.success) {
    // Attribute names only, never values: the input may hold real data.
    const issue = result.error.issues[0];
    const where = issue.path.length > 0 ? ` at ${issue.path.map(String).join('.')}` : '';
    throw new InvalidInputError(`${what} is not a valid DynamoDB-JSON AttributeValue map${where}: ${issue.code === 'invalid_union' ? 'expected one of S, N, B, SS, NS, BS, M, L, NULL, BOOL with a value of that type' : issue.message}`, file, line);
  }
  return result.data;
}

/** DynamoDB's limits on numbers (docs/aws-contracts.md, "Input validation"). */
const MAX_NUMBER_DIGITS = 38;
const MAX_NUMBER_EXPONENT = 125; // 9.9999999999999999999999999999999999999E+125
const MIN_NUMBER_EXPONENT = -130; // 1E-130
const MAX_NAME_BYTES = 64 * 1024;

/**
 * What DynamoDB would refuse in an attribute map (names, numbers, sets), as "path: reason", or
 * undefined. Values are never quoted. Anything not shaped like an AttributeValue is left to the schema.
 */
function mapProblem(map: Record<string, unknown>, path: string): string | undefined {
  for (const name of Object.keys(map)) {
    if (name === '') return `has an empty attribute name${path === '' ? '' : ` in ${path}`} (DynamoDB rejects it)`;
    const at = path === '' ? name : `${path}.${name}`;
    if (Buffer.byteLength(name, 'utf8') >= MAX_NAME_BYTES) return `has an attribute name of 64 KB or more${path === '' ? '' : ` in ${path}`} (DynamoDB's limit)`;
    const problem = valueProblem(map[name], at);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function valueProblem(value: unknown, at: string): string | undefined {
  if (!isPlainObject(value)) return undefined;
  const tags = Object.keys(value);
  if (tags.length !== 1) return undefined;
  const tag = tags[0];
  const inner = value[tag];
  switch (tag) {
    case 'N': return typeof inner === 'string' ? numberProblem(inner, at) : undefined;
    case 'SS':
    case 'NS':
    case 'BS': {
      if (!Array.isArray(inner)) return undefined;
      if (inner.length === 0) return `at ${at}: an empty ${tag} set; DynamoDB does not store empty sets (leave the attribute out)`;
      if (!inner.every((element) => typeof element === 'string')) return undefined;
      const elements = inner;
      if (tag === 'NS') {
        for (const n of elements) {
          const problem = numberProblem(n, `${at} (an element)`);
          if (problem !== undefined) return problem;
        }
        if (!elements.every((n) => NUMBER_PATTERN.test(n))) return undefined;
      }
      const identity = tag === 'NS' ? canonicalNumber : tag === 'BS' ? (b: string) => Buffer.from(b, 'base64').toString('base64') : (s: string) => s;
      if (new Set(elements.map(identity)).size !== elements.length) {
        return `at ${at}: the ${tag} set holds the same element twice${tag === 'NS' ? ' (numbers compare by value: 1 and 1.0 are one)' : ''}; DynamoDB refuses duplicates in a set`;
      }
      return undefined;
    }
    case 'M': return isPlainObject(inner) ? mapProblem(inner, at) : undefined;
    case 'L':
      if (!Array.isArray(inner)) return undefined;
      for (const [i, element] of inner.entries()) {
        const problem = valueProblem(element, `${at}.${i}`);
        if (problem !== undefined) return problem;
      }
      return undefined;
    default: return undefined;
  }
}

/** DynamoDB numbers: at most 38 significant digits, magnitude 1E-130 to 9.99…E+125 (either sign), or zero. */
export function numberProblem(n: string, at: string): string | undefined {
  if (!NUMBER_PATTERN.test(n)) return undefined;
  const canonical = canonicalNumber(n);
  if (canonical === '0') return undefined;
  const [mantissa = '', exponent = '0'] = canonical.replace(/^-/, '').split('E');
  if (mantissa.length > MAX_NUMBER_DIGITS) return `at ${at}: a number with ${mantissa.length} significant digits; DynamoDB keeps at most ${MAX_NUMBER_DIGITS} (store it as a string)`;
  const magnitude = mantissa.length - 1 + Number.parseInt(exponent, 10);
  if (magnitude > MAX_NUMBER_EXPONENT) return `at ${at}: a number larger in magnitude than DynamoDB's largest, 9.9999999999999999999999999999999999999E+125`;
  if (magnitude < MIN_NUMBER_EXPONENT) return `at ${at}: a number smaller in magnitude than DynamoDB's smallest non-zero number, 1E-130`;
  return undefined;
}

function checkKeyAttributes(map: AttributeMapWire, keySchema: KeySchema, what: string, exact: boolean, file: string | undefined, line: number | undefined): void {
  const attributes = keySchema.sortKey ? [keySchema.partitionKey, keySchema.sortKey] : [keySchema.partitionKey];
  for (const { name, type } of attributes) {
    const value = ownValue(map, name);
    if (value === undefined) throw new InvalidInputError(`${what} lacks key attribute "${name}" (${type})`, file, line);
    const actual = Object.keys(value)[0];
    if (actual !== type) throw new InvalidInputError(`key attribute "${name}" must be of type ${type}, got ${actual}`, file, line);
    // DynamoDB rejects empty string and binary key values.
    if ((type === 'S' || type === 'B') && (value as Record<string, string>)[type] === '') {
      throw new InvalidInputError(`key attribute "${name}" must not be empty`, file, line);
    }
  }
  if (exact) {
    const extra = Object.keys(map).filter((name) => !attributes.some((attribute) => attribute.name === name));
    if (extra.length > 0) throw new InvalidInputError(`${what} must hold exactly the key attributes; unexpected ${extra.map((n) => `"${n}"`).join(', ')}`, file, line);
  }
}

function checkSize(item: AttributeMapWire, what: string, file: string | undefined, line: number | undefined): void {
  const size = itemSizeBytes(item);
  if (size > MAX_ITEM_BYTES) throw new InvalidInputError(`${what} is about ${size} bytes; DynamoDB items are at most ${MAX_ITEM_BYTES} bytes`, file, line);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
