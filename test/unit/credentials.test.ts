import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
// fromTemporaryCredentials uses the STS client from @aws-sdk/nested-clients (see apply-handler.test.ts).
import { AssumeRoleCommand, STSClient } from '@aws-sdk/nested-clients/sts';
import { mockClient } from 'aws-sdk-client-mock';
import { targetCredentials } from '../../handlers/core/credentials';

/**
 * The target-role credentials across their expiry, on an injected clock (Date.now, which the SDK's
 * identity cache reads): a client built once keeps one assumed session while it is valid, assumes
 * the role again shortly before it expires (the SDK refreshes within 5 minutes of expiry), and never
 * signs a request with credentials that have expired. The requests are really signed (only the
 * HTTP call is cut short), so the access key seen is the one DynamoDB would see.
 */
const sts = mockClient(STSClient);
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 0, 0, 0);
let clock = T0;
let issued = 0;
/** Expiry of each access key the mocked STS issued. */
const expiries = new Map<string, number>();

beforeEach(() => {
  clock = T0;
  issued = 0;
  expiries.clear();
  jest.spyOn(Date, 'now').mockImplementation(() => clock);
  sts.reset();
  sts.on(AssumeRoleCommand).callsFake(async () => {
    issued += 1;
    const accessKeyId = `ASIATARGET${issued}`;
    const expiration = clock + HOUR;
    expiries.set(accessKeyId, expiration);
    return { Credentials: { AccessKeyId: accessKeyId, SecretAccessKey: `secret-${issued}`, SessionToken: `token-${issued}`, Expiration: new Date(expiration) } };
  });
});

afterEach(() => {
  jest.restoreAllMocks();
});

/** A DynamoDB client on the target credentials whose requests are signed, recorded, and answered locally. */
function recordingClient(): { client: DynamoDBClient; calls: { at: number; accessKeyId: string }[] } {
  const calls: { at: number; accessKeyId: string }[] = [];
  const client = new DynamoDBClient({
    region: 'eu-west-2',
    credentials: targetCredentials({ roleArn: 'arn:aws:iam::222222222222:role/ddbrepl-demo-dr-target', externalId: 'ext-123', region: 'eu-west-2', sessionName: 'ddbrepl-apply-dr' }),
    // The request arrives here signed: read the signature's access key, answer without a network call.
    requestHandler: {
      handle: async (request: { headers: Record<string, string> }) => {
        const authorization = request.headers.authorization ?? '';
        const accessKeyId = /Credential=([^/]+)\//.exec(authorization)?.[1];
        if (accessKeyId === undefined) throw new Error(`request not signed: "${authorization}"`);
        calls.push({ at: clock, accessKeyId });
        return { response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: new TextEncoder().encode('{}') } };
      },
    },
  });
  return { client, calls };
}

const getItem = new GetItemCommand({ TableName: 'target', Key: { pk: { S: 'a' } } });

it('assumes the role again before the credentials expire, and never signs with expired ones', async () => {
  const { client, calls } = recordingClient();

  await client.send(getItem); // t0: first AssumeRole
  clock = T0 + 30 * 60_000;
  await client.send(getItem); // half-way: the cached session
  clock = T0 + HOUR - 4 * 60_000;
  await client.send(getItem); // 4 minutes before expiry: refreshed ahead of time
  clock = T0 + 5 * HOUR;
  await client.send(getItem); // long after the second session expired (a function idle for hours)

  expect(calls.map((c) => c.accessKeyId)).toEqual(['ASIATARGET1', 'ASIATARGET1', 'ASIATARGET2', 'ASIATARGET3']);
  for (const call of calls) expect(expiries.get(call.accessKeyId)!).toBeGreaterThan(call.at);
  const assumed = sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input);
  expect(assumed).toHaveLength(3);
  for (const input of assumed) {
    expect(input).toEqual({ RoleArn: 'arn:aws:iam::222222222222:role/ddbrepl-demo-dr-target', RoleSessionName: 'ddbrepl-apply-dr', ExternalId: 'ext-123', DurationSeconds: 3600 });
  }
  client.destroy();
});

it('keeps one session for many calls while it is valid (no AssumeRole per call)', async () => {
  const { client, calls } = recordingClient();
  for (let minute = 0; minute < 55; minute += 5) {
    clock = T0 + minute * 60_000;
    await client.send(getItem);
  }
  expect(new Set(calls.map((c) => c.accessKeyId))).toEqual(new Set(['ASIATARGET1']));
  expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
  client.destroy();
});
