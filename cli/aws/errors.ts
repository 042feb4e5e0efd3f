import { CliError, EXIT } from '../errors';

/** Error names AWS services use for an IAM denial (the service's own spelling varies). */
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedException', 'AuthorizationError']);
/** No credentials at all: the SDK's provider chain found nothing. */
const NO_CREDENTIALS = new Set(['CredentialsProviderError', 'ProviderError']);

export function isAccessDenied(error: unknown): boolean {
  return typeof error === 'object' && error !== null && ACCESS_DENIED.has((error as { name?: string }).name ?? '');
}

/**
 * One AWS call that failed, as the operator should read it: "missing permission <action> on
 * <resource>" for a denial, a credentials hint when there are none, otherwise the action, the
 * resource and the service's own error. The original error is the `cause` (printed with --debug).
 */
export function awsCallError(error: unknown, action: string, resource: string): CliError {
  const name = typeof error === 'object' && error !== null ? (error as { name?: string }).name ?? 'Error' : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  if (isAccessDenied(error)) return new CliError(`missing permission ${action} on ${resource}`, EXIT.failure, { cause: error });
  if (NO_CREDENTIALS.has(name)) {
    return new CliError(`no AWS credentials for ${action}: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or run aws sso login (${message})`, EXIT.failure, { cause: error });
  }
  return new CliError(`${action} on ${resource} failed: ${name}: ${message}`, EXIT.failure, { cause: error });
}

/** Runs one AWS call, turning its failure into awsCallError(action, resource). */
export async function awsCall<T>(action: string, resource: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw awsCallError(error, action, resource);
  }
}
