import { createInterface } from 'node:readline/promises';
import type { ReplicationConfig, TargetConfig } from '../../schemas/replication-config';
import { findTarget, loadConfig } from '../targets/aws';
import { operatorTargetTableClient, resolveDeployedTarget } from '../aws/deployed-target';
import { CliError, EXIT, type ExitCode } from '../errors';
import type { CliIo, CliOutput } from '../index';
import { awsBootstrapPorts, type AwsCopy } from './aws-ports';
import { BootstrapAbortedError, BootstrapError, runBootstrap, type BootstrapEvent, type BootstrapSummary } from './orchestrator';
import type { BootstrapPorts } from './ports';

export const BOOTSTRAP_ENGINES = ['scan', 'export', 'direct'] as const;
export type BootstrapEngine = (typeof BOOTSTRAP_ENGINES)[number];

export interface BootstrapCommandOptions {
  target: string;
  /** Required when the config holds several replications. */
  replication?: string;
  engine?: BootstrapEngine;
  segments?: number;
  stack?: string;
  region?: string;
  config?: string;
  targetProfile?: string;
  dryRun?: boolean;
  json?: boolean;
  yes?: boolean;
}

/** What the command needs from outside, injectable for tests. */
export interface BootstrapCommandDeps {
  /** Builds the ports; the default resolves the stack outputs and talks to AWS. */
  readonly ports?: (config: ReplicationConfig, target: TargetConfig, opts: BootstrapCommandOptions) => Promise<{ ports: BootstrapPorts; close: () => void }>;
  /** Asks "proceed?" on a terminal. @default readline on stdin/stderr */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Whether the operator can be asked. @default process.stdin.isTTY */
  readonly interactive?: boolean;
  /** Registers a SIGINT handler; returns the function that removes it. @default process.on('SIGINT') */
  readonly onInterrupt?: (handler: () => void) => () => void;
  /** A second Ctrl-C. @default process.exit */
  readonly forceExit?: (code: number) => void;
  readonly pollIntervalMs?: number;
}

/** `ddb-replicate bootstrap`: resolves the target, then runs (or plans) the orchestrator, with progress on stderr. */
export async function runBootstrapCommand(opts: BootstrapCommandOptions, io: CliIo, deps: BootstrapCommandDeps = {}): Promise<ExitCode> {
  const config = loadConfig({ config: opts.config, replication: opts.replication, notice: (line) => io.stderr.write(`${line}\n`) });
  const target = findTarget(config, opts.target);

  const { ports, close } = await (deps.ports ?? awsPorts)(config, target, opts);
  try {
    if (opts.dryRun) {
      const summary = await runBootstrap({ ports, dryRun: true });
      writeResult(io.stdout, opts, target, summary);
      return EXIT.ok;
    }
    if (opts.yes !== true) {
      const interactive = deps.interactive ?? process.stdin.isTTY === true;
      if (!interactive) throw new CliError('bootstrap pauses the apply of target changes while it copies; pass --yes to run it without a prompt (or --dry-run to see the plan)', EXIT.badInput);
      const question = `Bootstrap target ${target.name}: pause the apply (event source mapping ${ports.names.mapping}), copy ${ports.names.sourceTable} with ${ports.names.copy}, resume. Proceed? [y/N] `;
      if (!(await (deps.confirm ?? confirmOnTerminal)(question))) {
        io.stderr.write('not started; nothing was changed\n');
        return EXIT.failure;
      }
    }

    // First Ctrl-C: graceful (stop the copy, re-enable the mapping, report). Second: leave now.
    const interrupt = new AbortController();
    let interrupts = 0;
    const removeHandler = (deps.onInterrupt ?? onSigint)(() => {
      interrupts += 1;
      if (interrupts === 1) {
        io.stderr.write('\nstopping: the copy is being stopped and the event source mapping re-enabled (Ctrl-C again to leave at once)\n');
        interrupt.abort();
        return;
      }
      io.stderr.write(
        `\nleaving now. The event source mapping ${ports.names.mapping} may still be DISABLED and the copy may still run: ` +
        `check with aws lambda get-event-source-mapping --uuid ${ports.names.mapping}, enable it with --enabled, or re-run bootstrap.\n`,
      );
      (deps.forceExit ?? ((code: number) => process.exit(code)))(EXIT.interrupted);
    });
    const progress = new ProgressWriter(io.stderr);
    try {
      const summary = await runBootstrap({
        ports,
        signal: interrupt.signal,
        onEvent: (event) => progress.event(event),
        ...(deps.pollIntervalMs === undefined ? {} : { pollIntervalMs: deps.pollIntervalMs }),
      });
      progress.end();
      writeResult(io.stdout, opts, target, summary);
      return EXIT.ok;
    } catch (error) {
      progress.end();
      if (error instanceof BootstrapAbortedError) throw new CliError(error.message, EXIT.interrupted, { cause: error });
      if (error instanceof BootstrapError) throw new CliError(error.message, EXIT.failure, { cause: error });
      throw error;
    } finally {
      removeHandler();
    }
  } finally {
    close();
  }
}

async function awsPorts(config: ReplicationConfig, target: TargetConfig, opts: BootstrapCommandOptions): Promise<{ ports: BootstrapPorts; close(): void }> {
  const { clients, outputs } = await resolveDeployedTarget(config, target.name, opts);
  const closers: (() => void)[] = [() => clients.destroy()];
  try {
    let copy: AwsCopy;
    if (opts.engine === 'direct') {
      // The target role trusts only the apply and Glue roles, so the direct engine writes with the
      // operator's own credentials for the target account (--target-profile).
      const targetClient = operatorTargetTableClient(target, opts.targetProfile);
      closers.push(() => targetClient.destroy());
      const segments = opts.segments ?? target.initialLoad.segments;
      copy = {
        kind: 'direct',
        options: {
          sourceClient: clients.dynamodb, sourceTableName: config.source.tableName,
          targetClient, targetTableName: target.tableName,
          keySchema: config.source.keySchema,
          excludeAttributes: target.initialLoad.excludeAttributes,
          policy: { filter: target.filter, redaction: target.redaction },
          writeRateItemsPerSecond: target.initialLoad.writeRateItemsPerSecond,
          ...(segments === undefined ? {} : { segments }),
        },
      };
    } else {
      copy = { kind: 'glue', ...(opts.engine === undefined ? {} : { engine: opts.engine }), ...(opts.segments === undefined ? {} : { segments: opts.segments }) };
    }
    const ports = awsBootstrapPorts({ clients, outputs, sourceTableName: config.source.tableName, copy });
    return { ports, close: () => closers.forEach((c) => c()) };
  } catch (error) {
    closers.forEach((c) => c());
    throw error;
  }
}

// SIGTERM too (kill, a CI runner's timeout), as withInterrupt does: by default it would kill the
// process with the mapping still disabled.
function onSigint(handler: () => void): () => void {
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function confirmOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function writeResult(out: CliOutput, opts: BootstrapCommandOptions, target: TargetConfig, summary: BootstrapSummary): void {
  const engine = opts.engine ?? target.initialLoad.engine;
  if (opts.json === true) {
    out.write(`${JSON.stringify({ target: target.name, engine, ...summary })}\n`);
    return;
  }
  if (summary.outcome === 'dry-run') {
    out.write(`bootstrap plan for target ${target.name} (dry run: nothing was changed):\n${summary.plan.steps.map((s, i) => `  ${i + 1}. ${s}`).join('\n')}\n`);
    return;
  }
  const items = summary.itemsCopied === undefined ? '' : `${summary.itemsCopied} items, `;
  const drain = summary.drainSeconds !== undefined
    ? `the queue drained in ${formatSeconds(summary.drainSeconds)}`
    : `the queue still holds ${summary.queueDepthAtEnd ?? '?'} messages; the apply keeps working through them`;
  out.write(`bootstrap of target ${target.name} succeeded: copied ${items}in ${formatSeconds(summary.copySeconds ?? 0)} (engine ${engine}); ${drain}.\n`);
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Progress on stderr: steps as lines; copy/drain progress redrawn in place on a terminal, every 10 s otherwise. Counts only, never item values. */
export class ProgressWriter {
  private lastPlainAt = Number.NEGATIVE_INFINITY;
  private openLine = false;

  constructor(private readonly out: CliOutput, private readonly now: () => number = Date.now) {}

  event(event: BootstrapEvent): void {
    if (event.kind === 'step') {
      this.end();
      this.out.write(`[${event.step}] ${event.message}\n`);
      return;
    }
    const line = event.kind === 'copy-progress' ? describeCopy(event) : `draining: ${event.queueDepth} messages left (${formatSeconds(event.elapsedMs / 1000)})`;
    if (this.out.isTTY === true) {
      this.out.write(`\r${line}\u001b[K`);
      this.openLine = true;
    } else if (this.now() - this.lastPlainAt >= 10_000) {
      this.out.write(`${line}\n`);
      this.lastPlainAt = this.now();
    }
  }

  end(): void {
    if (this.openLine) this.out.write('\n');
    this.openLine = false;
  }
}

function describeCopy(e: Extract<BootstrapEvent, { kind: 'copy-progress' }>): string {
  const parts = [`copy ${e.state}`, `elapsed ${formatSeconds(e.elapsedMs / 1000)}`];
  if (e.itemsCopied !== undefined) parts.push(`${e.itemsCopied}${e.tableItemCount === undefined ? '' : ` of ~${e.tableItemCount}`} items`);
  if (e.rate !== undefined) parts.push(`${Math.round(e.rate)} items/s`);
  if (e.etaSeconds !== undefined && e.state === 'RUNNING') parts.push(`ETA ${formatSeconds(e.etaSeconds)}`);
  return parts.join(', ');
}
