import { Logger } from '@aws-lambda-powertools/logger';
import { ENV, optionalEnv } from './env';
import { ConfigurationError } from './errors';

/** What the core needs from a logger; Powertools' Logger fits, tests pass a recorder. */
export type StructuredLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
type LogLevelName = (typeof LOG_LEVELS)[number];

/** One structured JSON logger per function (Powertools), level from LOG_LEVEL. */
export function createLogger(serviceName: string, env: NodeJS.ProcessEnv = process.env): Logger {
  const level = optionalEnv(ENV.logLevel, 'INFO', env).toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigurationError(`environment variable ${ENV.logLevel} must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  return new Logger({ serviceName, logLevel: level as LogLevelName });
}

/**
 * Log fields that identify a change without revealing it: items are named by groupId (a hash of
 * the partition key) and the stream eventId, messages by SQS messageId — never by key or values.
 */
export function changeRef(change: { groupId: string; eventId: string }, messageId?: string): Record<string, string> {
  return messageId === undefined ? { groupId: change.groupId, eventId: change.eventId } : { messageId, groupId: change.groupId, eventId: change.eventId };
}

/**
 * Error name and message (and the cause's name). Our errors never hold values; AWS error messages
 * name attributes, not values. The cause's message is left out: it is not ours to vouch for.
 */
export function errorRef(error: unknown): { errorName: string; errorMessage: string; causeName?: string } {
  if (!(error instanceof Error)) return { errorName: typeof error, errorMessage: 'non-Error thrown' };
  return error.cause instanceof Error
    ? { errorName: error.name, errorMessage: error.message, causeName: error.cause.name }
    : { errorName: error.name, errorMessage: error.message };
}
