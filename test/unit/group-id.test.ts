import fc from 'fast-check';
import { groupIdFor } from '../../handlers/core/group-id';
import type { KeySchema } from '../../handlers/core/key-schema';
import { keyValue } from './support/arbitraries';

const keySchema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };
const SQS_GROUP_ID = /^[A-Za-z0-9_-]+$/;

describe('groupIdFor', () => {
  it('is a SQS-legal MessageGroupId of 43 characters for any partition key (property)', () => {
    fc.assert(fc.property(keyValue, keyValue, (pk, sk) => {
      const groupId = groupIdFor({ pk, sk }, keySchema);
      expect(groupId).toMatch(SQS_GROUP_ID);
      expect(groupId.length).toBe(43); // base64url of 32 bytes; SQS allows up to 128
    }));
  });

  it('handles 2048-byte, unicode and binary partition keys', () => {
    for (const pk of [{ S: 'p'.repeat(2048) }, { S: '顧客#🌍'.repeat(200) }, { B: Buffer.alloc(1024, 0xff).toString('base64') }]) {
      expect(groupIdFor({ pk, sk: { N: '1' } }, keySchema)).toMatch(SQS_GROUP_ID);
    }
  });

  it('is stable: a known key has a known groupId', () => {
    // sha256('["S","user#0001"]') in base64url. Changing the canonical form would move in-flight messages of one item into two groups.
    expect(groupIdFor({ pk: { S: 'user#0001' }, sk: { N: '1' } }, keySchema)).toBe('8W9YTiu1hTY4oBrfDp5_KwnkDGR2HaU5HWCgImwUcyI');
  });

  it('is the same for one partition key whatever the sort key and attribute order (property)', () => {
    fc.assert(fc.property(keyValue, keyValue, keyValue, (pk, sk1, sk2) => {
      expect(groupIdFor({ pk, sk: sk1 }, keySchema)).toBe(groupIdFor({ sk: sk2, pk }, keySchema));
    }));
  });

  it('differs for different partition keys, including the same text as another type', () => {
    const ids = [{ S: 'a' }, { S: 'b' }, { S: '1' }, { N: '1' }, { B: Buffer.from('1').toString('base64') }].map((pk) => groupIdFor({ pk }, keySchema));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('treats numerically equal partition keys as one group', () => {
    expect(groupIdFor({ pk: { N: '1.50' } }, keySchema)).toBe(groupIdFor({ pk: { N: '15E-1' } }, keySchema));
  });

  it('requires the partition key', () => {
    expect(() => groupIdFor({ sk: { N: '1' } }, keySchema)).toThrow('keys lack the partition key attribute "pk"');
  });
});
