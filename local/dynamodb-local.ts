import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { registerCleanup } from './cleanup';
import { EmulatorError } from './errors';
import { freePort, waitUntilAnswering, watchExit } from './net';

/**
 * DynamoDB Local 1.25.1 — the real AWS jar shipped in `amplify-dynamodb-simulator` (docs/architecture.md#local-mode, #emulator-facts).
 *
 * `-sharedDb`: without it every access-key/region pair sees its own database, and the apply
 * handler's assumed-role credentials would see no tables. It writes `shared-local-instance.db`
 * into the working directory even with `-inMemory`, so it runs in a fresh temp directory.
 *
 * No orphans: java runs under a tiny `sh` supervisor in its own process group. The supervisor
 * holds our stdin pipe; when this process ends — however abruptly, even SIGKILL — the pipe closes,
 * and the supervisor kills java. A graceful stop kills the whole group.
 */
export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  port?: number;
  onLog?: (line: string) => void;
  /**
   * A fail-safe, not a speed claim: a JVM start on a loaded 2-core machine has taken over 40 s, and
   * a process that dies is noticed at once (`alive`). @default 90000
   */
  startTimeoutMs?: number;
}

export const JAVA_MISSING_MESSAGE =
  'DynamoDB Local needs a Java runtime (java was not found on PATH). Install a JRE, e.g. ' +
  '`sudo apt-get install -y default-jre-headless` (Debian/Ubuntu) or `brew install openjdk` (macOS), then retry.';

/**
 * sh: keep our stdin on fd 3, start java in the background, kill it when fd 3 reaches EOF (parent
 * gone), then remove the work directory — so even a parent killed with SIGKILL leaves nothing.
 */
const SUPERVISOR = 'exec 3<&0 </dev/null; "$@" & child=$!; (cat <&3 >/dev/null; kill "$child" 2>/dev/null) & wait "$child"; status=$?; rm -rf -- "$DDB_LOCAL_WORKDIR"; exit $status';

function emulatorDir(): string {
  return join(dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
}

function assertJava(): void {
  // env passed explicitly: under jest, process.env is a sandbox copy that child_process would not see.
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore', env: process.env });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new EmulatorError(JAVA_MISSING_MESSAGE, { cause: probe.error });
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  // Always try the group: the supervisor may have exited while its watcher is still in the group.
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is what we want.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export async function startDynamoDbLocal(opts: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  assertJava();
  const dir = emulatorDir();
  const port = opts.port ?? (await freePort());
  const workDir = mkdtempSync(join(tmpdir(), 'ddb-local-'));
  const args = [
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    // Its own temp dir (the libsqlite4java copy lands there and goes with it) and no hsperfdata file
    // in /tmp: a killed JVM leaves nothing behind.
    `-Djava.io.tmpdir=${workDir}`,
    '-XX:-UsePerfData',
    '-jar', join(dir, 'DynamoDBLocal.jar'),
    '-inMemory', '-sharedDb', '-disableTelemetry', '-port', String(port),
  ];
  const child = spawn('sh', ['-c', SUPERVISOR, 'ddb-local-supervisor', 'java', ...args], {
    cwd: workDir,
    env: { ...process.env, DDB_LOCAL_WORKDIR: workDir },
    detached: true, // own process group, so stop() reaches java and the supervisor at once
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log = opts.onLog ?? (() => undefined);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream !== null) createInterface({ input: stream }).on('line', (line) => log(`[dynamodb-local] ${line}`));
  }
  const { exited, reason: exitReason } = watchExit(child);
  const removeWorkDir = (): void => rmSync(workDir, { recursive: true, force: true });
  const unregister = registerCleanup(() => {
    killGroup(child, 'SIGKILL');
    removeWorkDir();
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Closing stdin lets the supervisor stop java and reap it (a group kill would leave the
      // reaping to init); signals are the fallback if that does not happen in time.
      child.stdin?.end();
      const termTimer = setTimeout(() => killGroup(child, 'SIGTERM'), 3000);
      const killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), 6000);
      await exited;
      clearTimeout(termTimer);
      clearTimeout(killTimer);
      killGroup(child, 'SIGKILL'); // anything of the group still there (normally nothing)
      unregister();
      removeWorkDir();
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(endpoint, {
      timeoutMs: opts.startTimeoutMs ?? 90_000,
      what: 'DynamoDB Local',
      alive: exitReason,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as { unref?: () => void } | null)?.unref?.();
  }
  log(`[dynamodb-local] listening on ${endpoint} (pid ${child.pid ?? '?'})`);
  return { endpoint, pid: child.pid ?? -1, stop };
}
