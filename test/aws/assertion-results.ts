import { readFileSync } from 'node:fs';

/**
 * The failures recorded in a `cdk deploy --outputs-file` of an integ-tests assertion stack: each
 * assertion writes an `AssertionResults…` output, `{"status":"success"|"fail","message":…}` (read
 * as integ-runner reads it). No file, no stack entry or no result at all is a failure too: a run
 * that asserted nothing must not pass.
 */
export function assertionFailures(file: string, assertionStack: string): string[] {
  let outputs: Record<string, Record<string, string>>;
  try {
    outputs = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  } catch {
    return [`no assertion results in ${file}`];
  }
  const results = Object.entries(outputs[assertionStack] ?? {}).filter(([id]) => id.startsWith('AssertionResults'));
  if (results.length === 0) return [`${assertionStack} reported no assertion results`];
  return results.flatMap(([id, raw]) => {
    let result: { status?: string; message?: string };
    try {
      result = JSON.parse(raw.replace(/\n/g, '\\n')) as { status?: string; message?: string };
    } catch {
      return [`${id}: unreadable result ${raw}`];
    }
    return result.status === 'success' ? [] : [`${id}: ${result.message ?? raw}`];
  });
}
