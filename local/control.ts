import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { keySchemaSchema } from '../schemas/replication-config';
import { ReplicationError } from '../handlers/core/errors';
import { EmulatorError, InvalidFaultSpecError } from './errors';
import { parseFaults } from './faults';
import { lagPercentiles } from '../common/format';
import { DEFAULT_SESSION_FILE } from '../common/session-file';
import { LOCAL_REGION, LOCAL_TARGET } from './session-constants';
import type { LocalSession, LocalStats } from './session';

/**
 * The control channel of a kept local session (`ddb-replicate local --keep`): a session file that
 * tells other `ddb-replicate … --local` processes where the emulators are, and a tiny HTTP API on
 * loopback that exposes what only the session's own process knows (its stats, whether the apply
 * is paused) and lets them pause/resume the apply, change the fault rates, or stop it.
 *
 * The API answers only requests carrying the session's random token (kept in the 0600 session
 * file), so another local user cannot stop or pause the session.
 */

export const SESSION_FILE_VERSION = 1 as const;

export const localSessionFileSchema = z.strictObject({
  version: z.literal(SESSION_FILE_VERSION),
  target: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  controlUrl: z.string().url(),
  token: z.string().min(16),
  region: z.string(),
  /** Static credentials the emulators accept (not secrets). */
  credentials: z.strictObject({ accessKeyId: z.string(), secretAccessKey: z.string() }),
  endpoints: z.strictObject({ dynamodb: z.string().url(), sqs: z.string().url(), sts: z.string().url() }),
  sourceTableName: z.string(),
  targetTableName: z.string(),
  queueUrl: z.string(),
  deadLetterQueueUrl: z.string(),
  keySchema: keySchemaSchema,
});
export type LocalSessionFile = z.infer<typeof localSessionFileSchema>;

/** The session file is missing, unreadable or from another version. */
export class LocalSessionFileError extends ReplicationError {
  override readonly name: string = 'LocalSessionFileError';
}

export function readSessionFile(file: string): LocalSessionFile {
  const path = resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new LocalSessionFileError(
      missing
        ? `no local session: ${path} does not exist; start one with \`ddb-replicate local --keep --demo\` (in this directory), or pass its session file: --local FILE`
        : `local session file ${path} is not readable JSON`,
      { cause },
    );
  }
  const parsed = localSessionFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new LocalSessionFileError(`${path} is not a local session file of this version (${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')})`);
  }
  return parsed.data;
}

/** Writes the file readable by its owner only (it holds the control token); the default directory gets a `*` .gitignore. */
export function writeSessionFile(file: string, content: LocalSessionFile): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  // Keeps the directory out of git without touching the project's .gitignore.
  if (resolve(file) === resolve(DEFAULT_SESSION_FILE)) writeFileSync(join(dirname(path), '.gitignore'), '*\n');
  writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** What GET /status answers. */
export interface ControlStatus {
  target: string;
  applyPaused: boolean;
  /** The pipe emulator reads the stream from start to stop: RUNNING while the session lives. */
  pipeState: 'RUNNING';
  stats: Omit<LocalStats, 'lagMs'>;
  /** Changes applied in the last 60 s (sampled every second). */
  appliedLastMinute: number;
  /** Lag of the changes applied in the last 60 s; null without samples. */
  lagLastMinute: { p50Ms: number | null; p99Ms: number | null; maxMs: number | null; samples: number };
}

export interface ControlServer {
  readonly url: string;
  readonly token: string;
  /** Resolves when POST /stop was received (the caller then stops the session). */
  readonly stopRequested: Promise<void>;
  close(): Promise<void>;
}

const SAMPLE_EVERY_MS = 1000;
const WINDOW_MS = 60_000;

/** Serves the control API for `session` on 127.0.0.1 (a free port unless given). */
export async function startControlServer(session: LocalSession, opts: { port?: number; onLog?: (line: string) => void } = {}): Promise<ControlServer> {
  const token = randomBytes(24).toString('base64url');
  const log = opts.onLog ?? (() => undefined);
  let paused = false;
  let requestStop: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolveStop) => {
    requestStop = resolveStop;
  });

  // Last-minute figures: applied counts sampled each second, lag samples tagged with their arrival time.
  const appliedSamples: { at: number; applied: number }[] = [];
  const lagSamples: { at: number; lagMs: number }[] = [];
  let lagSeen = 0;
  const sample = (): void => {
    const now = Date.now();
    const stats = session.stats();
    appliedSamples.push({ at: now, applied: stats.messagesApplied });
    for (const lag of stats.lagMs.slice(lagSeen)) lagSamples.push({ at: now, lagMs: lag });
    lagSeen = stats.lagMs.length;
    while (appliedSamples.length > 1 && now - appliedSamples[0].at > WINDOW_MS) appliedSamples.shift();
    while (lagSamples.length > 0 && now - lagSamples[0].at > WINDOW_MS) lagSamples.shift();
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_EVERY_MS);
  sampler.unref();

  const status = (): ControlStatus => {
    sample();
    const { lagMs: _all, ...stats } = session.stats();
    const first = appliedSamples[0];
    const lags = lagSamples.map((s) => s.lagMs);
    const { p50, p99 } = lagPercentiles(lags);
    return {
      target: LOCAL_TARGET.name,
      applyPaused: paused,
      pipeState: 'RUNNING',
      stats,
      appliedLastMinute: stats.messagesApplied - first.applied,
      lagLastMinute: { p50Ms: p50, p99Ms: p99, maxMs: lags.length === 0 ? null : Math.max(...lags), samples: lags.length },
    };
  };

  const routes: Record<string, (body: string) => Promise<unknown>> = {
    'GET /status': () => Promise.resolve(status()),
    'POST /pause': async () => {
      await session.pauseApply();
      paused = true;
      return { applyPaused: true };
    },
    'POST /resume': async () => {
      await session.resumeApply();
      paused = false;
      return { applyPaused: false };
    },
    // A throw here (a bad fault spec) is caught where the route is awaited and answered with 400.
    'POST /faults': (body) => {
      session.setFaults(parseFaults(body));
      return Promise.resolve({ faults: body });
    },
    'POST /stop': () => {
      requestStop();
      return Promise.resolve({ stopping: true });
    },
  };

  const expected = Buffer.from(`Bearer ${token}`);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const send = (code: number, value: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(value)}\n`);
    };
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      send(401, { error: 'missing or wrong token: it is in the session file' });
      return;
    }
    const route = routes[`${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]}`];
    if (route === undefined) {
      send(404, { error: `unknown route; known: ${Object.keys(routes).join(', ')}` });
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      send(200, await route(Buffer.concat(chunks).toString('utf8')));
    } catch (error) {
      log(`[control] ${req.method} ${req.url} failed: ${String(error)}`);
      send(error instanceof InvalidFaultSpecError ? 400 : 500, { error: error instanceof Error ? error.message : String(error) });
    }
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  const port = await new Promise<number>((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const address = server.address();
      resolvePort(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    stopRequested,
    close: () => {
      closing ??= new Promise<void>((resolveClose) => {
        clearInterval(sampler);
        server.closeAllConnections();
        server.close(() => resolveClose());
      });
      return closing;
    },
  };
}

/** The session-file content describing `session` served at `control`. */
export function sessionFileContent(session: LocalSession, control: Pick<ControlServer, 'url' | 'token'>, keySchema: LocalSessionFile['keySchema']): LocalSessionFile {
  return {
    version: SESSION_FILE_VERSION,
    target: LOCAL_TARGET.name,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    controlUrl: control.url,
    token: control.token,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    endpoints: { ...session.endpoints },
    sourceTableName: session.sourceTableName,
    targetTableName: session.targetTableName,
    queueUrl: session.queueUrl,
    deadLetterQueueUrl: session.deadLetterQueueUrl,
    keySchema,
  };
}

/** Removes the session file if it still describes this process's session. */
export function removeSessionFile(file: string, token: string): void {
  try {
    if (readSessionFile(file).token !== token) return; // a newer session took the file over
  } catch {
    return; // already gone or replaced by something unreadable: not ours to delete
  }
  rmSync(resolve(file), { force: true });
  removeEmptySessionDir(file);
}

/** The default directory goes too once it holds nothing but the .gitignore writeSessionFile put there. */
export function removeEmptySessionDir(file: string): void {
  if (resolve(file) !== resolve(DEFAULT_SESSION_FILE)) return;
  const dir = dirname(resolve(file));
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return; // already gone
  }
  if (entries.length === 1 && entries[0] === '.gitignore' && readFileSync(join(dir, '.gitignore'), 'utf8') === '*\n') rmSync(join(dir, '.gitignore'));
  else if (entries.length > 0) return; // someone else's files: leave them
  rmdirSync(dir);
}

/** A client of the control API, for `--local` commands in other processes. */
export interface ControlClient {
  status(): Promise<ControlStatus>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  setFaults(spec: string): Promise<void>;
  stop(): Promise<void>;
}

export function controlClient(file: Pick<LocalSessionFile, 'controlUrl' | 'token'>, sessionFile = DEFAULT_SESSION_FILE as string): ControlClient {
  const call = <T>(method: 'GET' | 'POST', path: string, body = ''): Promise<T> =>
    new Promise<T>((resolveCall, reject) => {
      const req = request(`${file.controlUrl}${path}`, { method, timeout: 30_000, headers: { authorization: `Bearer ${file.token}`, 'content-type': 'text/plain' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch (cause) {
            reject(new EmulatorError(`the local session's control API answered ${method} ${path} with something that is not JSON (HTTP ${res.statusCode ?? '?'})`, { cause }));
            return;
          }
          if (res.statusCode !== 200) {
            const message = (parsed as { error?: string }).error ?? `HTTP ${res.statusCode ?? '?'}`;
            reject(res.statusCode === 400 ? new InvalidFaultSpecError(message) : new EmulatorError(`the local session refused ${method} ${path}: ${message}`));
            return;
          }
          resolveCall(parsed as T);
        });
        res.on('error', reject);
      });
      req.once('timeout', () => req.destroy(new EmulatorError(`the local session's control API did not answer ${method} ${path} within 30 s`)));
      req.once('error', (cause: NodeJS.ErrnoException) => {
        if (cause instanceof EmulatorError) reject(cause);
        else if (cause.code === 'ECONNREFUSED') {
          reject(new LocalSessionFileError(`the local session of ${sessionFile} is not running (nothing answers on ${file.controlUrl}); start one with \`ddb-replicate local --keep --demo\``, { cause }));
        } else reject(new EmulatorError(`the local session's control API (${file.controlUrl}) failed: ${cause.message}`, { cause }));
      });
      req.end(body);
    });
  return {
    status: () => call<ControlStatus>('GET', '/status'),
    pause: async () => {
      await call('POST', '/pause');
    },
    resume: async () => {
      await call('POST', '/resume');
    },
    setFaults: async (spec) => {
      await call('POST', '/faults', spec);
    },
    stop: async () => {
      await call('POST', '/stop');
    },
  };
}
