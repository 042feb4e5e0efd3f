import fc from 'fast-check';

/**
 * Jest setup for the unit and integration projects: `SEED=<n>` makes every fast-check property use
 * that seed, so the `seed` a failing property prints (fast-check reports it) repeats the failure.
 * Without SEED, fast-check draws a seed per property, as usual.
 */
if (process.env.SEED !== undefined && process.env.SEED !== '') {
  const seed = Number(process.env.SEED);
  if (!Number.isInteger(seed)) throw new Error(`SEED must be an integer (the seed a failed property test printed), got "${process.env.SEED}"`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
