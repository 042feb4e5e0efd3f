import { canonicalKey } from '../../handlers/core/attribute-value';
import { attributeMapSchema } from '../../schemas/attribute-value';
import { itemSizeBytes } from '../../handlers/core/attribute-value';
import { MAX_ITEM_BYTES, opKey } from '../../local/input';
import { demoWorkload, updateExpression } from '../../local/workload';

describe('updateExpression', () => {
  it('routes every name and value through placeholders', () => {
    expect(updateExpression({ 'a.b': { N: '1.50' }, status: { S: 'x' } }, ['ttl'])).toEqual({
      UpdateExpression: 'SET #s0 = :s0, #s1 = :s1 REMOVE #r0',
      ExpressionAttributeNames: { '#s0': 'a.b', '#s1': 'status', '#r0': 'ttl' },
      ExpressionAttributeValues: { ':s0': { N: '1.50' }, ':s1': { S: 'x' } },
    });
  });

  it('omits values for REMOVE only, and everything for an empty update', () => {
    expect(updateExpression({}, ['x'])).toEqual({ UpdateExpression: 'REMOVE #r0', ExpressionAttributeNames: { '#r0': 'x' } });
    expect(updateExpression({}, [])).toEqual({});
  });
});

describe('demoWorkload', () => {
  const demo = demoWorkload({ seed: 42, nowMs: 1_800_000_000_000 });

  it('is deterministic for a seed', () => {
    expect(demoWorkload({ seed: 42, nowMs: 1_800_000_000_000 })).toEqual(demo);
    expect(demoWorkload({ seed: 43, nowMs: 1_800_000_000_000 }).ops).not.toEqual(demo.ops);
  });

  it('has the promised mix, valid items, unique seed keys', () => {
    expect(demo.seedItems).toHaveLength(3000);
    expect(demo.ops).toHaveLength(4000);
    expect(demo.mix.largeItems).toBe(4);
    for (const count of Object.values(demo.mix)) expect(count).toBeGreaterThan(0);
    expect(new Set(demo.seedItems.map((item) => canonicalKey(opKey({ op: 'put', item }, demo.keySchema)))).size).toBe(3000);
    for (const item of demo.seedItems.slice(0, 50)) expect(attributeMapSchema.parse(item)).toEqual(item);
    const large = demo.ops.filter((op) => op.op === 'put' && itemSizeBytes(op.item) > 300 * 1024);
    expect(large).toHaveLength(4);
    for (const op of large) expect(itemSizeBytes((op as { item: Parameters<typeof itemSizeBytes>[0] }).item)).toBeLessThan(MAX_ITEM_BYTES);
  });
});
