import fc from 'fast-check';
import { localBootstrapPorts } from '../../cli/local/bootstrap-ports';
import { runBootstrap } from '../../cli/bootstrap/orchestrator';
import { startLocalSession, type LocalSession } from '../../local/session';
import { applyOps } from '../../local/workload';
import { propertySeed } from '../support/seed';
import { expectNamespaceConverged, keySchema, opArb, toOps } from './support/op-arbitraries';

/**
 * `local --bootstrap`'s sequence as a property: random seed items, then the bootstrap (pause the
 * apply → copy with the direct engine, 1–4 segments → resume → drain) while random writes go in
 * during the copy → the target equals the source. The writes go in after a random page of the copy
 * (the direct engine's `afterPage` hook waits for them), so they always overlap it, on any machine.
 * One session for all runs (replication started from "now", as `local --bootstrap` does); each run
 * has its own key namespace and is checked on its own keys. BOOTSTRAP_RUNS (default 12; 200 in
 * `npm run test:soak`) sets the number of runs; SEED=<printed seed> repeats them.
 */
const NUM_RUNS = Number(process.env.BOOTSTRAP_RUNS ?? 12);
const SEED = propertySeed();

let session: LocalSession;
let runs = 0;
/** Every property call, shrinking included: each gets a fresh key namespace. */
let attempts = 0;

beforeAll(async () => {
  process.stderr.write(`bootstrap property: seed ${SEED} (SEED=${SEED} repeats this run)\n`);
  session = await startLocalSession({ keySchema, seed: SEED, visibilityTimeoutSeconds: 1 });
  await session.startReplication({ from: 'now' });
}, 60_000);

afterAll(async () => {
  await session?.stop();
  process.stderr.write(`bootstrap property: ${runs} of ${NUM_RUNS} runs converged (fast-check seed ${SEED}; SEED=${SEED} repeats them)\n`);
});

it(
  `a bootstrap with writes during the copy converges, for ${NUM_RUNS} random runs`,
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        fc.array(opArb, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 4 }),
        fc.nat({ max: 3 }),
        async (seedOps, duringCopy, segments, pagePick) => {
          const namespace = `b${SEED}-${attempts++}`;
          await applyOps(session, toOps(namespace, seedOps), { keySchema });
          // Every segment writes at least one page (an empty one included), so page `writeAfter` exists.
          const writeAfter = 1 + (pagePick % segments);
          let pages = 0;
          let written = false;
          const afterPage = async (): Promise<void> => {
            pages += 1;
            if (pages !== writeAfter) return;
            await applyOps(session, toOps(namespace, duringCopy), { keySchema, concurrency: 2 });
            written = true;
          };
          const ports = localBootstrapPorts(session, { keySchema, copy: { segments, pageLimit: 5, afterPage } });
          try {
            const summary = await runBootstrap({ ports, pollIntervalMs: 50 });
            expect(written).toBe(true);
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
