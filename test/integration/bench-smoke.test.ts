import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `npm run bench -- --quick` end to end, in a child process as a user runs it: every section
 * completes and the results file is well-formed. No timing assertions — on a shared machine the
 * numbers are the bench's business, not the test's.
 */
// Generous: a loaded machine may take minutes for --quick; the test checks the report, not the speed.
jest.setTimeout(300_000);

const REPO = join(__dirname, '..', '..');
const RUN = join(REPO, 'bench', 'run.ts');
const SECTIONS = ['cpu', 'bundle', 'apply', 'load', 'e2e', 'recovery', 'verify'];

function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // env passed explicitly: under jest, process.env is a sandbox copy the child would not see.
    execFile(process.execPath, ['--import', 'tsx', RUN, ...args], { cwd: REPO, env: { ...process.env }, timeout: 280_000, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Summary { reps: number[]; median: number; min: number; max: number }
const isSummary = (s: unknown): s is Summary =>
  typeof s === 'object' && s !== null && Array.isArray((s as Summary).reps) && (s as Summary).reps.length > 0 && Number.isFinite((s as Summary).median);

it('runs every section with --quick and writes a well-formed results file', async () => {
  const out = join(dir, 'results.json');
  const run = await bench(['--quick', '--out', out]);
  expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr.slice(-2000) }).toEqual({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/\| section +\| metric/);

  const report = JSON.parse(readFileSync(out, 'utf8')) as {
    date: string; quick: boolean; sections: string[];
    machine: { cpus: number; node: string };
    table: { section: string; metric: string; ours: number | null; target: string; pass: boolean | null }[];
    results: Record<string, { rows: unknown[]; data: Record<string, unknown>; seconds: number }>;
    errors: Record<string, string>;
  };
  expect(Number.isNaN(Date.parse(report.date))).toBe(false);
  expect(report.quick).toBe(true);
  expect(report.machine.cpus).toBeGreaterThan(0);
  expect(report.machine.node).toBe(process.version);
  expect(report.errors).toEqual({});
  expect(report.sections).toEqual(SECTIONS);
  for (const section of SECTIONS) {
    expect(report.results[section]?.rows.length).toBeGreaterThan(0);
    expect(report.table.filter((r) => r.section === section).length).toBe(report.results[section].rows.length);
  }
  for (const row of report.table) {
    expect(typeof row.metric).toBe('string');
    expect(typeof row.target).toBe('string');
    expect([true, false, null]).toContain(row.pass);
    if (row.target !== 'info') expect(typeof row.pass).toBe('boolean');
  }
  // Every measurement keeps its repetitions.
  const { apply, cpu, bundle, load, e2e } = report.results as Record<string, { data: Record<string, Record<string, unknown>> }>;
  for (const s of Object.values(apply.data.changesPerSecond)) expect(isSummary(s)).toBe(true);
  for (const s of Object.values(cpu.data.cpuMicrosecondsPerChange)) expect(isSummary(s)).toBe(true);
  for (const s of Object.values(bundle.data.initMs)) expect(isSummary(s)).toBe(true);
  for (const s of Object.values(load.data.itemsPerSecond)) expect(isSummary(s)).toBe(true);
  expect((e2e.data.runs as unknown as unknown[]).length).toBe(2);
  // Network distances: every apply variant measured at each RTT, with the sample as deployed (stream batch 1000).
  for (const rtt of ['0ms', '5ms', '70ms']) {
    for (const variant of ['apply', 'ceilingBodies10', 'perRecordSample', 'perRecord10']) expect(isSummary(apply.data.changesPerSecond[`${rtt}/${variant}`])).toBe(true);
  }
  expect(report.table.filter((r) => r.section === 'apply' && r.target === '≥ 0.9×').map((r) => r.metric.split(':')[0])).toEqual(['0 ms RTT', '5 ms RTT', '70 ms RTT']);
  // ParallelizationFactor rows, and CPU / init targets as ratios.
  expect(report.table.filter((r) => r.section === 'e2e' && /^PF \d/.test(r.metric))).toHaveLength(3);
  expect(report.table.some((r) => r.section === 'cpu' && r.target === '≤ 2×')).toBe(true);
  expect(report.table.filter((r) => r.section === 'bundle' && r.target === '≤ 1.5×')).toHaveLength(2);
});

it('rejects an unknown section with a clear message', async () => {
  const run = await bench(['--only', 'apply,nope']);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/unknown section\(s\) nope; known: cpu, bundle, apply, load, e2e, recovery, verify/);
});
