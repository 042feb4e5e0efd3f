import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { changeEnvelopeV1Schema } from './change-envelope.v1';
import { replicationConfigFileSchema } from './replication-config';

/**
 * Writes the JSON Schemas of the public formats from their zod definitions (zod 4's
 * z.toJSONSchema; the recursive AttributeValue becomes a $defs entry referenced by $ref).
 * `--check` writes nothing and exits 1 if a committed file differs from what would be generated.
 */
export const JSON_SCHEMA_DIR = join(__dirname, 'json');

function withId(id: string, title: string, schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema, ...rest } = schema;
  return { $schema, $id: id, title, ...rest };
}

/** File name → pretty-printed JSON text with a trailing newline. */
export function generateJsonSchemas(): Record<string, string> {
  const schemas: Record<string, Record<string, unknown>> = {
    'change-envelope.v1.schema.json': withId(
      'change-envelope.v1.schema.json',
      'Change envelope, version 1',
      z.toJSONSchema(changeEnvelopeV1Schema),
    ),
    // io 'input': what a user may write — fields with defaults are optional. Either shape: one replication or `replications: [ … ]`.
    'replication-config.schema.json': withId(
      'replication-config.schema.json',
      'dynamodb-cross-account-replication config',
      z.toJSONSchema(replicationConfigFileSchema, { io: 'input' }),
    ),
  };
  return Object.fromEntries(Object.entries(schemas).map(([file, schema]) => [file, `${JSON.stringify(schema, null, 2)}\n`]));
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const generated = generateJsonSchemas();
  if (!check) mkdirSync(JSON_SCHEMA_DIR, { recursive: true });
  const stale: string[] = [];
  for (const [file, text] of Object.entries(generated)) {
    const path = join(JSON_SCHEMA_DIR, file);
    if (check) {
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(path);
    } else {
      writeFileSync(path, text);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(`JSON Schemas are stale (run \`npm run schemas\`):\n${stale.map((p) => `  ${p}`).join('\n')}\n`);
    return 1;
  }
  process.stdout.write(check ? 'JSON Schemas are up to date\n' : `wrote ${Object.keys(generated).length} JSON Schemas to ${JSON_SCHEMA_DIR}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
