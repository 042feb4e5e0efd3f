import { ReplicationError } from '../../handlers/core/errors';

/** A measurement that cannot be trusted (a variant failed, a result is inconsistent). */
export class BenchError extends ReplicationError {
  override readonly name: string = 'BenchError';
}
