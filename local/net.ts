import type { ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { request } from 'node:http';
import { registerCleanup } from './cleanup';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmulatorError } from './errors';

/** A loopback port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new EmulatorError('could not obtain a free loopback port'))));
    });
  });
}

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true); // any HTTP status means the server is listening and parsing requests
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/**
 * Polls `url` until any HTTP answer arrives. `alive` lets the caller abort early when the process
 * it started has already died (its reason is then in the caller's log, not a timeout here).
 */
export async function waitUntilAnswering(url: string, opts: { timeoutMs: number; what: string; alive?: () => string | undefined }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const dead = opts.alive?.();
    if (dead !== undefined) throw new EmulatorError(`${opts.what} exited before answering: ${dead}`);
    if (await answers(url)) return;
    if (Date.now() > deadline) throw new EmulatorError(`${opts.what} did not answer on ${url} within ${opts.timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Starts an HTTP server of ours on a free loopback port, registered for last-resort cleanup.
 * Returns its endpoint and an idempotent stop (closes the server and every open connection).
 */
export async function listenOnLoopback(server: Server, onStop?: () => void): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.unref();
  const unregister = registerCleanup(() => server.close());
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        unregister();
        server.close(() => resolve());
        server.closeAllConnections();
        onStop?.();
      });
      return stopping;
    },
  };
}

/** Watches a child process: `exited` resolves when it ends; `reason()` says why (or undefined while it runs). */
export function watchExit(child: ChildProcess): { exited: Promise<void>; reason: () => string | undefined } {
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitReason = `exit code ${code ?? 'none'}, signal ${signal ?? 'none'}`;
      resolve();
    });
  });
  child.once('error', (error) => {
    exitReason = error.message;
  });
  return { exited, reason: () => exitReason };
}
