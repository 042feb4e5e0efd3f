import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeySchema } from '../../../handlers/core/key-schema';
import { sessionFileContent, startControlServer, writeSessionFile, type ControlServer } from '../../../local/control';
import { startLocalSession, type LocalSession } from '../../../local/session';

/** A local session served as `local --keep` serves it (control API + session file), for the `--local` commands. */
export interface KeptSession {
  readonly session: LocalSession;
  /** The session file, to pass as `--local FILE`. */
  readonly file: string;
  stop(): Promise<void>;
}

/** Replicating, with quick redelivery (visibility 1 s, two receives before the DLQ, apply timeout 4 s). */
export async function startKeptSession(keySchema: KeySchema, seed: number): Promise<KeptSession> {
  const session = await startLocalSession({ keySchema, seed, maxReceiveCount: 2, visibilityTimeoutSeconds: 1, applyTimeoutSeconds: 5 });
  let control: ControlServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'kept-session-'));
  try {
    await session.startReplication();
    control = await startControlServer(session);
    const file = join(dir, 'local-session.json');
    writeSessionFile(file, sessionFileContent(session, control, keySchema));
    return {
      session,
      file,
      stop: async () => {
        await control?.close();
        await session.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await control?.close();
    await session.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
