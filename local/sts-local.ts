import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './net';

/**
 * A minimal STS for local mode: answers AssumeRole the way the real service does, so the apply
 * handler's unmodified credential code (fromTemporaryCredentials + ExternalId) runs against it.
 *
 * @aws-sdk/client-sts v3 speaks the Query protocol: a form-encoded POST with `Action=AssumeRole&
 * Version=2011-06-15&RoleArn=…&RoleSessionName=…&ExternalId=…`; the answer is XML
 * (AssumeRoleResponse/AssumeRoleResult/{Credentials,AssumedRoleUser}), errors are
 * ErrorResponse/Error/{Type,Code,Message} with HTTP 403 for AccessDenied (STS API reference,
 * "AssumeRole" and "Common Errors"). DynamoDB Local accepts any credentials, so static ones do.
 */
export interface StsLocalOptions {
  /** The only role ARN AssumeRole accepts. */
  roleArn: string;
  /** The ExternalId the role's trust policy requires. */
  externalId: string;
  /** Issued credentials (DynamoDB Local accepts any). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  onLog?: (line: string) => void;
}

export interface StsLocalStats {
  /** Successful AssumeRole calls. */
  assumeRoleCalls: number;
  /** AssumeRole calls refused (wrong/missing ExternalId or role). */
  assumeRoleDenied: number;
}

export interface StsLocal {
  readonly endpoint: string;
  stats(): StsLocalStats;
  stop(): Promise<void>;
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const DEFAULT_DURATION_SECONDS = 3600;

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function errorXml(code: string, message: string, type: 'Sender' | 'Receiver' = 'Sender'): string {
  return `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startStsLocal(opts: StsLocalOptions): Promise<StsLocal> {
  const creds = opts.credentials ?? { accessKeyId: 'ASIALOCALTARGETROLE', secretAccessKey: 'local-target-secret', sessionToken: 'local-target-session-token' };
  const log = opts.onLog ?? (() => undefined);
  const counters: StsLocalStats = { assumeRoleCalls: 0, assumeRoleDenied: 0 };

  const send = (res: ServerResponse, status: number, xml: string): void => {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
    res.end(xml);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const params = new URLSearchParams(await readBody(req));
    const action = params.get('Action');
    if (action !== 'AssumeRole') {
      send(res, 400, errorXml('InvalidAction', `The action ${action ?? '(none)'} is not valid for this web service.`));
      return;
    }
    const roleArn = params.get('RoleArn') ?? '';
    const sessionName = params.get('RoleSessionName') ?? '';
    const externalId = params.get('ExternalId');
    if (roleArn !== opts.roleArn || externalId !== opts.externalId) {
      counters.assumeRoleDenied += 1;
      log(`[sts] AssumeRole denied (${roleArn !== opts.roleArn ? 'unknown role' : externalId === null ? 'missing ExternalId' : 'wrong ExternalId'})`);
      send(res, 403, errorXml('AccessDenied', `User: arn:aws:iam::000000000000:user/local is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`));
      return;
    }
    counters.assumeRoleCalls += 1;
    const durationSeconds = Number(params.get('DurationSeconds') ?? DEFAULT_DURATION_SECONDS);
    const expiration = new Date(Date.now() + durationSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const roleName = roleArn.split('/').pop() ?? 'role';
    const account = roleArn.split(':')[4] ?? '000000000000';
    send(res, 200,
      `<AssumeRoleResponse xmlns="${XMLNS}"><AssumeRoleResult>` +
      `<AssumedRoleUser><AssumedRoleId>AROALOCAL:${xmlEscape(sessionName)}</AssumedRoleId><Arn>arn:aws:sts::${account}:assumed-role/${xmlEscape(roleName)}/${xmlEscape(sessionName)}</Arn></AssumedRoleUser>` +
      `<Credentials><AccessKeyId>${creds.accessKeyId}</AccessKeyId><SecretAccessKey>${creds.secretAccessKey}</SecretAccessKey><SessionToken>${creds.sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
      `</AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`[sts] internal error: ${String(error)}`);
      if (!res.headersSent) send(res, 500, errorXml('InternalFailure', 'local STS failed', 'Receiver'));
    });
  });
  const { endpoint, stop } = await listenOnLoopback(server);
  return {
    endpoint,
    stats: () => ({ ...counters }),
    stop,
  };
}
