import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { BENCH_KEY_SCHEMA } from '../lib/data';
import { BenchError } from '../lib/errors';
import { absoluteRow, ratioRow, type Row, type SectionResult } from '../lib/report';
import { ratioSummary, summarize, type Summary } from '../lib/stats';

/**
 * Lambda package and cold-start cost of each handler, bundled as infra/constructs/replication-target.ts
 * has NodejsFunction do it (esbuild --bundle --platform=node --target=node22 --format=cjs --main-fields=module,main --minify
 * --sourcemap, no externals because bundleAwsSDK is true) — and, for comparison, with the AWS SDK
 * left to the runtime (externalModules ['@aws-sdk/*']). Module init = a fresh `node` requiring the
 * bundle, minus a fresh `node -e ""`, both timed the same way, interleaved. The init target is a
 * ratio against a bundle built the same way that holds only the SDK clients the function uses
 * (what any function with those clients pays), because absolute milliseconds move several-fold
 * from one machine to the next.
 */
export interface BundleBenchOptions {
  reps: number;
  log: (line: string) => void;
}

const REPO_ROOT = resolve(__dirname, '..', '..');
const HANDLERS = { enrich: 'handlers/enrich.ts', apply: 'handlers/apply.ts' } as const;
const MAX_BYTES = 500 * 1024;
/** Module init at most this many times the SDK-only bundle's. */
const MAX_INIT_RATIO = 1.5;

/** The SDK the handlers use, and nothing else, built at module scope as the handlers build it. */
const SDK_ONLY: Record<keyof typeof HANDLERS, string> = {
  enrich: `import { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
export const sdk = { client: new SQSClient({ useQueueUrlAsEndpoint: false }), SendMessageBatchCommand };`,
  apply: `import { BatchWriteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
export const sdk = {
  source: new DynamoDBClient({ region: process.env.AWS_REGION }),
  target: new DynamoDBClient({ region: process.env.AWS_REGION, credentials: fromTemporaryCredentials({ params: { RoleArn: process.env.TARGET_ROLE_ARN, RoleSessionName: 'x', ExternalId: process.env.TARGET_EXTERNAL_ID }, clientConfig: { region: process.env.AWS_REGION } }) }),
  BatchWriteItemCommand, GetItemCommand,
};`,
};

// What the construct sets (handlers read their configuration at module load).
const HANDLER_ENV: Record<string, string> = {
  REPLICATION_NAME: 'bench',
  TARGET_NAME: 'bench',
  SOURCE_TABLE_NAME: 'source',
  SOURCE_REGION: 'us-east-1',
  KEY_SCHEMA: JSON.stringify(BENCH_KEY_SCHEMA),
  TARGET_TABLE_NAME: 'target',
  TARGET_REGION: 'us-east-1',
  TARGET_ROLE_ARN: 'arn:aws:iam::222222222222:role/bench',
  TARGET_EXTERNAL_ID: 'bench',
  LOG_LEVEL: 'INFO',
  METRICS_SINK: 'stdout',
  AWS_REGION: 'us-east-1',
};

interface Variant {
  handler: keyof typeof HANDLERS;
  /** bundled: as deployed; runtime: @aws-sdk/* external; sdkOnly: the SDK_ONLY entry, bundled as deployed. */
  sdk: 'bundled' | 'runtime' | 'sdkOnly';
  file: string;
  bytes: number;
  sourceMapBytes: number;
  topInputs: { package: string; bytes: number }[];
}

/** Bytes in the output by package (or by our own top-level folder). */
function topInputs(metafile: Metafile): { package: string; bytes: number }[] {
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const key = m?.[1] ?? path.split('/')[0] ?? path;
      byPackage.set(key, (byPackage.get(key) ?? 0) + input.bytesInOutput);
    }
  }
  return [...byPackage].map(([pkg, bytes]) => ({ package: pkg, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 8);
}

function timeNode(args: string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const out = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (out.status !== 0) throw new BenchError(`node ${args.join(' ')} failed (${out.status}): ${out.stderr.toString().slice(0, 500)}`);
  return ms;
}

export async function runBundleBench(opts: BundleBenchOptions): Promise<SectionResult> {
  const outDir = mkdtempSync(join(tmpdir(), 'ddbrepl-bench-bundle-'));
  try {
    const variants: Variant[] = [];
    for (const sdk of ['bundled', 'runtime', 'sdkOnly'] as const) {
      for (const [handler, entry] of Object.entries(HANDLERS) as [keyof typeof HANDLERS, string][]) {
        const file = join(outDir, `${handler}-${sdk}`, 'index.js');
        const result = await build({
          ...(sdk === 'sdkOnly' ? { stdin: { contents: SDK_ONLY[handler], resolveDir: REPO_ROOT, loader: 'ts' as const } } : { entryPoints: [resolve(REPO_ROOT, entry)] }),
          absWorkingDir: REPO_ROOT,
          bundle: true,
          platform: 'node',
          target: 'node22',
          format: 'cjs',
          mainFields: ['module', 'main'],
          minify: true,
          sourcemap: true,
          outfile: file,
          external: sdk === 'runtime' ? ['@aws-sdk/*'] : [],
          metafile: true,
          logLevel: 'silent',
        });
        variants.push({ handler, sdk, file, bytes: statSync(file).size, sourceMapBytes: statSync(`${file}.map`).size, topInputs: topInputs(result.metafile) });
      }
    }

    // Runtime-SDK bundles resolve @aws-sdk/* like Lambda's runtime would provide it: here from our node_modules.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...HANDLER_ENV, NODE_PATH: join(REPO_ROOT, 'node_modules') };
    const samples = new Map<string, number[]>([['baseline', []], ...variants.map((v): [string, number[]] => [`${v.handler}/${v.sdk}`, []])]);
    timeNode(['-e', ''], env); // warm the page cache
    for (const v of variants) timeNode(['-e', `require(${JSON.stringify(v.file)})`], env);
    for (let rep = 0; rep < opts.reps; rep++) {
      samples.get('baseline')!.push(timeNode(['-e', ''], env));
      for (const v of variants) samples.get(`${v.handler}/${v.sdk}`)!.push(timeNode(['-e', `require(${JSON.stringify(v.file)})`], env));
    }
    const summaries: Record<string, Summary> = Object.fromEntries([...samples].map(([k, v]) => [k, summarize(v)]));
    const baseline = summaries.baseline;
    // Per repetition: bundle − the baseline of the same repetition.
    const initMs: Record<string, Summary> = Object.fromEntries(variants.map((v) => {
      const key = `${v.handler}/${v.sdk}`;
      return [key, summarize(samples.get(key)!.map((ms, i) => ms - samples.get('baseline')![i]))];
    }));
    opts.log(`bundle: ${variants.map((v) => `${v.handler}/${v.sdk} ${(v.bytes / 1024).toFixed(0)} KB, init ${initMs[`${v.handler}/${v.sdk}`].median.toFixed(0)} ms`).join('; ')}`);

    const rows: Row[] = [];
    const initRatios: Record<string, Summary> = {};
    for (const v of variants) {
      const key = `${v.handler}/${v.sdk}`;
      const asDeployed = v.sdk === 'bundled';
      const label = asDeployed ? 'as deployed (SDK bundled)' : v.sdk === 'runtime' ? 'SDK from runtime' : 'its SDK clients only';
      rows.push(absoluteRow({ section: 'bundle', metric: `${v.handler} bundle, ${label}`, unit: 'KB', target: asDeployed ? '≤ 500 KB' : 'info' }, v.bytes / 1024, asDeployed ? v.bytes <= MAX_BYTES : null));
      const s = initMs[key];
      rows.push(absoluteRow({ section: 'bundle', metric: `${v.handler} module init, ${label} (IQR ${s.q1.toFixed(0)}–${s.q3.toFixed(0)})`, unit: 'ms', target: 'info' }, s.median, null));
      if (asDeployed) {
        // Lower is better: the handler's init over the SDK-only bundle's, per repetition.
        const only = initMs[`${v.handler}/sdkOnly`];
        const ratio = ratioSummary(s.reps, only.reps);
        initRatios[v.handler] = ratio;
        rows.push({ ...ratioRow({ section: 'bundle', metric: `${v.handler} module init vs a bundle of its SDK clients only (ratio = extra cost)`, unit: 'ms', baselineLabel: 'SDK clients only', target: `≤ ${MAX_INIT_RATIO}×` }, s, only, ratio, null), pass: ratio.median <= MAX_INIT_RATIO });
      }
    }
    return {
      rows,
      data: {
        params: { reps: opts.reps, esbuild: { bundle: true, platform: 'node', target: 'node22', format: 'cjs', mainFields: ['module', 'main'], minify: true, sourcemap: true }, nodeVersion: process.version },
        bundles: variants.map(({ file: _file, ...v }) => v),
        processMs: summaries,
        baselineProcessMs: baseline,
        initMs,
        initRatioVsSdkOnly: initRatios,
        sdkOnlyEntries: SDK_ONLY,
      },
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
