import { canonicalNumber, ownValue } from '../handlers/core/attribute-value';
import type { AttributeMapWire, AttributeValueWire } from '../schemas/attribute-value';

/**
 * Exact comparison of DynamoDB items in wire form, as `verify` and local mode need it: every type
 * tag and every character must match, except that sets (SS, NS, BS) are unordered and numbers
 * compare by exact decimal value (canonicalNumber: digit strings, never floats). DynamoDB itself
 * treats "1.50" and "1.5" as one number and returns the normalised form; DynamoDB Local, however,
 * stores numbers written by an UpdateItem SET verbatim ("1.50") while PutItem, BatchWriteItem and
 * the stream normalise them (verified here on 1.25.1) — a replica written from the stream would
 * otherwise look different from its source for no real reason.
 */
export function attributeValuesEqual(a: AttributeValueWire, b: AttributeValueWire): boolean {
  if ('S' in a) return 'S' in b && a.S === b.S;
  if ('N' in a) return 'N' in b && canonicalNumber(a.N) === canonicalNumber(b.N);
  if ('B' in a) return 'B' in b && a.B === b.B;
  if ('BOOL' in a) return 'BOOL' in b && a.BOOL === b.BOOL;
  if ('NULL' in a) return 'NULL' in b && a.NULL === b.NULL;
  if ('SS' in a) return 'SS' in b && setsEqual(a.SS, b.SS);
  if ('NS' in a) return 'NS' in b && setsEqual(a.NS.map(canonicalNumber), b.NS.map(canonicalNumber));
  if ('BS' in a) return 'BS' in b && setsEqual(a.BS, b.BS);
  if ('L' in a) return 'L' in b && a.L.length === b.L.length && a.L.every((v, i) => attributeValuesEqual(v, b.L[i]));
  if ('M' in a) return 'M' in b && itemsEqual(a.M, b.M);
  return false;
}

function setsEqual(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sortedB = [...b].sort();
  return [...a].sort().every((v, i) => v === sortedB[i]);
}

export function itemsEqual(a: AttributeMapWire, b: AttributeMapWire): boolean {
  const namesA = Object.keys(a);
  if (namesA.length !== Object.keys(b).length) return false;
  return namesA.every((name) => {
    const other = ownValue(b, name);
    return other !== undefined && attributeValuesEqual(a[name], other);
  });
}
