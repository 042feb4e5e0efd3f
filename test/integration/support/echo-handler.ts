/** A Lambda handler for the handler-worker test: echoes what it was given and the env it loaded with. */
import type { Context } from 'aws-lambda';

// Read at module load, as the real handlers read their configuration.
const GREETING = process.env.ECHO_GREETING ?? '(unset)';

export interface EchoEvent {
  value?: unknown;
  fail?: { name: string; message: string };
  /** Return something that cannot cross the thread boundary. */
  unserializable?: boolean;
}

export function handler(event: EchoEvent, context: Context): Promise<unknown> {
  if (event.fail !== undefined) {
    const error = new Error(event.fail.message);
    error.name = event.fail.name;
    return Promise.reject(error);
  }
  if (event.unserializable === true) return Promise.resolve({ fn: () => undefined });
  return Promise.resolve({ greeting: GREETING, value: event.value, functionName: context.functionName, remainingMs: context.getRemainingTimeInMillis() });
}
