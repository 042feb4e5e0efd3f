/**
 * Where a kept local session (`local --keep`) writes its session file unless told otherwise, and
 * where the operator commands' `--local` looks for it: relative to the working directory. The
 * file's format and the control API are local/control.ts.
 */
export const DEFAULT_SESSION_FILE = '.ddb-replicate/local-session.json' as const;
