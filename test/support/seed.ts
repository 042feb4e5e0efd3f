/**
 * Seeds of the property tests. `SEED=<n>` repeats a run (`FC_SEED` is still read, as before);
 * without it each run draws a fresh seed, which the tests print so that a failure can be repeated.
 */
export function propertySeed(): number {
  const given = process.env.SEED ?? process.env.FC_SEED;
  if (given === undefined || given === '') return Date.now() % 2 ** 31;
  const seed = Number(given);
  if (!Number.isInteger(seed)) throw new Error(`SEED must be an integer (the seed a failed property test printed), got "${given}"`);
  return seed;
}
