import { ReplicationError } from '../handlers/core/errors';
import { UserInputError } from '../common/errors';

/** An emulator (DynamoDB Local, fauxqs, the local STS or proxy) could not be started or answered wrongly. */
export class EmulatorError extends ReplicationError {
  override readonly name: string = 'EmulatorError';
}

/** `--faults` named an unknown fault or a rate outside 0..1. */
export class InvalidFaultSpecError extends UserInputError {
  override readonly name: string = 'InvalidFaultSpecError';
}
