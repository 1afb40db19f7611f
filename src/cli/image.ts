/**
 * `podbay image ...`: the local image store, used directly (not through the API server), so it
 * works whether or not a server runs; the store's index lock keeps the two from colliding.
 */
import { join } from 'node:path';
import { parseArgs, checkFlags, type Parsed } from './args.js';
import { LocalImageService, repoOf, type StoredImage } from '../image/store.js';
import { normalizeRef } from '../image/types.js';
import { ImagePuller, type PullProgress } from '../image/pull.js';
import { pushImage } from '../image/push.js';
import { loadDockerConfig, loadRegistries, type RegistriesConfig } from '../image/registries.js';
import { DEFAULT_DATA_DIR } from './defaults.js';
import { byString } from '../api/order.js';


const USAGE = `Manage the images on this machine (stored under DATA-DIR/images).

Usage:
  podbay image load -i FILE              load a 'docker save' (docker-archive) or OCI image archive (tar or tar.gz)
  podbay image import FILE NAME[:TAG]    make a one-layer image from a root filesystem tarball (tar or tar.gz)
  podbay image pull NAME                 fetch an image from its registry (or the mirrors of DATA-DIR/registries.yaml);
                                         progress per layer on a terminal, plain lines otherwise
  podbay image push NAME [--to REF]      upload an image to a registry (as REF, default its own name)
  podbay image inspect REF...            the stored record of images, as JSON
  podbay image ls [-q]                   list images (-q: IDs only)
  podbay image prune                     remove every image no container uses (and the layers only they used)
  podbay image rm REF...                 untag images (by name, ID, ID prefix of 12+ characters or name@digest);
                                         an image goes with its last tag, by ID with all its tags

Flags (every verb):
  --data-dir DIR       podbay's data directory (default ${DEFAULT_DATA_DIR}); images live in DIR/images
  --registries FILE    mirrors, credentials and TLS per registry, k3s's registries.yaml format
                       (default DATA-DIR/registries.yaml when it exists); pull and push
  --disable-default-registry-endpoint
                       pull a mirrored registry's images only from its mirrors, never from the registry itself
  --kubeconfig FILE    accepted for uniformity with the other verbs; unused (image verbs use the local store)
  -h, --help           show this help
`;

export interface ImageCommandIO {
  out: (s: string) => void;
  err: (s: string) => void;
  /** draw progress in place (default: whether stdout is a terminal) */
  isTTY?: boolean;
}

const stdio: ImageCommandIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

class UsageError extends Error {}

const COMMON = ['data-dir', 'kubeconfig', 'help', 'h'];
const BOOLEANS = ['help', 'h', 'q', 'quiet', 'disable-default-registry-endpoint'];
const REGISTRY_FLAGS = ['registries', 'disable-default-registry-endpoint'];

/** go-units HumanSize, as crictl and docker print sizes: decimal units, 4 significant digits. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** Rows of a column table, each column padded to its widest cell plus three spaces (tabwriter style). */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] + 3))).join('').trimEnd() + '\n').join('');
}

/** "docker.io/library/busybox:1.36" -> ["docker.io/library/busybox", "1.36"] */
function splitTag(name: string): [string, string] {
  const repo = repoOf(name);
  return [repo, name.slice(repo.length + 1) || '<none>'];
}

export function imageTable(images: StoredImage[]): string {
  const rows: string[][] = [];
  for (const img of images) {
    const id = img.id.replace(/^sha256:/, '').slice(0, 13);
    const size = humanSize(img.size);
    if (img.repoTags.length === 0) rows.push(['<none>', '<none>', id, size]);
    for (const t of img.repoTags) rows.push([...splitTag(t), id, size]);
  }
  rows.sort((a, b) => byString(a[0], b[0]) || byString(a[1], b[1]));
  return formatTable([['IMAGE', 'TAG', 'IMAGE ID', 'SIZE'], ...rows]);
}

function parse(argv: string[], verb: string, extra: string[]): Parsed {
  const known = [...COMMON, ...extra];
  // name an unknown flag even when it ends the line (parseArgs would ask for its value first)
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const m = /^--?([A-Za-z][\w-]*)(=.*)?$/.exec(argv[i]);
    if (!m) continue;
    if (!known.includes(m[1])) throw new UsageError(`unknown flag: ${argv[i].replace(/=.*/, '')} (podbay image ${verb} accepts: ${known.filter((k) => k.length > 1).map((f) => '--' + f).join(', ')})`);
    if (!m[2] && !BOOLEANS.includes(m[1])) i++;
  }
  let p: Parsed;
  try {
    p = parseArgs(argv, BOOLEANS);
    checkFlags(p, [...COMMON, ...extra], `image ${verb}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return p;
}

function dataDir(p: Parsed): string {
  return p.flags.get('data-dir') ?? DEFAULT_DATA_DIR;
}

function store(p: Parsed): LocalImageService {
  return new LocalImageService(join(dataDir(p), 'images'));
}

/** --registries FILE (must exist) or DATA-DIR/registries.yaml (optional). */
function registries(p: Parsed): Promise<RegistriesConfig> {
  const named = p.flags.get('registries');
  return loadRegistries(named ?? join(dataDir(p), 'registries.yaml'), named !== undefined);
}

/** `podbay image ARGS`: returns the exit code (0 ok, 1 failed, 2 usage error). */
export async function imageCommand(argv: string[], io: ImageCommandIO = stdio): Promise<number> {
  // the verb is the first word that is neither a flag nor a flag's value ("image --data-dir D ls")
  let at = 0;
  while (at < argv.length && argv[at].startsWith('-') && argv[at] !== '--') {
    const name = argv[at].replace(/^--?/, '');
    at += name.includes('=') || BOOLEANS.includes(name) ? 1 : 2;
  }
  const verb = argv[at] === '--' ? undefined : argv[at];
  const rest = [...argv.slice(0, at), ...argv.slice(at + 1)];
  try {
    if (verb === undefined || verb === 'help' || verb === '--help' || verb === '-h') {
      io.out(USAGE);
      return 0;
    }
    const wantsHelp = (p: Parsed) => p.flags.has('help') || p.flags.has('h');
    const help = () => {
      io.out(USAGE);
      return 0;
    };
    switch (verb) {
      case 'load': {
        const p = parse(rest, verb, ['i', 'input']);
        if (wantsHelp(p)) return help();
        const file = p.flags.get('i') ?? p.flags.get('input');
        if (!file) throw new UsageError('podbay image load needs the archive: podbay image load -i FILE');
        if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}: podbay image load -i FILE`);
        const images = await store(p).loadArchive(file);
        for (const img of images) {
          if (img.repoTags.length === 0) io.out(`Loaded image ID: ${img.id}\n`);
          for (const t of img.repoTags) io.out(`Loaded image: ${t}\n`);
        }
        return 0;
      }
      case 'import': {
        const p = parse(rest, verb, []);
        if (wantsHelp(p)) return help();
        if (p.positionals.length !== 2) throw new UsageError('podbay image import needs a file and a name: podbay image import FILE NAME[:TAG]');
        const img = await store(p).importRootfs(p.positionals[0], p.positionals[1]);
        io.out(`${img.id}\n`);
        return 0;
      }
      case 'pull': {
        const p = parse(rest, verb, ['q', 'quiet', ...REGISTRY_FLAGS]);
        if (wantsHelp(p)) return help();
        if (p.positionals.length !== 1) throw new UsageError('podbay image pull needs one image: podbay image pull NAME[:TAG|@DIGEST]');
        const cfg = await registries(p);
        const creds = await loadDockerConfig();
        const puller = new ImagePuller(store(p), { registries: () => cfg, disableDefaultEndpoint: p.flags.has('disable-default-registry-endpoint') });
        const quiet = p.flags.has('q') || p.flags.has('quiet');
        const view = quiet ? undefined : new PullProgressView(io, Boolean(io.isTTY ?? process.stdout.isTTY));
        const t0 = performance.now();
        const r = await puller.pull(p.positionals[0], { credentials: [creds], onProgress: (e) => view?.update(e) });
        view?.finish();
        const secs = ((performance.now() - t0) / 1000).toFixed(1);
        if (!quiet) {
          io.out(`Digest: ${r.repoDigest.slice(r.repoDigest.indexOf('@') + 1)}\n`);
          io.out(r.fetched === 0 ? `Status: Image is up to date for ${r.image.repoTags[0] ?? r.repoDigest}\n` : `Status: Downloaded newer image for ${r.image.repoTags[0] ?? r.repoDigest} (${humanSize(r.fetched)} in ${secs}s)\n`);
        }
        io.out(`${r.image.repoTags[0] ?? r.repoDigest}\n`);
        return 0;
      }
      case 'push': {
        const p = parse(rest, verb, ['to', ...REGISTRY_FLAGS]);
        if (wantsHelp(p)) return help();
        if (p.positionals.length !== 1) throw new UsageError('podbay image push needs one image: podbay image push NAME [--to REGISTRY/REPO:TAG]');
        const cfg = await registries(p);
        const creds = await loadDockerConfig();
        const r = await pushImage(store(p), p.positionals[0], p.flags.get('to'), {
          registries: cfg,
          credentials: [creds],
          onProgress: (e) => io.out(`${e.digest.slice(7, 19)}: ${{ exists: 'Layer already exists', mounted: 'Mounted from another repository', uploading: 'Pushing', pushed: 'Pushed' }[e.phase]}${e.phase === 'uploading' ? ` (${humanSize(e.size)})` : ''}\n`),
        });
        io.out(`${r.ref.slice(r.ref.lastIndexOf(':') + 1)}: digest: ${r.digest}\n`);
        return 0;
      }
      case 'inspect': {
        const p = parse(rest, verb, []);
        if (wantsHelp(p)) return help();
        if (p.positionals.length === 0) throw new UsageError('podbay image inspect needs at least one image: podbay image inspect REF...');
        const s = store(p);
        const out = [];
        for (const ref of p.positionals) out.push(await s.require(ref));
        io.out(JSON.stringify(out, null, 2) + '\n');
        return 0;
      }
      case 'prune': {
        const p = parse(rest, verb, []);
        if (wantsHelp(p)) return help();
        if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}: podbay image prune takes no arguments`);
        const removed = await store(p).prune();
        for (const img of removed) io.out(`Deleted: ${img.repoTags[0] ?? img.id}\n`);
        io.out(`Total reclaimed space: ${humanSize(removed.reduce((n, i) => n + i.size, 0))}\n`);
        return 0;
      }
      case 'ls':
      case 'list': {
        const p = parse(rest, verb, ['q', 'quiet']);
        if (wantsHelp(p)) return help();
        if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}: podbay image ls takes no arguments`);
        const images = await store(p).list();
        if (p.flags.has('q') || p.flags.has('quiet')) for (const i of images) io.out(`${i.id}\n`);
        else io.out(imageTable(images));
        return 0;
      }
      case 'rm':
      case 'rmi':
      case 'remove': {
        const p = parse(rest, verb, []);
        if (wantsHelp(p)) return help();
        if (p.positionals.length === 0) throw new UsageError('podbay image rm needs at least one image: podbay image rm REF...');
        const s = store(p);
        let code = 0;
        for (const ref of p.positionals) {
          try {
            const img = await s.require(ref);
            await s.remove(ref);
            const shown = img.repoTags.find((t) => t === tryNormalize(ref)) ?? img.id;
            io.out(`Deleted: ${shown}\n`);
          } catch (e) {
            io.err(`podbay image rm: ${(e as Error).message}\n`);
            code = 1;
          }
        }
        return code;
      }
      default:
        throw new UsageError(`unknown image command ${JSON.stringify(verb)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`podbay image: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`podbay image ${verb}: ${(e as Error).message}\n`);
    return 1;
  }
}

function tryNormalize(ref: string): string | undefined {
  try {
    return normalizeRef(ref);
  } catch {
    return undefined;
  }
}

/**
 * `image pull` progress: on a terminal one line per layer redrawn in place (docker's look:
 * "abc123def456: Downloading [=====>     ] 1.2MB/3.4MB"); otherwise a plain line per change
 * of phase, so logs stay readable.
 */
export class PullProgressView {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  private drawn = 0;
  private lastDraw = 0;
  private readonly phases = new Map<string, string>();

  constructor(
    private readonly io: ImageCommandIO,
    private readonly tty: boolean,
  ) {}

  update(e: PullProgress): void {
    if (e.phase === 'resolved') {
      this.io.out(`Resolved ${e.detail}\n`);
      return;
    }
    const id = (e.digest ?? '').slice(7, 19);
    const label = { waiting: 'Waiting', downloading: 'Downloading', retrying: 'Retrying', verifying: 'Verifying Checksum', done: 'Pull complete', exists: 'Already exists', resolved: '' }[e.phase];
    if (!this.tty) {
      if (this.phases.get(id) === e.phase) return;
      this.phases.set(id, e.phase);
      this.io.out(`${id}: ${label}${e.phase === 'downloading' ? ` (${humanSize(e.total)})` : ''}\n`);
      return;
    }
    if (!this.lines.has(id)) this.order.push(id);
    const prev = this.phases.get(id);
    this.phases.set(id, e.phase);
    let line = `${id}: ${label}`;
    if (e.phase === 'downloading' && e.total > 0) {
      const width = 30;
      const filled = Math.min(width, Math.floor((e.current / e.total) * width));
      line += ` [${'='.repeat(Math.max(0, filled - 1))}${filled ? '>' : ''}${' '.repeat(width - filled)}] ${humanSize(e.current)}/${humanSize(e.total)}`;
    }
    this.lines.set(id, line);
    const now = Date.now();
    // a redraw at most every 100 ms while bytes stream; every change of phase at once
    if (e.phase === 'downloading' && prev === 'downloading' && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.draw();
  }

  private draw(): void {
    let s = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const id of this.order) s += `\x1b[2K${this.lines.get(id)}\n`;
    this.drawn = this.order.length;
    this.io.out(s);
  }

  finish(): void {
    if (this.tty && this.order.length) this.draw();
  }
}
