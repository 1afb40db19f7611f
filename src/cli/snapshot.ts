/**
 * `podbay backup FILE` and `podbay restore FILE`: snapshots of the store (src/store/snapshot.ts).
 * Backup works while the server runs; restore needs the data dir to itself, so it takes the
 * same owner lock `podbay server` takes and refuses, naming the server's PID, while one runs.
 */
import { join } from 'node:path';
import { parseArgs } from './args.js';
import { DEFAULT_DATA_DIR } from './defaults.js';
import { backupStore, restoreStore } from '../store/snapshot.js';
import { lockDir } from '../sys/owner-lock.js';

const BACKUP_HELP = `Usage: podbay backup FILE [--data-dir DIR]

Write a consistent snapshot of the store (DIR/state.db) to FILE (mode 0600), while the server
runs or not. Secrets are in it as the store holds them (encrypted only with
--encryption-provider-config). Default DIR: ${DEFAULT_DATA_DIR}.
`;

const RESTORE_HELP = `Usage: podbay restore FILE [--data-dir DIR]

Replace the store in DIR with the snapshot FILE. The server must be stopped. The replaced store is
kept as DIR/state.db.pre-restore-TIME. Revisions continue past every one the replaced store
handed out, and older ones are compacted, so clients re-list. Default DIR: ${DEFAULT_DATA_DIR}.
`;

function fileArg(argv: string[], verb: string, help: string): { file: string; dataDir: string } | undefined {
  const p = parseArgs(argv, ['help'], ['data-dir', 'help'], verb);
  if (p.flags.has('help')) {
    process.stdout.write(help);
    return undefined;
  }
  if (p.positionals.length !== 1) throw new Error(`podbay ${verb} takes one FILE argument (got ${p.positionals.length})\n\n${help}`);
  return { file: p.positionals[0]!, dataDir: p.flags.get('data-dir') ?? DEFAULT_DATA_DIR };
}

export async function backupCommand(argv: string[]): Promise<number> {
  const a = fileArg(argv, 'backup', BACKUP_HELP);
  if (!a) return 0;
  const info = await backupStore(join(a.dataDir, 'state.db'), a.file);
  process.stdout.write(`podbay: backed up ${info.keys} objects at revision ${info.revision} to ${a.file} (${info.bytes} bytes)\n`);
  return 0;
}

export async function restoreCommand(argv: string[]): Promise<number> {
  const a = fileArg(argv, 'restore', RESTORE_HELP);
  if (!a) return 0;
  const lock = lockDir(a.dataDir, 'data dir');
  try {
    const r = restoreStore(a.file, join(a.dataDir, 'state.db'));
    process.stdout.write(
      `podbay: restored ${r.keys} objects (revision ${r.revision}) from ${a.file}; revisions resume at ${r.resumesAt}` +
        (r.previous ? `; the replaced store is kept as ${r.previous}` : '') +
        '\n',
    );
  } finally {
    lock.release();
  }
  return 0;
}
