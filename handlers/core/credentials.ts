import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';

export type TargetCredentialsProvider = ReturnType<typeof fromTemporaryCredentials>;

export interface TargetCredentialsOptions {
  roleArn: string;
  externalId: string;
  /** Region of the STS endpoint used for AssumeRole (the target's). */
  region: string;
  /** Shows in the target account's CloudTrail; 2-64 of [\w+=,.@-]. */
  sessionName: string;
}

/** One hour: the longest a role allows by default, so refreshes are rare. */
const SESSION_DURATION_SECONDS = 3600;

/**
 * Credentials of the target account's role, assumed with the ExternalId its trust policy requires.
 * Build this once at module scope and hand it to one client: the SDK client memoises the identity
 * and refreshes it shortly before it expires, so a warm function calls AssumeRole about once an
 * hour, never once per invocation. The STS endpoint follows AWS_ENDPOINT_URL_STS like any client.
 */
export function targetCredentials(options: TargetCredentialsOptions): TargetCredentialsProvider {
  return fromTemporaryCredentials({
    params: {
      RoleArn: options.roleArn,
      RoleSessionName: options.sessionName,
      ExternalId: options.externalId,
      DurationSeconds: SESSION_DURATION_SECONDS,
    },
    clientConfig: { region: options.region },
  });
}
