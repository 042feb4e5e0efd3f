import { resolve } from 'node:path';
import { DEFAULT_SESSION_FILE } from '../../common/session-file';
import { removeSessionFile, sessionFileContent, startControlServer, writeSessionFile, type ControlServer } from '../../local/control';
import { formatTable } from '../table';
import { startLocalSession, type LocalSession } from '../../local/session';
import { applyOps, writeSeedItems } from '../../local/workload';
import { CliError, EXIT } from '../errors';
import { untilSignal } from '../operator/args';
import { shownPath } from './target';
import type { CliIo } from '../index';
import { buildInputPlan, type InputPlanOptions } from './input-plan';
import type { DeliveryMode } from '../../schemas/replication-config';

/**
 * `ddb-replicate local --keep`: start a local session, write the given data, let it replicate, then
 * keep everything running for the operator commands (`status|replay|verify|pause|resume --local`)
 * and serve the control API (local/control.ts) until Ctrl-C or POST /stop. Unlike a plain `local`
 * run it does not judge the result: a kept session is for operating, faults and all.
 */
export interface KeepLocalOptions extends InputPlanOptions {
  /** Refused with --keep (a kept session replicates its seed items through the stream). */
  bootstrap?: boolean;
  json?: boolean;
  /** How long to wait for the data to replicate before handing over (the session is kept either way). */
  timeout: number;
  sessionFile?: string;
  /** options.delivery of the kept session's target. @default 'pipe-target' */
  delivery?: DeliveryMode;
}

/**
 * A kept session is for operating: failing changes should reach the DLQ in seconds, not minutes —
 * 2 receives (AWS default 5), a 5 s apply timeout (the config minimum; local mode runs the template), a 1 s visibility timeout (the event-source
 * emulator extends it while a batch runs, as Lambda's six-times-timeout rule does in AWS).
 */
const KEPT_SESSION = { maxReceiveCount: 2, applyTimeoutSeconds: 5, visibilityTimeoutSeconds: 1 } as const;

/** The demo's data, smaller: a kept session should be ready in seconds, even with faults. */
const KEPT_DEMO = { seedItems: 200, ops: 300, largeItems: 1 } as const;

export interface KeepLocalDeps {
  /** Resolves when the session should stop. @default Ctrl-C / SIGTERM, or POST /stop */
  readonly untilStopped?: (control: ControlServer) => Promise<void>;
}

export async function runKeptLocal(opts: KeepLocalOptions, io: CliIo, deps: KeepLocalDeps = {}): Promise<number> {
  if (opts.bootstrap === true) throw new CliError('--keep does not combine with --bootstrap: a kept session replicates its seed items through the stream', EXIT.badInput);
  if (opts.json === true) throw new CliError('--keep prints a summary for people and keeps running; drop --json (the operator commands take --json)', EXIT.badInput);
  const plan = await buildInputPlan(opts, { demo: KEPT_DEMO, demoLabel: 'demo (kept)' });
  const { keySchema, seed, faults } = plan;
  const sessionFile = opts.sessionFile ?? DEFAULT_SESSION_FILE;

  io.stderr.write('starting the emulators…\n');
  const session: LocalSession = await startLocalSession({ keySchema, faults, seed, ...KEPT_SESSION, ...(opts.delivery === undefined ? {} : { delivery: opts.delivery }) });
  let control: ControlServer | undefined;
  try {
    const seeded = await writeSeedItems(session, plan.seedItems(), { keySchema });
    await session.startReplication();
    const written = await applyOps(session, plan.ops(), { keySchema, locate: (op) => plan.locate(op) });
    io.stderr.write(`wrote ${seeded} seed items and ${written} ops; waiting up to ${opts.timeout} s for them to replicate…\n`);
    let drained = true;
    try {
      await session.waitForDrain({ timeoutMs: opts.timeout * 1000 });
    } catch (error) {
      drained = false;
      io.stderr.write(`not drained yet (${error instanceof Error ? error.message : String(error)}); keeping the session anyway\n`);
    }
    control = await startControlServer(session);
    const path = writeSessionFile(sessionFile, sessionFileContent(session, control, keySchema));
    const shown = shownPath(path);
    const selector = resolve(sessionFile) === resolve(DEFAULT_SESSION_FILE) ? '--local' : `--local ${shown}`;
    const stats = session.stats();
    io.stdout.write([
      `ddb-replicate local — session kept (${drained ? 'replication drained' : 'still replicating'})`,
      formatTable([
        ['ran', plan.description],
        ['faults', opts.faults ?? 'none'],
        ['applied', String(stats.messagesApplied)],
        ['DLQ', String(stats.deadLettered)],
        ['session file', shown],
        ['control API', `${control.url} (GET /status, POST /pause, /resume, /faults, /stop; token in the session file)`],
        ['receives', `${KEPT_SESSION.maxReceiveCount} before the DLQ (apply timeout ${KEPT_SESSION.applyTimeoutSeconds} s)`],
        ['seed', String(seed)],
      ]),
      '',
      'In another terminal, in this directory:',
      `  npx ddb-replicate status ${selector}`,
      `  npx ddb-replicate replay ${selector}`,
      `  npx ddb-replicate verify ${selector}`,
      `  npx ddb-replicate pause ${selector}   /   resume ${selector}`,
      `  npx ddb-replicate cutover ${selector}   /   failover ${selector} [--reconcile]   (docs/disaster-recovery.md)`,
      'Change the faults (e.g. heal the apply) while it runs:',
      `  curl -s -X POST -H 'authorization: Bearer ${control.token}' --data 'apply-throttle=0' ${control.url}/faults`,
      'Ctrl-C here (or POST /stop) stops the emulators.',
      '',
    ].join('\n'));
    await (deps.untilStopped ?? untilSignalOrStop)(control);
    io.stderr.write('stopping the emulators…\n');
    removeSessionFile(sessionFile, control.token);
    return EXIT.ok;
  } finally {
    await control?.close();
    await session.stop();
  }
}

function untilSignalOrStop(control: ControlServer): Promise<void> {
  return untilSignal(control.stopRequested);
}
