import { ReplicationError } from '../handlers/core/errors';

/**
 * The user's input was wrong (an argument, an input file, a fault spec): nothing was started or
 * written. The CLI exits with code 2 for every subclass (cli/errors.ts exitCodeFor), so it needs to
 * know only this class, not each module's own error.
 */
export class UserInputError extends ReplicationError {
  override readonly name: string = 'UserInputError';
}
