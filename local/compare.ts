/**
 * Item comparison lives in common/item-compare.ts (used by local/, cli/ and the tests alike;
 * docs/architecture.md#where-each-concern-lives). This re-export keeps `./compare` importable
 * from local/ modules.
 */
export { attributeValuesEqual, itemsEqual } from '../common/item-compare';
