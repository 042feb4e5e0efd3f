import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  countValid,
  InvalidInputError,
  MAX_ITEM_BYTES,
  opKey,
  parseItemLine,
  parseKeySchemaSpec,
  parseOpLine,
  readItems,
  readOps,
} from '../../local/input';
import type { KeySchema } from '../../handlers/core/key-schema';

const composite: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };
const simple: KeySchema = { partitionKey: { name: 'id', type: 'B' } };

describe('parseKeySchemaSpec', () => {
  it('parses a partition key and an optional sort key', () => {
    expect(parseKeySchemaSpec('pk:S')).toEqual({ partitionKey: { name: 'pk', type: 'S' } });
    expect(parseKeySchemaSpec('pk:S, sk:N')).toEqual(composite);
  });

  it('takes the type after the last colon, so names may contain colons', () => {
    expect(parseKeySchemaSpec('a:b:B')).toEqual({ partitionKey: { name: 'a:b', type: 'B' } });
  });

  it.each([
    ['', /expected name:TYPE/],
    ['pk', /must be name:TYPE/],
    ['pk:X', /types are S, N or B/],
    ['pk:s', /types are S, N or B/],
    ['pk:S,sk:N,x:S', /expected name:TYPE/],
    ['pk:S,pk:N', /must be different/],
    [':S', /must be name:TYPE/],
  ])('rejects %j', (spec, message) => {
    expect(() => parseKeySchemaSpec(spec)).toThrow(InvalidInputError);
    expect(() => parseKeySchemaSpec(spec)).toThrow(message);
  });
});

describe('parseItemLine', () => {
  it('accepts every AttributeValue type and keeps values raw', () => {
    const item = {
      pk: { S: 'ü' }, sk: { N: '12345678901234567890123456789012345678' }, e: { N: '1E+125' },
      b: { B: '' }, ss: { SS: ['a'] }, ns: { NS: ['1', '2.50'] }, bs: { BS: ['AAE='] },
      m: { M: { l: { L: [{ NULL: true }, { BOOL: false }, { S: '' }] } } },
    };
    expect(parseItemLine(JSON.stringify(item), composite)).toEqual(item);
  });

  it('names file and line in errors', () => {
    expect(() => parseItemLine('{"pk":', composite, 'items.jsonl', 7)).toThrow(/^items\.jsonl:7: not valid JSON/);
  });

  it.each([
    ['[]', /DynamoDB-JSON object/],
    ['{"pk":{"S":"a"}}', /lacks key attribute "sk" \(N\)/],
    ['{"pk":{"N":"1"},"sk":{"N":"1"}}', /"pk" must be of type S, got N/],
    ['{"pk":{"S":""},"sk":{"N":"1"}}', /"pk" must not be empty/],
    ['{"pk":{"S":"a"},"sk":{"N":"one"}}', /at sk/],
    ['{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"S":"v","N":"1"}}', /at x/],
    ['{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"SS":[]}}', /at x/],
    ['{"pk":{"S":"a"},"sk":{"N":"1"},"x":"plain"}', /at x/],
    ['{"pk":{"S":"a"},"sk":{"N":"1"},"":{"S":"x"}}', /has an empty attribute name \(DynamoDB rejects it\)/],
    ['{"pk":{"S":"a"},"sk":{"N":"1"},"m":{"L":[{"M":{"":{"S":"x"}}}]}}', /has an empty attribute name in m\.0/],
  ])('rejects %s', (text, message) => {
    expect(() => parseItemLine(text, composite, 'f', 1)).toThrow(message);
  });

  // DynamoDB's own refusals, verified on DynamoDB Local 1.25.1 (docs/aws-contracts.md, "Input validation").
  it.each([
    ['39 significant digits', '{"N":"1234567890123456789012345678901234567890"}', /at x: a number with 39 significant digits; DynamoDB keeps at most 38/],
    ['overflow', '{"N":"1E+126"}', /at x: a number larger in magnitude than DynamoDB's largest/],
    ['negative overflow', '{"N":"-10E+125"}', /larger in magnitude/],
    ['overflow through the digits', '{"N":"12345678901234567890123456789012345678E+89"}', /larger in magnitude/],
    ['underflow', '{"N":"9.9E-131"}', /at x: a number smaller in magnitude than DynamoDB's smallest non-zero number, 1E-130/],
    ['negative underflow', '{"N":"-0.1E-130"}', /smaller in magnitude/],
    ['a bad number in a set', '{"NS":["1","1E+200"]}', /at x \(an element\): a number larger/],
    ['an empty NS', '{"NS":[]}', /at x: an empty NS set; DynamoDB does not store empty sets/],
    ['an empty BS deep inside', '{"L":[{"M":{"y":{"BS":[]}}}]}', /at x\.0\.y: an empty BS set/],
    ['duplicates in an SS', '{"SS":["a","b","a"]}', /at x: the SS set holds the same element twice; DynamoDB refuses duplicates/],
    ['duplicates by value in an NS', '{"NS":["1","1.0"]}', /at x: the NS set holds the same element twice \(numbers compare by value: 1 and 1\.0 are one\)/],
    ['duplicates by value in an NS (exponent)', '{"NS":["150","1.5E2"]}', /NS set holds the same element twice/],
    ['duplicates in a BS', '{"BS":["AAE=","AAE="]}', /BS set holds the same element twice/],
  ])('refuses what DynamoDB refuses: %s', (_what, value, message) => {
    expect(() => parseItemLine(`{"pk":{"S":"a"},"sk":{"N":"1"},"x":${value}}`, composite, 'f', 1)).toThrow(message);
  });

  it.each([
    '{"N":"12345678901234567890123456789012345678"}', '{"N":"1' + '0'.repeat(60) + '"}', '{"N":"0.' + '0'.repeat(60) + '1"}',
    '{"N":"9.9999999999999999999999999999999999999E+125"}', '{"N":"-9.9999999999999999999999999999999999999E+125"}',
    '{"N":"1E-130"}', '{"N":"-1E-130"}', '{"N":"0E+999"}', '{"NS":["1","2","1.5"]}', '{"SS":["a","A"]}',
  ])('accepts what DynamoDB accepts: %s', (value) => {
    expect(parseItemLine(`{"pk":{"S":"a"},"sk":{"N":"1"},"x":${value}}`, composite, 'f', 1).x).toEqual(JSON.parse(value));
  });

  it('keeps attributes named __proto__, constructor and toString, at the top level and in maps', () => {
    const text = '{"pk":{"S":"a"},"sk":{"N":"1"},"__proto__":{"M":{"__proto__":{"S":"in"},"constructor":{"N":"2"}}},"toString":{"S":"t"}}';
    const item = parseItemLine(text, composite, 'f', 1);
    expect(JSON.stringify(item)).toBe(text);
    expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
    // A bad value under "__proto__" is refused and named (zod alone would drop the key unchecked).
    expect(() => parseItemLine('{"pk":{"S":"a"},"sk":{"N":"1"},"__proto__":{"S":1}}', composite, 'f', 1)).toThrow(/at __proto__/);
    const op = parseOpLine('{"op":"update","key":{"pk":{"S":"a"},"sk":{"N":"1"}},"set":{"__proto__":{"S":"x"}},"remove":["constructor"]}', composite, 'f', 2);
    expect(op).toEqual({ op: 'update', key: { pk: { S: 'a' }, sk: { N: '1' } }, set: JSON.parse('{"__proto__":{"S":"x"}}') as unknown, remove: ['constructor'] });
    expect(Object.keys((op as { set: object }).set)).toEqual(['__proto__']);
  });

  it('never echoes attribute values in errors', () => {
    expect(() => parseItemLine('{"pk":{"S":"a"},"sk":{"N":"secret-value"}}', composite)).toThrow(/^(?!.*secret-value)/s);
  });

  it('rejects items over 400 KB', () => {
    const big = JSON.stringify({ id: { B: 'AA==' }, blob: { S: 'x'.repeat(MAX_ITEM_BYTES) } });
    expect(() => parseItemLine(big, simple)).toThrow(/at most 409600 bytes/);
  });
});

describe('parseOpLine', () => {
  it('parses put, delete and update', () => {
    expect(parseOpLine('{"op":"put","item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"x"}}}', composite)).toEqual({
      op: 'put', item: { pk: { S: 'a' }, sk: { N: '1' }, v: { S: 'x' } },
    });
    expect(parseOpLine('{"op":"delete","key":{"pk":{"S":"a"},"sk":{"N":"1"}}}', composite)).toEqual({ op: 'delete', key: { pk: { S: 'a' }, sk: { N: '1' } } });
    expect(parseOpLine('{"op":"update","key":{"pk":{"S":"a"},"sk":{"N":"1"}},"set":{"v":{"N":"2"}},"remove":["w"]}', composite)).toEqual({
      op: 'update', key: { pk: { S: 'a' }, sk: { N: '1' } }, set: { v: { N: '2' } }, remove: ['w'],
    });
    expect(parseOpLine('{"op":"update","key":{"id":{"B":"AA=="}}}', simple)).toEqual({ op: 'update', key: { id: { B: 'AA==' } }, set: {}, remove: [] });
  });

  it.each([
    ['"put"', /must be a JSON object/],
    ['{"op":"upsert"}', /"op" must be "put", "delete" or "update", got "upsert"/],
    ['{"item":{}}', /got nothing/],
    ['{"op":"put","item":{"pk":{"S":"a"},"sk":{"S":"1"}}}', /"sk" must be of type N, got S/],
    ['{"op":"put","key":{"pk":{"S":"a"},"sk":{"N":"1"}}}', /unknown field\(s\) "key"/],
    ['{"op":"delete","key":{"pk":{"S":"a"}}}', /lacks key attribute "sk"/],
    ['{"op":"delete","key":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"x"}}}', /exactly the key attributes; unexpected "v"/],
    ['{"op":"update","key":{"pk":{"S":"a"},"sk":{"N":"1"}},"set":{"sk":{"N":"2"}}}', /must not change key attribute\(s\) "sk"/],
    ['{"op":"update","key":{"pk":{"S":"a"},"sk":{"N":"1"}},"remove":["pk"]}', /must not change key attribute\(s\) "pk"/],
    ['{"op":"update","key":{"pk":{"S":"a"},"sk":{"N":"1"}},"remove":"v"}', /"remove" must be an array/],
    ['{"op":"update","key":{"pk":{"S":"a"},"sk":{"N":"1"}},"set":{"v":{"S":"x"}},"remove":["v"]}', /both set and removed/],
    ['{"op":"update","key":{"pk":{"S":"a"},"sk":{"N":"1"}},"set":{"v":{"X":"x"}}}', /"set" is not a valid DynamoDB-JSON AttributeValue map at v/],
  ])('rejects %s', (text, message) => {
    expect(() => parseOpLine(text, composite, 'ops.jsonl', 3)).toThrow(message);
  });

  it('derives the key of a put from its item', () => {
    const op = parseOpLine('{"op":"put","item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"x"}}}', composite);
    expect(opKey(op, composite)).toEqual({ pk: { S: 'a' }, sk: { N: '1' } });
  });
});

describe('readItems / readOps', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'input-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('streams records with 1-based line numbers, skipping blank lines', async () => {
    const file = join(dir, 'items.jsonl');
    writeFileSync(file, '{"pk":{"S":"a"},"sk":{"N":"1"}}\n\n{"pk":{"S":"b"},"sk":{"N":"2"}}\r\n');
    const lines = [];
    for await (const line of readItems(file, composite)) lines.push(line);
    expect(lines).toEqual([
      { line: 1, value: { pk: { S: 'a' }, sk: { N: '1' } } },
      { line: 3, value: { pk: { S: 'b' }, sk: { N: '2' } } },
    ]);
  });

  it('fails at the first bad line with file and line number', async () => {
    const file = join(dir, 'ops.jsonl');
    writeFileSync(file, '{"op":"delete","key":{"pk":{"S":"a"},"sk":{"N":"1"}}}\n{"op":"delete","key":{"pk":{"S":"a"},"sk":{"N":"x"}}}\n');
    await expect(countValid(readOps(file, composite))).rejects.toThrow(`${file}:2: "key" is not a valid DynamoDB-JSON AttributeValue map at sk`);
  });

  it('refuses invalid UTF-8 with its line, before parsing anything after it', async () => {
    const file = join(dir, 'latin1.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from('{"pk":{"S":"a"},"sk":{"N":"1"}}\n{"pk":{"S":"caf'), Buffer.from([0xe9]), Buffer.from('"},"sk":{"N":"2"}}\n')]));
    await expect(countValid(readItems(file, composite))).rejects.toThrow(`${file}:2: the line is not valid UTF-8 (DynamoDB strings are UTF-8); fix the file's encoding`);
  });

  it('accepts a UTF-8 byte-order mark at the start of the file and refuses one anywhere else, by name', async () => {
    const good = join(dir, 'bom.jsonl');
    writeFileSync(good, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"pk":{"S":"a"},"sk":{"N":"1"}}\r\n')]));
    const lines = [];
    for await (const line of readItems(good, composite)) lines.push(line);
    expect(lines).toEqual([{ line: 1, value: { pk: { S: 'a' }, sk: { N: '1' } } }]);
    const bad = join(dir, 'bom-later.jsonl');
    writeFileSync(bad, Buffer.concat([Buffer.from('{"pk":{"S":"a"},"sk":{"N":"1"}}\n'), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"pk":{"S":"b"},"sk":{"N":"1"}}\n')]));
    await expect(countValid(readItems(bad, composite))).rejects.toThrow(`${bad}:2: a UTF-8 byte-order mark (U+FEFF) starts this line; only the start of the file may carry one`);
  });

  it('keeps multi-byte characters split across read chunks intact', async () => {
    const file = join(dir, 'wide.jsonl');
    const value = '€'.repeat(40_000); // 120 KB of 3-byte characters: chunk borders fall inside characters
    writeFileSync(file, `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"${value}"}}\n`);
    const lines = [];
    for await (const line of readItems(file, composite)) lines.push(line);
    expect(lines[0]?.value.v).toEqual({ S: value });
  });

  it('counts a large file without holding it', async () => {
    const file = join(dir, 'many.jsonl');
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => `{"op":"put","item":{"pk":{"S":"k${i}"},"sk":{"N":"${i}"}}}`).join('\n'));
    await expect(countValid(readOps(file, composite))).resolves.toBe(20_000);
  });

  it('reports a directory as bad input', async () => {
    await expect(countValid(readOps(dir, composite))).rejects.toThrow(`${dir}:1: cannot read file (EISDIR)`);
  });

  it('reports a missing file as bad input', async () => {
    const file = join(dir, 'absent.jsonl');
    const failure = countValid(readItems(file, composite));
    await expect(failure).rejects.toBeInstanceOf(InvalidInputError);
    await expect(failure).rejects.toThrow(`${file}: cannot read file (ENOENT)`);
  });
});
