import { createHash } from 'node:crypto';
import type { AttributeMapWire } from '../../schemas/attribute-value';
import { canonicalKeyValue, ownValue } from './attribute-value';
import { ReplicationError } from './errors';
import type { KeySchema } from './key-schema';

/**
 * The FIFO MessageGroupId of an item: base64url(sha256(canonical partition key value incl. its
 * type)). 43 characters of [A-Za-z0-9_-], within SQS's 128-character limit whatever the key (up to
 * 2048 bytes, binary, unicode), and the same for every item of one partition — so all changes to
 * one item, whatever its sort key, stay in one ordered group. Hashing also keeps key values out of
 * SQS metadata and logs.
 */
export function groupIdFor(keys: AttributeMapWire, keySchema: KeySchema): string {
  const partitionKey = ownValue(keys, keySchema.partitionKey.name);
  if (partitionKey === undefined) {
    throw new ReplicationError(`keys lack the partition key attribute "${keySchema.partitionKey.name}"`);
  }
  return createHash('sha256').update(canonicalKeyValue(partitionKey), 'utf8').digest('base64url');
}
