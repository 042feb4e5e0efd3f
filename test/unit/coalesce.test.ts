import { coalesceChanges } from '../../handlers/core/coalesce';

const change = (id: string, pk: string, sk: string) => ({ id, keys: { pk: { S: pk }, sk: { N: sk } } });

describe('coalesceChanges', () => {
  it('keeps the last change per item key, in order of last occurrence, and counts the rest', () => {
    const changes = [change('1', 'a', '1'), change('2', 'b', '1'), change('3', 'a', '1'), change('4', 'a', '2'), change('5', 'b', '1')];
    const result = coalesceChanges(changes);
    expect(result.survivors.map((c) => c.id)).toEqual(['3', '4', '5']);
    expect(result.coalesced).toBe(2);
  });

  it('treats the sort key as part of the item key and numbers by value', () => {
    const result = coalesceChanges([change('1', 'a', '1.0'), change('2', 'a', '1'), change('3', 'a', '2')]);
    expect(result.survivors.map((c) => c.id)).toEqual(['2', '3']);
  });

  it('maps every key to its survivor', () => {
    const result = coalesceChanges([change('1', 'a', '1'), change('2', 'a', '1')]);
    expect([...result.survivorByKey.values()].map((c) => c.id)).toEqual(['2']);
  });

  it('returns nothing for nothing', () => {
    expect(coalesceChanges([])).toEqual({ survivors: [], coalesced: 0, survivorByKey: new Map() });
  });
});
