import { EmulatorError } from './errors';

/**
 * EventBridge event-pattern matching, for the local pipe emulator's FilterCriteria
 * (docs/local-mode.md). Semantics as the EventBridge user guide states them ("Creating event
 * patterns", "Content filtering", "Comparison operators",
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html):
 * - a pattern object matches when every one of its fields matches (AND); the event must have the
 *   field with the same nesting;
 * - a field's array lists alternatives (OR): exact values (string, number, boolean, null) or one of
 *   the operators below; when the event's value is an array, the field matches when any element does;
 * - `$or`: a list of patterns, any of which may match.
 * Operators: `prefix`, `suffix`, `equals-ignore-case` (also inside prefix/suffix), `exists`,
 * `anything-but` (a value, a list of values, or `{prefix|suffix|equals-ignore-case}`), `numeric`
 * (up to two comparisons). Anything else is refused as InvalidEventPatternException rather than
 * guessed: the emulator must not pass what AWS would refuse or filter differently.
 */
export type EventPattern = { [field: string]: unknown };

/** A pattern AWS would refuse, or one this matcher does not implement; named as the EventBridge API names it. */
export class InvalidEventPatternException extends EmulatorError {
  override readonly name = 'InvalidEventPatternException';
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Test = (value: Json | undefined) => boolean;
type ObjectTest = (event: unknown) => boolean;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Compiles a pattern once (as CreatePipe validates it once): a malformed or unsupported pattern
 * throws InvalidEventPatternException here, whatever the events.
 */
export function compileEventPattern(pattern: EventPattern): (event: unknown) => boolean {
  if (!isObject(pattern)) throw new InvalidEventPatternException('an event pattern must be a JSON object');
  return compileObject(pattern, '');
}

/** True when `event` matches `pattern`. */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  return compileEventPattern(pattern)(event);
}

/** Pipes FilterCriteria: a record passes when it matches any of the filters' patterns; no filters = everything. */
export function compileFilterCriteria(patterns: readonly EventPattern[] | undefined): (event: unknown) => boolean {
  if (patterns === undefined) return () => true;
  const tests = patterns.map(compileEventPattern);
  return (event) => tests.some((test) => test(event));
}

export function matchesAnyPattern(patterns: readonly EventPattern[] | undefined, event: unknown): boolean {
  return compileFilterCriteria(patterns)(event);
}

function compileObject(pattern: Record<string, unknown>, path: string): ObjectTest {
  const tests: ObjectTest[] = Object.entries(pattern).map(([field, expected]): ObjectTest => {
    const at = path === '' ? field : `${path}.${field}`;
    if (field === '$or') {
      if (!Array.isArray(expected) || expected.length < 2 || !expected.every(isObject)) throw new InvalidEventPatternException(`${at}: "$or" takes a list of at least two patterns`);
      const alternatives = expected.map((alternative) => compileObject(alternative, path));
      return (event) => alternatives.some((test) => test(event));
    }
    if (Array.isArray(expected)) {
      const leaf = compileLeaf(expected, at);
      return (event) => leaf(isObject(event) ? (event[field] as Json | undefined) : undefined);
    }
    if (isObject(expected)) {
      // A missing parent is walked as absent: `exists: false` below it matches, anything else does not
      // (EventBridge flattens events to field paths).
      const nested = compileObject(expected, at);
      return (event) => nested(isObject(event) && isObject(event[field]) ? event[field] : undefined);
    }
    throw new InvalidEventPatternException(`${at}: a pattern field must be an object or an array of values, got ${JSON.stringify(expected)}`);
  });
  return (event) => tests.every((test) => test(event));
}

function compileLeaf(alternatives: readonly unknown[], path: string): Test {
  if (alternatives.length === 0) throw new InvalidEventPatternException(`${path}: an empty list matches nothing`);
  const tests = alternatives.map((matcher): Test => {
    if (isObject(matcher) && 'exists' in matcher) return compileExists(matcher, path);
    const test = compileValue(matcher, path);
    return (value) => {
      if (value === undefined || isObject(value)) return false;
      return (Array.isArray(value) ? value : [value]).some(test);
    };
  });
  return (value) => tests.some((test) => test(value));
}

function compileExists(matcher: Record<string, unknown>, path: string): Test {
  if (Object.keys(matcher).length !== 1 || typeof matcher.exists !== 'boolean') throw new InvalidEventPatternException(`${path}: "exists" takes true or false`);
  const wanted = matcher.exists;
  // Exists matching works on leaf nodes only ("Exists matching", content filtering page): an object is not a leaf.
  return (value) => wanted === (value !== undefined && !isObject(value) && !(Array.isArray(value) && value.length === 0));
}

function compileValue(matcher: unknown, path: string): (value: Json) => boolean {
  if (matcher === null || typeof matcher === 'string' || typeof matcher === 'boolean') return (value) => matcher === value;
  if (typeof matcher === 'number') return (value) => typeof value === 'number' && matcher === value;
  if (!isObject(matcher)) throw new InvalidEventPatternException(`${path}: unsupported matcher ${JSON.stringify(matcher)}`);
  const keys = Object.keys(matcher);
  if (keys.length !== 1) throw new InvalidEventPatternException(`${path}: a matcher object has exactly one operator, got ${JSON.stringify(keys)}`);
  const [operator] = keys as [string];
  const operand = matcher[operator];
  switch (operator) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case': {
      const test = compileString(operator, operand, path);
      return (value) => typeof value === 'string' && test(value);
    }
    case 'anything-but':
      return compileAnythingBut(operand, path);
    case 'numeric': {
      const test = compileNumeric(operand, path);
      return (value) => typeof value === 'number' && test(value);
    }
    default:
      throw new InvalidEventPatternException(`${path}: operator "${operator}" is not supported by the local pipe emulator`);
  }
}

function compileString(operator: 'prefix' | 'suffix' | 'equals-ignore-case', operand: unknown, path: string): (value: string) => boolean {
  let expected = operand;
  let ignoreCase = operator === 'equals-ignore-case';
  if (operator !== 'equals-ignore-case' && isObject(operand)) {
    if (Object.keys(operand).length !== 1 || typeof operand['equals-ignore-case'] !== 'string') throw new InvalidEventPatternException(`${path}: "${operator}" takes a string or { "equals-ignore-case": string }`);
    expected = operand['equals-ignore-case'];
    ignoreCase = true;
  }
  if (typeof expected !== 'string') throw new InvalidEventPatternException(`${path}: "${operator}" takes a string`);
  const want = ignoreCase ? expected.toLowerCase() : expected;
  const norm = (value: string): string => (ignoreCase ? value.toLowerCase() : value);
  if (operator === 'prefix') return (value) => norm(value).startsWith(want);
  if (operator === 'suffix') return (value) => norm(value).endsWith(want);
  return (value) => norm(value) === want;
}

function compileAnythingBut(operand: unknown, path: string): (value: Json) => boolean {
  if (isObject(operand)) {
    const [operator, ...more] = Object.keys(operand);
    if (more.length > 0 || (operator !== 'prefix' && operator !== 'suffix' && operator !== 'equals-ignore-case')) {
      throw new InvalidEventPatternException(`${path}: "anything-but" takes a value, a list of values, or one of prefix, suffix, equals-ignore-case`);
    }
    const test = compileString(operator, operand[operator], path);
    return (value) => typeof value === 'string' && !test(value);
  }
  const excluded = Array.isArray(operand) ? operand : [operand];
  if (excluded.length === 0 || !excluded.every((v) => typeof v === 'string' || typeof v === 'number')) {
    throw new InvalidEventPatternException(`${path}: "anything-but" lists strings or numbers`);
  }
  return (value) => (typeof value === 'string' || typeof value === 'number') && !excluded.includes(value);
}

const COMPARATORS: Record<string, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b, '<=': (a, b) => a <= b, '=': (a, b) => a === b, '>': (a, b) => a > b, '>=': (a, b) => a >= b,
};

function compileNumeric(operand: unknown, path: string): (value: number) => boolean {
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) throw new InvalidEventPatternException(`${path}: "numeric" takes one or two [operator, number] pairs`);
  const checks: ((value: number) => boolean)[] = [];
  for (let i = 0; i < operand.length; i += 2) {
    const compare = COMPARATORS[String(operand[i])];
    const bound: unknown = operand[i + 1];
    if (compare === undefined || typeof bound !== 'number') throw new InvalidEventPatternException(`${path}: "numeric" comparison ${JSON.stringify(operand.slice(i, i + 2))} is not one of <, <=, =, >, >= with a number`);
    checks.push((value) => compare(value, bound));
  }
  return (value) => checks.every((check) => check(value));
}
