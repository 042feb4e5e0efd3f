import fc from 'fast-check';
import { localBootstrapPorts } from '../../cli/bootstrap/local-ports';
import { runBootstrap } from '../../cli/bootstrap/orchestrator';
import { startLocalSession, type LocalSession } from '../../local/session';
import { applyOps } from '../../local/workload';
import { expectNamespaceConverged, keySchema, opArb, toOps } from './support/op-arbitraries';

/**
 * `local --bootstrap`'s sequence as a property: random seed items, then the bootstrap (pause the
 * apply → copy with the direct engine, 1–4 segments → resume → drain) while random writes go on
 * during the copy → the target equals the source. One session for all runs (replication started
 * from "now", as `local --bootstrap` does); each run has its own key namespace and is checked on its
 * own keys. BOOTSTRAP_RUNS (default 12) sets the number of runs; FC_SEED repeats them.
 */
const NUM_RUNS = Number(process.env.BOOTSTRAP_RUNS ?? 12);
const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

let session: LocalSession;
let runs = 0;

beforeAll(async () => {
  session = await startLocalSession({ keySchema, seed: SEED, visibilityTimeoutSeconds: 1 });
  await session.startReplication({ from: 'now' });
}, 60_000);

afterAll(async () => {
  await session?.stop();
  process.stderr.write(`bootstrap property: ${runs} of ${NUM_RUNS} runs converged (fast-check seed ${SEED}; FC_SEED=${SEED} repeats them)\n`);
});

it(
  `a bootstrap with writes during the copy converges, for ${NUM_RUNS} random runs`,
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        fc.array(opArb, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 4 }),
        async (seedOps, duringCopy, segments) => {
          const namespace = `b${runs}-${Math.random().toString(36).slice(2, 8)}`;
          await applyOps(session, toOps(namespace, seedOps), { keySchema });
          const ports = localBootstrapPorts(session, { keySchema, copy: { segments, pageLimit: 5 } });
          let copying = false;
          try {
            // The writes start once the apply is paused, so they race the copy (and buffer in the queue).
            const writes = new Promise<void>((resolve, reject) => {
              const start = (): void => void applyOps(session, toOps(namespace, duringCopy), { keySchema, concurrency: 2 }).then(() => resolve(), reject);
              const poll = setInterval(() => {
                if (copying) {
                  clearInterval(poll);
                  start();
                }
              }, 5);
            });
            const summary = await runBootstrap({
              ports,
              pollIntervalMs: 50,
              onEvent: (e) => {
                if (e.kind === 'step' && e.step === 'copy') copying = true;
              },
            });
            await writes;
            expect(summary.outcome).toBe('succeeded');
          } finally {
            ports.close();
          }
          await session.waitForDrain({ timeoutMs: 60_000 });
          await expectNamespaceConverged(session, namespace);
          runs += 1;
        },
      ),
      { numRuns: NUM_RUNS, seed: SEED },
    );
    expect(await session.diffTables({ limit: 5 })).toEqual({ missing: 0, extra: 0, different: 0, examples: [] });
    expect(session.stats().deadLettered).toBe(0);
  },
  60_000 + NUM_RUNS * 10_000,
);
