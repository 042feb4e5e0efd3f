import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { buildProgram, type CommandContext } from '../../cli/index';

/**
 * Every `ddb-replicate …` command line in README.md, docs/*.md and the commands' `--help` examples
 * parses with the CLI's real commander program (cli/index.ts buildProgram): known subcommand, no
 * unknown flag, no missing required option, option values accepted by their parsers. Actions are
 * replaced, never run.
 */

const ROOT = join(__dirname, '..', '..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

interface DocCommand {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

// `ddb-replicate` with arguments at the start of a code line or code span, optionally after `$ ` or
// `npx ` (a bare `ddb-replicate` names the tool, it is not a command line).
const COMMAND = /^(?:\$\s+)?(?:npx\s+)?ddb-replicate\s+\S/;

/** The command lines of one markdown text: fenced code lines (with continuations) and inline code spans. */
function extractCommands(file: string, markdown: string): DocCommand[] {
  const commands: DocCommand[] = [];
  const lines = markdown.split('\n');
  let fenced = false;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) {
      if (!COMMAND.test(line.trim())) continue;
      let text = line.trim();
      // Continuations: a trailing backslash, or an indented synopsis line of further options.
      while (i + 1 < lines.length && (text.endsWith('\\') || /^\s+\[?--/.test(lines[i + 1] ?? ''))) {
        text = `${text.replace(/\\$/, '')} ${(lines[i + 1] ?? '').trim()}`;
        i += 1;
      }
      commands.push({ file, line: i + 1, text });
      continue;
    }
    for (const span of line.matchAll(/`([^`]+)`/g)) {
      const code = (span[1] ?? '').trim();
      if (COMMAND.test(code)) commands.push({ file, line: i + 1, text: code });
    }
  }
  return commands;
}

/** argv after `ddb-replicate`: comment dropped, synopsis brackets opened (`[--json]` → `--json`, `pk:S[,sk:N]` → `pk:S`). */
function commandArgs(text: string): string[] {
  const withoutComment = text.replace(/\s+#.*$/, '');
  const tokens = withoutComment.split(/\s+/).filter((t) => t !== '');
  const start = tokens.indexOf('ddb-replicate');
  return tokens.slice(start + 1).map((t) => (t.startsWith('[') ? t.replace(/^\[/, '').replace(/\]$/, '') : t.replace(/\[[^\]]*\]/g, '')));
}

/** What is wrong with one command line, or undefined when the real program accepts it. */
function commandProblem(args: readonly string[]): string | undefined {
  const sink = { write: () => true };
  const ctx: CommandContext = { io: { stdout: sink, stderr: sink }, exitCode: 0, debug: false };
  const program = buildProgram(ctx);
  const parsed: { name: string; opts: Record<string, unknown> }[] = [];
  for (const command of program.commands as Command[]) {
    command.action(function record(this: Command) {
      parsed.push({ name: this.name(), opts: this.opts() });
    });
  }
  try {
    program.parse(['node', 'ddb-replicate', ...args], { from: 'node' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version print and stop: the line is valid.
      if (error.exitCode === 0) return undefined;
      return `${error.code}: ${error.message}`;
    }
    return `parse failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  const [command] = parsed;
  if (command === undefined) return 'no subcommand ran';
  // Every documented deployment has its targets in other accounts: the operator's own credentials
  // need --target-profile to read the target table (docs/operator-cli.md, "The same in AWS") —
  // unless the verify Glue job reads it through the target role (--engine glue refuses the option).
  if (command.name === 'verify' && command.opts.engine !== 'glue' && command.opts.target !== undefined && command.opts.local === undefined && command.opts.targetProfile === undefined) {
    return 'verify of a deployed target without --target-profile: the target table is in the target account';
  }
  return undefined;
}

function problemsOf(commands: readonly DocCommand[]): string[] {
  return commands.flatMap((c) => {
    const problem = commandProblem(commandArgs(c.text));
    return problem === undefined ? [] : [`${c.file}:${c.line}: \`${c.text}\` — ${problem}`];
  });
}

/** The `$ ddb-replicate …` examples of every command's --help, as commander prints them. */
function helpExamples(): DocCommand[] {
  let text = '';
  const out = { write: (chunk: string) => (text += chunk) };
  const program = buildProgram({ io: { stdout: out, stderr: out }, exitCode: 0, debug: false });
  return (program.commands as Command[]).flatMap((command) => {
    text = '';
    command.outputHelp();
    // A fence around the help text: its example lines then read like a markdown code block.
    return extractCommands(`ddb-replicate ${command.name()} --help`, `\`\`\`\n${text}\n\`\`\``);
  });
}

const documented = [...DOCS.flatMap((file) => extractCommands(file, readFileSync(join(ROOT, file), 'utf8'))), ...helpExamples()];

describe('ddb-replicate command lines in README.md, docs/*.md and --help examples', () => {
  it('finds the documented commands (README deploy steps and the operator walkthrough)', () => {
    const texts = documented.map((c) => c.text);
    expect(texts).toEqual(expect.arrayContaining([
      'npx ddb-replicate bootstrap --target dr',
      expect.stringMatching(/^npx ddb-replicate verify --target dr --target-profile \S+$/),
      expect.stringMatching(/^ddb-replicate local --key-schema .* \[--json\]$/),
      // --help examples, continuation lines joined
      '$ ddb-replicate verify --local --repair',
      expect.stringMatching(/^\$ ddb-replicate local --key-schema pk:S,sk:N --seed-items items.jsonl +--ops ops.jsonl .* --json$/),
    ]));
    for (const command of ['local', 'bootstrap', 'replay', 'verify', 'status', 'pause', 'resume']) {
      expect(documented.some((c) => commandArgs(c.text)[0] === command)).toBe(true);
    }
  });

  it('every one parses with the real CLI program', () => {
    expect(problemsOf(documented)).toEqual([]);
  });
});

describe('the check itself', () => {
  it.each([
    ['a bogus flag', 'npx ddb-replicate verify --target dr --target-profile p --bogus', /unknownOption.*--bogus/],
    ['an unknown subcommand', '`ddb-replicate verfy --target dr`', /unknownCommand/],
    ['a missing required option', 'ddb-replicate bootstrap --engine direct', /missingMandatoryOptionValue.*--target/],
    ['a value its parser refuses', 'ddb-replicate replay --target dr --max lots', /invalidArgument/],
    ['a stray argument', 'ddb-replicate status dr', /excessArguments/],
    ['a cross-account verify without --target-profile', 'npx ddb-replicate verify --target dr', /--target-profile/],
  ])('reports %s', (_what, line, expected) => {
    const markdown = line.startsWith('`') ? `Run ${line} now.` : `\`\`\`sh\n${line}\n\`\`\``;
    const problems = problemsOf(extractCommands('doc.md', markdown));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('reads continuations, comments, prompts and optional synopsis groups', () => {
    const markdown = [
      '```',
      '$ npx ddb-replicate replay --target dr \\',
      '    --dry-run   # look first',
      'ddb-replicate local --key-schema pk:S[,sk:N] --seed-items a.jsonl',
      '                    [--bootstrap] [--json]',
      '```',
    ].join('\n');
    const commands = extractCommands('doc.md', markdown);
    expect(commands.map((c) => commandArgs(c.text))).toEqual([
      ['replay', '--target', 'dr', '--dry-run'],
      ['local', '--key-schema', 'pk:S', '--seed-items', 'a.jsonl', '--bootstrap', '--json'],
    ]);
    expect(problemsOf(commands)).toEqual([]);
  });
});
