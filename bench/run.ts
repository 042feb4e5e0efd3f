import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { runApplyBench } from './sections/apply';
import { runBundleBench } from './sections/bundle';
import { runCpuBench } from './sections/cpu';
import { runE2eBench } from './sections/e2e';
import { runLoadBench } from './sections/load';
import { runRecoveryBench } from './sections/recovery';
import { runVerifyBench } from './sections/verify';
import { formatTable, type Row, type SectionResult } from './lib/report';

/**
 * `npm run bench [-- --quick] [--only apply,cpu,bundle,e2e,load] [--out file.json]`
 * Prints a table (metric, ours, baseline, ratio, target, pass/miss) and writes every measurement
 * with its repetitions to bench/results/latest.json (or --out). Method: docs/performance.md.
 */
export const SECTIONS = ['cpu', 'bundle', 'apply', 'load', 'e2e', 'recovery', 'verify'] as const;
export type SectionName = (typeof SECTIONS)[number];

interface Args {
  quick: boolean;
  only: SectionName[];
  out: string;
}

const USAGE = 'usage: npm run bench -- [--quick] [--only apply,cpu,bundle,e2e,load,recovery,verify] [--out results.json]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, only: [...SECTIONS], out: resolve(__dirname, 'results', 'latest.json') };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return next;
    };
    if (arg === '--quick') args.quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const names = (arg.includes('=') ? arg.slice(7) : value()).split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (unknown.length > 0 || names.length === 0) throw new Error(`--only: unknown section(s) ${unknown.join(', ') || '(none)'}; known: ${SECTIONS.join(', ')}\n${USAGE}`);
      args.only = SECTIONS.filter((s) => names.includes(s));
    } else if (arg === '--out') args.out = resolve(value());
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return args;
}

/** Sizes of each section: full (≈ 3–4 min in all on 2 cores) and --quick (seconds; the smoke test). */
function plan(quick: boolean) {
  return quick
    ? {
        cpu: { batches: 4, reps: 3, changesPerSample: { '1KB': 200, '100KB': 10 } },
        bundle: { reps: 2 },
        apply: { changesByRttMs: { 0: 100, 5: 60, 70: 40 }, hotChangesByRttMs: { 0: 80, 5: 40, 70: 40 }, reps: 2, concurrency: 4 },
        load: { items: 200, segments: 4, reps: 2 },
        e2e: { rates: [100, 250], pfRates: [100, 200], durationSeconds: 2, warmupSeconds: 1 },
        verify: { items: 300, itemBytes: 256, segments: 4, pageSize: 250, reps: 1 },
      }
    : {
        cpu: { batches: 20, reps: 15, changesPerSample: { '1KB': 3000, '100KB': 40 } },
        bundle: { reps: 9 },
        // Fewer changes where each request is slower; every variant of one RTT gets the same changes.
        apply: { changesByRttMs: { 0: 1500, 5: 800, 70: 200 }, hotChangesByRttMs: { 0: 1000, 5: 500, 70: 120 }, reps: 8, concurrency: 4 },
        load: { items: 4000, segments: 4, reps: 5 },
        e2e: { rates: [100, 250, 500, 1000], pfRates: [200, 300, 400, 600, 800, 1200, 1600], durationSeconds: 8, warmupSeconds: 3 },
        // 200,000 items: the table size of issue 13's memory goal; small items keep seeding short.
        verify: { items: 200_000, itemBytes: 256, segments: 4, pageSize: 250, reps: 4 },
      };
}

const ITEM_BYTES = 1024;

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const p = plan(args.quick);
  const log = (line: string): void => {
    process.stderr.write(`[bench] ${line}\n`);
  };
  const startedAt = new Date();
  const loadBefore = loadavg();
  const results: Partial<Record<SectionName, SectionResult & { seconds: number; loadAverageAtStart: number[] }>> = {};
  const errors: Partial<Record<SectionName, string>> = {};
  const timed = async (name: SectionName, run: () => Promise<SectionResult>): Promise<void> => {
    if (!args.only.includes(name)) return;
    const t = Date.now();
    log(`${name}: start`);
    try {
      const loadAverageAtStart = loadavg();
      results[name] = { ...(await run()), seconds: (Date.now() - t) / 1000, loadAverageAtStart };
      log(`${name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    } catch (error) {
      errors[name] = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      log(`${name}: FAILED — ${errors[name]}`);
    }
  };

  await timed('cpu', () => runCpuBench({ ...p.cpu, sizes: { '1KB': ITEM_BYTES, '100KB': 100 * 1024 }, log }));
  await timed('bundle', () => runBundleBench({ ...p.bundle, log }));
  if (args.only.includes('apply') || args.only.includes('load') || args.only.includes('verify')) {
    // One DynamoDB Local for both; the e2e section brings its own session.
    const ddb = await startDynamoDbLocal();
    try {
      await timed('apply', () => runApplyBench({ ...p.apply, endpoint: ddb.endpoint, dynamodbLocalPid: ddb.pid, itemBytes: ITEM_BYTES, log }));
      await timed('load', () => runLoadBench({ ...p.load, endpoint: ddb.endpoint, itemBytes: ITEM_BYTES, log }));
      await timed('verify', () => runVerifyBench({ ...p.verify, endpoint: ddb.endpoint, log }));
    } finally {
      await ddb.stop();
    }
  }
  await timed('e2e', () => runE2eBench({ ...p.e2e, itemBytes: ITEM_BYTES, log }));
  await timed('recovery', () => runRecoveryBench({ visibilityTimeoutSeconds: args.quick ? 4 : 10, reps: args.quick ? 1 : 3, log }));

  const rows: Row[] = args.only.flatMap((name) => results[name]?.rows ?? []);
  const cpuInfo = cpus();
  const report = {
    schemaVersion: 1,
    date: startedAt.toISOString(),
    quick: args.quick,
    sections: args.only,
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    machine: {
      cpus: cpuInfo.length,
      cpuModel: cpuInfo[0]?.model ?? 'unknown',
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      totalMemMB: Math.round(totalmem() / 2 ** 20),
      // Other work on the machine while we ran (1/5/15-minute load averages).
      loadAverageStart: loadBefore,
      loadAverageEnd: loadavg(),
    },
    table: rows,
    results,
    errors,
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${formatTable(rows)}\n\n`);
  const misses = rows.filter((r) => r.pass === false).length;
  process.stdout.write(`${rows.length} rows, ${misses} target(s) missed${Object.keys(errors).length > 0 ? `, ${Object.keys(errors).length} section(s) FAILED: ${Object.keys(errors).join(', ')}` : ''}; results in ${args.out} (${report.durationSeconds.toFixed(0)} s)\n`);
  // A missed target is a finding, not a failure; a section that could not measure is.
  return Object.keys(errors).length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
