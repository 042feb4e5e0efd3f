/**
 * A tiny JSON Schema (2020-12) checker for the keywords z.toJSONSchema emits for our schemas —
 * enough to prove the committed schema accepts the fixtures and rejects what it can express.
 * Unknown keywords fail loudly, so a richer generated schema cannot be silently under-checked.
 */
type Schema = Record<string, unknown>;
const KNOWN = new Set(['$schema', '$id', 'title', 'description', '$defs', '$ref', 'type', 'properties', 'required', 'additionalProperties', 'propertyNames', 'anyOf', 'items', 'pattern', 'enum', 'const', 'minItems', 'maxItems', 'minLength', 'maxLength', 'minimum', 'maximum', 'default']);

export function validateJsonSchema(root: Schema, value: unknown): string[] {
  const defs = (root.$defs ?? {}) as Record<string, Schema>;
  const check = (schema: Schema, v: unknown, path: string, errors: string[]): void => {
    for (const keyword of Object.keys(schema)) if (!KNOWN.has(keyword)) throw new Error(`json-schema test helper: unsupported keyword ${keyword}`);
    if (typeof schema.$ref === 'string') {
      const name = schema.$ref.replace('#/$defs/', '');
      check(defs[name], v, path, errors);
    }
    if (schema.anyOf !== undefined) {
      const ok = (schema.anyOf as Schema[]).some((branch) => {
        const branchErrors: string[] = [];
        check(branch, v, path, branchErrors);
        return branchErrors.length === 0;
      });
      if (!ok) errors.push(`${path}: matches no anyOf branch`);
    }
    if (schema.const !== undefined && v !== schema.const) errors.push(`${path}: not the const`);
    if (schema.enum !== undefined && !(schema.enum as unknown[]).includes(v)) errors.push(`${path}: not in enum`);
    switch (schema.type) {
      case undefined:
        break;
      case 'object': {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) { errors.push(`${path}: not an object`); return; }
        const obj = v as Record<string, unknown>;
        const props = (schema.properties ?? {}) as Record<string, Schema>;
        for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) errors.push(`${path}.${r}: required`);
        for (const [k, child] of Object.entries(obj)) {
          if (props[k] !== undefined) check(props[k], child, `${path}.${k}`, errors);
          else if (schema.additionalProperties === false) errors.push(`${path}.${k}: not allowed`);
          else if (typeof schema.additionalProperties === 'object') check(schema.additionalProperties as Schema, child, `${path}.${k}`, errors);
          if (schema.propertyNames !== undefined) check(schema.propertyNames as Schema, k, `${path}[key]`, errors);
        }
        break;
      }
      case 'array':
        if (!Array.isArray(v)) { errors.push(`${path}: not an array`); return; }
        if (typeof schema.minItems === 'number' && v.length < schema.minItems) errors.push(`${path}: too few items`);
        if (typeof schema.maxItems === 'number' && v.length > schema.maxItems) errors.push(`${path}: too many items`);
        if (schema.items !== undefined) v.forEach((item, i) => check(schema.items as Schema, item, `${path}[${i}]`, errors));
        break;
      case 'string':
        if (typeof v !== 'string') { errors.push(`${path}: not a string`); return; }
        if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(v)) errors.push(`${path}: does not match pattern`);
        if (typeof schema.minLength === 'number' && [...v].length < schema.minLength) errors.push(`${path}: too short`);
        if (typeof schema.maxLength === 'number' && [...v].length > schema.maxLength) errors.push(`${path}: too long`);
        break;
      case 'number':
      case 'integer':
        if (typeof v !== 'number' || (schema.type === 'integer' && !Number.isInteger(v))) { errors.push(`${path}: not a ${schema.type}`); return; }
        if (typeof schema.minimum === 'number' && v < schema.minimum) errors.push(`${path}: below minimum`);
        if (typeof schema.maximum === 'number' && v > schema.maximum) errors.push(`${path}: above maximum`);
        break;
      case 'boolean':
        if (typeof v !== 'boolean') errors.push(`${path}: not a boolean`);
        break;
      default:
        throw new Error(`json-schema test helper: unsupported type ${String(schema.type)}`);
    }
  };
  const errors: string[] = [];
  check(root, value, '$', errors);
  return errors;
}
