import { Command } from 'commander';
import { buildProgram, COMMANDS, type CommandContext } from '../../cli/index';

/**
 * bin/ddb-replicate.js loads only the module of the command it runs (cli/index.ts COMMANDS): each
 * entry's name must be the command its module registers, or `ddb-replicate <name>` would load the
 * wrong module (or all of them).
 */
const ctx = (): CommandContext => ({ io: { stdout: { write: () => true }, stderr: { write: () => true } }, exitCode: 0, debug: false });

test.each(COMMANDS.map((c) => [c.name, c] as const))('COMMANDS entry %s registers exactly that command', (name, entry) => {
  const program = new Command('ddb-replicate');
  entry.load()(program, ctx());
  expect(program.commands.map((c) => c.name())).toEqual([name]);
});

test('a known command word builds a program with that command only; no word or an unknown one, with all', () => {
  expect(buildProgram(ctx(), 'verify').commands.map((c) => c.name())).toEqual(['verify']);
  const all = COMMANDS.map((c) => c.name);
  expect(buildProgram(ctx()).commands.map((c) => c.name())).toEqual(all);
  expect(buildProgram(ctx(), 'verfy').commands.map((c) => c.name())).toEqual(all);
  expect(new Set(all).size).toBe(all.length);
});
