import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
// fromTemporaryCredentials uses the STS client from @aws-sdk/nested-clients, not @aws-sdk/client-sts:
// that is the class to mock (checked in @aws-sdk/credential-providers 3.1175 dist-cjs/loadSts).
import { AssumeRoleCommand, STSClient } from '@aws-sdk/nested-clients/sts';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { change, keySchema, messageOf } from './support/sqs';

const sts = mockClient(STSClient);
const ddb = mockClient(DynamoDBClient);

const ENV = {
  REPLICATION_NAME: 'demo',
  TARGET_NAME: 'dr',
  SOURCE_TABLE_NAME: 'source',
  SOURCE_REGION: 'eu-west-1',
  KEY_SCHEMA: JSON.stringify(keySchema),
  TARGET_TABLE_NAME: 'target',
  TARGET_REGION: 'eu-west-2',
  TARGET_ROLE_ARN: 'arn:aws:iam::222222222222:role/ddbrepl-demo-dr-target',
  TARGET_EXTERNAL_ID: 'ext-123',
  LOG_LEVEL: 'SILENT',
  METRICS_SINK: 'off',
};

const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs, awsRequestId: 'req-1', functionName: 'apply' }) as unknown as Context;

describe('apply handler', () => {
  type ApplyModule = typeof import('../../handlers/apply');
  let handler: ApplyModule['handler'];
  const regions: string[] = [];

  beforeAll(() => {
    sts.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'AKIDTARGET', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(Date.now() + 3_600_000) },
    });
    // The mocked send skips the signing middleware, so resolve the client's credentials the way signing would.
    ddb.on(BatchWriteItemCommand).callsFake(async (_input, getClient) => {
      const client = getClient();
      regions.push(await client.config.region());
      const identity = await client.config.credentials();
      expect(identity.accessKeyId).toBe('AKIDTARGET');
      return {};
    });
    const saved = { ...process.env };
    Object.assign(process.env, ENV);
    // Required after the environment is set: the module reads it at load, as in Lambda.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after the environment above is set
    ({ handler } = require('../../handlers/apply') as ApplyModule);
    process.env = saved;
  });

  it('applies with the target role, assumed once with the ExternalId across invocations', async () => {
    const event = (id: string): SQSEvent => ({ Records: [messageOf(id, change('PUT', 'a', '1', { x: id }))] });

    expect(await handler(event('m1'), context(60_000))).toEqual({ batchItemFailures: [] });
    expect(await handler(event('m2'), context(60_000))).toEqual({ batchItemFailures: [] });

    expect(ddb.commandCalls(BatchWriteItemCommand)).toHaveLength(2);
    expect(regions).toEqual(['eu-west-2', 'eu-west-2']);
    const assumeRoles = sts.commandCalls(AssumeRoleCommand);
    expect(assumeRoles).toHaveLength(1);
    expect(assumeRoles[0]?.args[0].input).toEqual({
      RoleArn: ENV.TARGET_ROLE_ARN,
      RoleSessionName: 'ddbrepl-apply-dr',
      ExternalId: 'ext-123',
      DurationSeconds: 3600,
    });
  });

  it('reports failures as batchItemFailures when time is short', async () => {
    const response = await handler({ Records: [messageOf('m3', change('PUT', 'b', '1'))] }, context(1_000));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm3' }] });
  });
});
