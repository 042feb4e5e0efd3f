import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SESSION_FILE } from '../../common/session-file';
import { removeEmptySessionDir } from '../../local/control';

/** `local --keep` leaves no empty .ddb-replicate/ behind, and never removes anybody else's files. */
describe('removeEmptySessionDir', () => {
  const cwd = process.cwd();
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'session-dir-'));
    process.chdir(dir);
    mkdirSync('.ddb-replicate');
  });
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes the default directory holding only its own .gitignore', () => {
    writeFileSync('.ddb-replicate/.gitignore', '*\n');
    removeEmptySessionDir(DEFAULT_SESSION_FILE);
    expect(existsSync('.ddb-replicate')).toBe(false);
  });

  it('keeps it when anything else is there, and ignores other session files', () => {
    writeFileSync('.ddb-replicate/.gitignore', '*\n');
    writeFileSync('.ddb-replicate/notes.txt', 'mine');
    removeEmptySessionDir(DEFAULT_SESSION_FILE);
    expect(existsSync('.ddb-replicate/notes.txt')).toBe(true);
    rmSync('.ddb-replicate/notes.txt');
    removeEmptySessionDir('elsewhere/local-session.json');
    expect(existsSync('.ddb-replicate/.gitignore')).toBe(true);
  });
});
