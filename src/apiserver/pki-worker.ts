/**
 * A worker thread that issues the server's credentials (pki.ts ensureCredentials) so that the
 * x509 library is loaded in an isolate that is freed when it ends, not in the server's heap.
 */
import { workerData } from 'node:worker_threads';
import { ensureCredentials } from './pki.js';

const { dataDir, sans } = workerData as { dataDir: string; sans: string[] };
await ensureCredentials(dataDir, sans);
