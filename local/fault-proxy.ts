import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { listenOnLoopback } from './net';
import type { FaultInjector } from './faults';

/**
 * An HTTP proxy in front of DynamoDB Local for the apply handler's clients only. It passes every
 * request through unchanged except `DynamoDB_20120810.BatchWriteItem`, where, per the seeded fault
 * rates, it:
 * - throttles: HTTP 400 ProvisionedThroughputExceededException (nothing written), or a 200 that
 *   forwards only part of the request and returns the rest as UnprocessedItems — both exactly as
 *   DynamoDB does, so the handler's retry code is what gets exercised;
 * - crashes mid-batch: forwards the request (the write happens), then cuts the client connection
 *   without answering.
 *
 * DynamoDB Local does not verify SigV4 signatures, so a rewritten (partial) body still passes; the
 * x-amz-crc32 header is dropped from rewritten answers since it no longer matches.
 *
 * With `addedRttMs` it also models network distance (the bench's 5 ms same-Region and 70 ms
 * cross-Region cases): every request, of any kind and to any upstream (DynamoDB Local, the local
 * STS), waits that long before it is forwarded. The wait goes through `sleep`, so tests can check
 * that it was asked for without measuring time.
 */
export interface FaultProxyStats {
  batchWrites: number;
  throttled: number;
  partial: number;
  crashed: number;
}

export interface FaultProxy {
  readonly endpoint: string;
  stats(): FaultProxyStats;
  stop(): Promise<void>;
}

type WriteRequest = Record<string, unknown>;
type RequestItems = Record<string, WriteRequest[]>;

const BATCH_WRITE_TARGET = 'DynamoDB_20120810.BatchWriteItem';
const THROTTLE_BODY = JSON.stringify({
  __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  message: 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
});

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Splits RequestItems into the first `keep` write requests and the rest, preserving table grouping. */
export function splitRequestItems(items: RequestItems, keep: number): { forwarded: RequestItems; unprocessed: RequestItems } {
  const forwarded: RequestItems = {};
  const unprocessed: RequestItems = {};
  let remaining = keep;
  for (const [table, writes] of Object.entries(items)) {
    const head = writes.slice(0, Math.max(0, remaining));
    const tail = writes.slice(head.length);
    remaining -= head.length;
    if (head.length > 0) forwarded[table] = head;
    if (tail.length > 0) unprocessed[table] = tail;
  }
  return { forwarded, unprocessed };
}

export interface FaultProxyOptions {
  upstream: string;
  /** No faults when absent (a pure latency proxy). */
  faults?: FaultInjector;
  /** Round-trip time added to every request. @default 0 */
  addedRttMs?: number;
  /** How the proxy waits. @default node:timers/promises setTimeout */
  sleep?: (ms: number) => Promise<unknown>;
  onLog?: (line: string) => void;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(opts.upstream);
  const agent = new Agent({ keepAlive: true });
  const log = opts.onLog ?? (() => undefined);
  const counters: FaultProxyStats = { batchWrites: 0, throttled: 0, partial: 0, crashed: 0 };
  const addedRttMs = opts.addedRttMs ?? 0;
  if (!Number.isFinite(addedRttMs) || addedRttMs < 0) throw new RangeError(`addedRttMs must be a finite number ≥ 0, got ${addedRttMs}`);
  const sleep = opts.sleep ?? sleepFor;

  const forward = (req: IncomingMessage, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, 'content-length': String(body.length) };
      const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (res) => {
        readBody(res).then((resBody) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: resBody }), reject);
      });
      out.once('error', reject);
      out.end(body);
    });

  const reply = (res: ServerResponse, up: Upstream, body?: Buffer): void => {
    const headers: IncomingHttpHeaders = { ...up.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    if (body !== undefined) delete headers['x-amz-crc32'];
    const payload = body ?? up.body;
    headers['content-length'] = String(payload.length);
    res.writeHead(up.status, headers);
    res.end(payload);
  };

  const handleBatchWrite = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    counters.batchWrites += 1;
    const { faults } = opts;
    if (faults?.fires('applyThrottle') === true) {
      const parsed = JSON.parse(body.toString('utf8')) as { RequestItems?: RequestItems };
      const items = parsed.RequestItems ?? {};
      const total = Object.values(items).reduce((n, writes) => n + writes.length, 0);
      // Half of the throttles reject the whole call, half process part of it (like DynamoDB does under load).
      if (total < 2 || faults.random('applyThrottle') < 0.5) {
        counters.throttled += 1;
        log('[fault-proxy] BatchWriteItem → ProvisionedThroughputExceededException');
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(Buffer.byteLength(THROTTLE_BODY)) });
        res.end(THROTTLE_BODY);
        return;
      }
      counters.partial += 1;
      const keep = 1 + Math.floor(faults.random('applyThrottle') * (total - 1)); // 1..total-1 written
      const { forwarded, unprocessed } = splitRequestItems(items, keep);
      log(`[fault-proxy] BatchWriteItem → ${total - keep} of ${total} UnprocessedItems`);
      const up = await forward(req, Buffer.from(JSON.stringify({ ...parsed, RequestItems: forwarded })));
      if (up.status !== 200) {
        reply(res, up);
        return;
      }
      const answer = JSON.parse(up.body.toString('utf8')) as { UnprocessedItems?: RequestItems };
      const merged: RequestItems = { ...(answer.UnprocessedItems ?? {}) };
      for (const [table, writes] of Object.entries(unprocessed)) merged[table] = [...(merged[table] ?? []), ...writes];
      reply(res, up, Buffer.from(JSON.stringify({ ...answer, UnprocessedItems: merged })));
      return;
    }
    if (faults?.fires('applyCrash') === true) {
      await forward(req, body);
      counters.crashed += 1;
      log('[fault-proxy] BatchWriteItem written, connection cut before the answer');
      req.socket.destroy();
      return;
    }
    reply(res, await forward(req, body));
  };

  const server = createServer((req, res) => {
    readBody(req)
      .then(async (body) => {
        if (addedRttMs > 0) await sleep(addedRttMs);
        return body;
      })
      .then((body) => (req.headers['x-amz-target'] === BATCH_WRITE_TARGET ? handleBatchWrite(req, res, body) : forward(req, body).then((up) => reply(res, up))))
      .catch((error: unknown) => {
        // Upstream unreachable (e.g. during shutdown): answer like a broken gateway so the SDK retries.
        log(`[fault-proxy] upstream error: ${String(error)}`);
        if (!res.headersSent) {
          res.writeHead(502);
          res.end();
        }
      });
  });
  const { endpoint, stop } = await listenOnLoopback(server, () => agent.destroy());
  return {
    endpoint,
    stats: () => ({ ...counters }),
    stop,
  };
}
