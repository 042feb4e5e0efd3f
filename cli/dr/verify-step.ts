import { runVerify } from '../operator/verify';
import type { OperatorTarget } from '../targets/types';
import type { VerifySummary } from './cutover';

/**
 * The one place the disaster-recovery commands call verify. The digest verify (issue 13) replaces
 * the implementation here and nothing else: cutover and failover only need the verdict and counts.
 */
export async function verifyTarget(target: Pick<OperatorTarget, 'source' | 'target' | 'keySchema'>, opts: { sample?: number; signal?: AbortSignal } = {}): Promise<VerifySummary & { interrupted: boolean }> {
  const result = await runVerify({
    source: target.source,
    target: target.target,
    keySchema: target.keySchema,
    ...(opts.sample === undefined ? {} : { sample: opts.sample }),
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
  const differing = result.missing + result.extra + result.different;
  return {
    // An interrupted verify compared only part of the tables: never a verdict of equal.
    equal: differing === 0 && !result.interrupted,
    mode: result.mode,
    sourceItems: result.sourceItems,
    checked: result.checked,
    missing: result.missing,
    extra: result.extra,
    different: result.different,
    interrupted: result.interrupted,
  };
}
