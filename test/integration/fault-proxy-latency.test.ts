import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFaultProxy, type FaultProxy } from '../../local/fault-proxy';

/**
 * The fault proxy's latency injection (the bench's 5 / 70 ms RTT model). The sleeper is injected:
 * the test checks that the proxy asks for the configured delay once per request and forwards only
 * after the delay has passed — by events, never by measuring time.
 */

interface Upstream {
  server: Server;
  url: string;
  received: string[];
}

async function startUpstream(): Promise<Upstream> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    received.push(`${req.method ?? ''} ${req.url ?? ''} ${String(req.headers['x-amz-target'] ?? '')}`);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

function post(endpoint: string, path: string, target: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}${path}`, { method: 'POST', headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.0' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.once('error', reject);
    req.end(body);
  });
}

/** A sleeper the test controls: each call is recorded and waits until the test releases it. */
function controlledSleeper() {
  const calls: number[] = [];
  const pending: Array<() => void> = [];
  let onCall: (() => void) | undefined;
  const sleep = (ms: number): Promise<void> => {
    calls.push(ms);
    const released = new Promise<void>((resolve) => pending.push(resolve));
    onCall?.();
    return released;
  };
  const nextCall = (): Promise<void> => new Promise((resolve) => (onCall = resolve));
  const releaseAll = (): void => {
    for (const release of pending.splice(0)) release();
  };
  return { sleep, calls, nextCall, releaseAll };
}

describe('fault proxy latency injection', () => {
  let upstream: Upstream;
  let proxy: FaultProxy | undefined;

  beforeEach(async () => {
    upstream = await startUpstream();
  });

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    await new Promise((resolve) => upstream.server.close(resolve));
  });

  it('asks for the added RTT before forwarding each request, of every kind', async () => {
    const sleeper = controlledSleeper();
    proxy = await startFaultProxy({ upstream: upstream.url, addedRttMs: 70, sleep: sleeper.sleep });

    const called = sleeper.nextCall();
    const answer = post(proxy.endpoint, '/', 'DynamoDB_20120810.BatchWriteItem', '{"RequestItems":{}}');
    await called;
    // The proxy is waiting in the sleeper: nothing has reached the upstream yet.
    expect(sleeper.calls).toEqual([70]);
    expect(upstream.received).toEqual([]);
    sleeper.releaseAll();
    await expect(answer).resolves.toEqual({ status: 200, body: '{"ok":true}' });
    expect(upstream.received).toEqual(['POST / DynamoDB_20120810.BatchWriteItem']);

    // Any other request (a PutItem, an STS AssumeRole form post) pays the same RTT.
    const second = sleeper.nextCall();
    const put = post(proxy.endpoint, '/', 'DynamoDB_20120810.PutItem', '{}');
    await second;
    expect(upstream.received).toHaveLength(1);
    sleeper.releaseAll();
    await put;
    const third = sleeper.nextCall();
    const sts = post(proxy.endpoint, '/?Action=AssumeRole', '', 'Action=AssumeRole');
    await third;
    sleeper.releaseAll();
    await sts;
    expect(sleeper.calls).toEqual([70, 70, 70]);
    expect(upstream.received).toEqual(['POST / DynamoDB_20120810.BatchWriteItem', 'POST / DynamoDB_20120810.PutItem', 'POST /?Action=AssumeRole ']);
    expect(proxy.stats().batchWrites).toBe(1);
  });

  it('adds nothing when addedRttMs is 0 or absent, and works with no fault injector', async () => {
    const sleeper = controlledSleeper();
    proxy = await startFaultProxy({ upstream: upstream.url, sleep: sleeper.sleep });
    await expect(post(proxy.endpoint, '/', 'DynamoDB_20120810.BatchWriteItem', '{}')).resolves.toEqual({ status: 200, body: '{"ok":true}' });
    expect(sleeper.calls).toEqual([]);
  });

  it('refuses a negative or non-finite RTT', async () => {
    await expect(startFaultProxy({ upstream: upstream.url, addedRttMs: -1 })).rejects.toThrow('addedRttMs must be a finite number ≥ 0, got -1');
    await expect(startFaultProxy({ upstream: upstream.url, addedRttMs: Number.NaN })).rejects.toThrow(RangeError);
  });
});
