import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { initialLoadTargetPolicy, type InitialLoadTargetPolicy } from '../../infra/constructs/glue-target-policy';
import { LocalSessionFileError, readSessionFile, type LocalSessionFile } from '../../local/control';
import { targetFilterSchema } from '../../schemas/replication-config';
import { CliError, EXIT } from '../errors';
import { lines, parseDifferences, parseProgress, parseSummary, type GlueRunStatus, type GlueVerifyArgs, type GlueVerifyDifference, type GlueVerifyRunner } from '../verify/glue-runner';

/** Debian's python3 with python3-boto3, as test/integration/glue-script.test.ts runs the Glue scripts. */
export const LOCAL_PYTHON = '/usr/bin/python3';
export const VERIFY_JOB_SCRIPT = resolve(__dirname, '..', '..', 'infra', 'glue', 'verify_job.py');

export interface LocalGlueVerifyRunnerOptions {
  /** The kept local session: DynamoDB Local's endpoint, its static credentials, the two tables, the key schema. */
  readonly session: Pick<LocalSessionFile, 'region' | 'credentials' | 'endpoints' | 'sourceTableName' | 'targetTableName' | 'keySchema'>;
  /** Each run writes its files into `<runsDir>/<runId>/`. */
  readonly runsDir: string;
  /** @default LOCAL_PYTHON */
  readonly python?: string;
  /** @default VERIFY_JOB_SCRIPT */
  readonly script?: string;
  /** The target's view (`initialLoadTargetPolicy`). @default every item as is (a local session has no filter or redaction) */
  readonly targetPolicy?: InitialLoadTargetPolicy;
}

interface LocalRun {
  readonly dir: string;
  readonly log: string;
  readonly child: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  spawnError?: Error;
  stopped: boolean;
  readonly exited: Promise<void>;
}

/** The runner over the kept local session in `sessionFile`; run folders go beside it (.ddb-replicate/ is git-ignored). */
export function localGlueVerifyRunnerForSession(sessionFile: string): GlueVerifyRunner {
  let session: LocalSessionFile;
  try {
    session = readSessionFile(sessionFile);
  } catch (error) {
    if (error instanceof LocalSessionFileError) throw new CliError(error.message, EXIT.failure, { cause: error });
    throw error;
  }
  return localGlueVerifyRunner({ session, runsDir: join(dirname(sessionFile), 'verify-glue') });
}

/**
 * The verify job's own script run on this machine (`verify_job.py --local`) against the local
 * session's DynamoDB Local: the same files in a local run folder instead of S3, the process state
 * instead of GetJobRun. The script uses the default boto3 session (no target role).
 */
export function localGlueVerifyRunner(opts: LocalGlueVerifyRunnerOptions): GlueVerifyRunner {
  const { session } = opts;
  const python = opts.python ?? LOCAL_PYTHON;
  const script = opts.script ?? VERIFY_JOB_SCRIPT;
  const policy = opts.targetPolicy ?? initialLoadTargetPolicy(session.keySchema, targetFilterSchema.parse({}), undefined);
  const runs = new Map<string, LocalRun>();
  const runOf = (runId: string): LocalRun => {
    const run = runs.get(runId);
    if (run === undefined) throw new CliError(`run ${runId} was not started by this runner`, EXIT.failure);
    return run;
  };
  const dirOf = (runId: string): string => join(opts.runsDir, runId);
  const readIfExists = (file: string): string | undefined => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);

  return {
    description: `the local verify runner (${shown(python)} ${shown(script)})`,
    // A local process: its files are on this disk, polling costs nothing.
    pollIntervalMs: 250,
    start: (args: GlueVerifyArgs) => {
      if (!existsSync(script)) {
        return Promise.reject(new CliError(`${shown(script)} not found: this checkout has no verify Glue job script; verify with --engine scan`, EXIT.failure));
      }
      const dir = dirOf(args.runId);
      mkdirSync(dir, { recursive: true });
      const log = join(dir, 'job.log');
      const fd = openSync(log, 'a');
      let child: ChildProcess;
      try {
        child = spawn(python, [script, ...localJobArguments(session, policy, dir, args)], { stdio: ['ignore', fd, fd], env: scriptEnv(session) });
      } finally {
        closeSync(fd); // the child holds its own copy
      }
      let markExited: () => void = () => undefined;
      const run: LocalRun = { dir, log, child, stopped: false, exited: new Promise<void>((done) => (markExited = done)) };
      child.once('error', (error) => {
        run.spawnError = error;
        markExited();
      });
      child.once('exit', (code, signal) => {
        run.exit = { code, signal };
        markExited();
      });
      runs.set(args.runId, run);
      return Promise.resolve(args.runId);
    },
    poll: (runId) => {
      const run = runOf(runId);
      return Promise.resolve(statusOf(run, python));
    },
    readProgress: (runId) => {
      const file = join(dirOf(runId), 'progress.json');
      const text = readIfExists(file);
      return Promise.resolve(text === undefined ? undefined : parseProgress(text, file));
    },
    readSummary: (runId) => {
      const file = join(dirOf(runId), 'summary.json');
      const text = readIfExists(file);
      return Promise.resolve(text === undefined ? undefined : parseSummary(text, file));
    },
    readDifferences: (runId) => localDifferences(join(dirOf(runId), 'differences.jsonl')),
    stop: async (runId) => {
      const run = runOf(runId);
      if (run.exit !== undefined || run.spawnError !== undefined) return;
      run.stopped = true;
      run.child.kill('SIGTERM');
      await run.exited;
    },
    reportLocation: (runId) => shown(join(dirOf(runId), 'differences.jsonl')),
    logsLocation: (runId) => shown(join(dirOf(runId), 'job.log')),
    close: () => {
      // Only when a command left early on an error: the script is ours, by its pid.
      for (const run of runs.values()) if (run.exit === undefined && run.spawnError === undefined) run.child.kill('SIGTERM');
    },
  };
}

/** The script's arguments: the Glue job's names, `--local` and `--report_dir` instead of S3 and a target role. */
export function localJobArguments(session: LocalGlueVerifyRunnerOptions['session'], policy: InitialLoadTargetPolicy, dir: string, args: GlueVerifyArgs): string[] {
  return [
    '--local',
    '--report_dir', dir,
    '--source_table', session.sourceTableName,
    '--source_region', session.region,
    '--target_table', session.targetTableName,
    '--target_region', session.region,
    '--target_policy', JSON.stringify(policy),
    '--key_schema', JSON.stringify(session.keySchema),
    '--run_id', args.runId,
    ...(args.buckets === undefined ? [] : ['--buckets', String(args.buckets)]),
    ...(args.segments === undefined ? [] : ['--segments', String(args.segments)]),
    ...(args.settleSeconds === undefined ? [] : ['--settle_seconds', String(args.settleSeconds)]),
    ...(args.pageSize === undefined ? [] : ['--page_size', String(args.pageSize)]),
  ];
}

/** Ours only: a developer's AWS profile or endpoints must not leak into a run against the emulator. */
function scriptEnv(session: LocalGlueVerifyRunnerOptions['session']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('AWS_')) env[name] = value;
  return {
    ...env,
    DYNAMODB_ENDPOINT: session.endpoints.dynamodb,
    AWS_ACCESS_KEY_ID: session.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: session.credentials.secretAccessKey,
    AWS_REGION: session.region,
    AWS_DEFAULT_REGION: session.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
  };
}

function statusOf(run: LocalRun, python: string): GlueRunStatus {
  if (run.spawnError !== undefined) {
    const hint = (run.spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? ` (${python} not found: install python3 and python3-boto3)` : '';
    return { state: 'FAILED', error: `cannot start ${python}: ${run.spawnError.message}${hint}` };
  }
  if (run.exit === undefined) return { state: 'RUNNING' };
  if (run.stopped) return { state: 'STOPPED' };
  if (run.exit.code === 0) return { state: 'SUCCEEDED' };
  const how = run.exit.code === null ? `killed by ${run.exit.signal ?? 'a signal'}` : `exit code ${run.exit.code}`;
  return { state: 'FAILED', rawState: how, error: lastLine(run.log) ?? 'no output' };
}

/** The script's last words (a Python traceback ends with the exception); never item values, the script logs counts only. */
function lastLine(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8').trimEnd();
  const last = text.slice(text.lastIndexOf('\n') + 1).trim();
  return last === '' ? undefined : last;
}

async function* localDifferences(file: string): AsyncGenerator<GlueVerifyDifference> {
  if (!existsSync(file)) return;
  yield* parseDifferences(lines(createReadStream(file)), file);
}

/** Relative inside the working directory, absolute outside it (as cli/targets/local.ts shows the session file). */
function shown(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel === '' || rel.startsWith('..') ? resolve(file) : rel;
}
