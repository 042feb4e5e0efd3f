import { keySchemaSchema } from '../../schemas/replication-config';
import type { z } from 'zod';
import { ENV, parseJsonEnv } from './env';

export type KeySchema = z.infer<typeof keySchemaSchema>;

/** Parses the KEY_SCHEMA environment variable (JSON), failing with a message that says what is wrong. */
export function parseKeySchema(json: string): KeySchema {
  return parseJsonEnv(ENV.keySchema, json, keySchemaSchema);
}

/** The attribute names of the primary key, partition key first. */
export function keyAttributeNames(keySchema: KeySchema): string[] {
  return keySchema.sortKey ? [keySchema.partitionKey.name, keySchema.sortKey.name] : [keySchema.partitionKey.name];
}
