/**
 * The offline path: a directory of image archives (docker save or OCI, tar or tar.gz) that the
 * server imports at start, as k3s does with its agent/images directory, so a machine with no
 * registry can still run pods. An archive is imported again only when its size or mtime
 * changed (DATA/images/airgap.json remembers what was imported); a bad archive is logged and
 * skipped, never fatal: the server must come up.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { LocalImageService } from './store.js';

const ARCHIVE_RE = /\.(tar|tar\.gz|tgz)$/;

interface Stamp {
  size: number;
  mtimeMs: number;
}

export interface AirgapResult {
  imported: string[];
  skipped: string[];
  failed: { file: string; error: string }[];
}

export async function importAirgapImages(store: LocalImageService, dir: string, log: (line: string) => void = () => {}): Promise<AirgapResult> {
  const out: AirgapResult = { imported: [], skipped: [], failed: [] };
  let names: string[];
  try {
    names = (await fsp.readdir(dir)).filter((n) => ARCHIVE_RE.test(n)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  const stampFile = join(store.root, 'airgap.json');
  let stamps: Record<string, Stamp> = {};
  try {
    stamps = JSON.parse(await fsp.readFile(stampFile, 'utf8')) as Record<string, Stamp>;
  } catch {
    stamps = {};
  }
  for (const name of names) {
    const file = join(dir, name);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    const prev = stamps[name];
    if (prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs) {
      out.skipped.push(name);
      continue;
    }
    try {
      const images = await store.loadArchive(file);
      stamps[name] = { size: st.size, mtimeMs: st.mtimeMs };
      out.imported.push(name);
      log(`images: imported ${images.flatMap((i) => (i.repoTags.length ? i.repoTags : [i.id])).join(', ')} from ${file}`);
    } catch (e) {
      out.failed.push({ file, error: (e as Error).message });
      log(`images: cannot import ${file}: ${(e as Error).message}`);
    }
  }
  await fsp.mkdir(store.root, { recursive: true });
  const tmp = `${stampFile}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(stamps, null, 1) + '\n');
  await fsp.rename(tmp, stampFile);
  return out;
}
