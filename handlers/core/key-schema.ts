import { keySchemaSchema } from '../../schemas/replication-config';
import type { z } from 'zod';
import { ConfigurationError } from './errors';

export type KeySchema = z.infer<typeof keySchemaSchema>;

/** Parses the KEY_SCHEMA environment variable (JSON), failing with a message that says what is wrong. */
export function parseKeySchema(json: string): KeySchema {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new ConfigurationError('KEY_SCHEMA is not JSON', { cause });
  }
  const result = keySchemaSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigurationError(`KEY_SCHEMA is invalid: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}

/** The attribute names of the primary key, partition key first. */
export function keyAttributeNames(keySchema: KeySchema): string[] {
  return keySchema.sortKey ? [keySchema.partitionKey.name, keySchema.sortKey.name] : [keySchema.partitionKey.name];
}
