import type { z } from 'zod';
import type { ContinuousVerifyProps, InitialLoadOptionsProps, ReplicationTargetOptions, TargetAlarmOptions, TargetFilterProps, TargetRedactionProps } from '../../infra/constructs/target-options';
import {
  continuousVerifySchema, initialLoadSchema, targetAlarmsSchema, targetFilterSchema, targetOptionsSchema, targetRedactionSchema,
  type TargetConfig,
} from '../../schemas/replication-config';
import type { ReplicationTargetProps } from '../../infra/constructs/replication-target';

/**
 * The construct props are plain interfaces (infra/constructs/target-options.ts) while the zod
 * schemas keep the defaults and the validation. These compile-time checks hold the two in step:
 * `tsc` (part of `npm test`) fails when a schema gains, loses or retypes an input field that the
 * interface does not, or the other way round. Readonly-ness is the only allowed difference.
 */
type Writable<T> = T extends readonly (infer U)[] ? Writable<U>[] : T extends object ? { -readonly [K in keyof T]: Writable<T[K]> } : T;
/** Mutually assignable once readonly is stripped (the props may be readonly, the schema input is not). */
type Same<A, B> = [Writable<A>] extends [Writable<B>] ? ([Writable<B>] extends [Writable<A>] ? true : false) : false;

const propsMatchSchemas: {
  filter: Same<TargetFilterProps, z.input<typeof targetFilterSchema>>;
  redaction: Same<TargetRedactionProps, z.input<typeof targetRedactionSchema>>;
  alarms: Same<TargetAlarmOptions, z.input<typeof targetAlarmsSchema>>;
  options: Same<ReplicationTargetOptions, z.input<typeof targetOptionsSchema>>;
  initialLoad: Same<InitialLoadOptionsProps, z.input<typeof initialLoadSchema>>;
  continuousVerify: Same<ContinuousVerifyProps, z.input<typeof continuousVerifySchema>>;
} = { filter: true, redaction: true, alarms: true, options: true, initialLoad: true, continuousVerify: true };

/** A parsed config target can be passed to the construct as it is (the stack does). */
function fromConfig(target: TargetConfig): Pick<ReplicationTargetProps, 'filter' | 'redaction' | 'options'> {
  return { filter: target.filter, redaction: target.redaction, options: target.options };
}

test('the prop interfaces and the schemas accept the same input (checked by tsc; here the runtime half)', () => {
  expect(propsMatchSchemas).toEqual({ filter: true, redaction: true, alarms: true, options: true, initialLoad: true, continuousVerify: true });
  // Every default the schemas fill in is a valid prop value again: parse(props) is a fixed point.
  const options = targetOptionsSchema.parse({});
  expect(targetOptionsSchema.parse(fromConfig({ filter: targetFilterSchema.parse({}), options } as TargetConfig).options)).toEqual(options);
});
