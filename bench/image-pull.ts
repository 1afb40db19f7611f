/**
 * Image pull benchmark: a multi-layer image (busybox + LAYERS layers of LAYER_MB each, half
 * random bytes, half base64 text, gzip'd as registries serve them) pushed with `podbay image push`
 * to Debian's docker-registry on a free 127.0.0.1 port, then pulled N times by each of, alternating
 * which goes first:
 *
 *   podbay   `podbay image pull` into a fresh data dir: download + digest check, then the diffID
 *            (gunzip + sha256) of each layer, then unpack into layer dirs and the index. The time
 *            of the last "Pull complete" line (every layer fetched and verified, nothing unpacked
 *            yet) is reported as `fetchVerifyMs`; the CLI has no pull-without-unpack.
 *   skopeo   `skopeo copy docker://... oci:DIR:tag` into a fresh dir (Debian's skopeo): download +
 *            digest check, blobs written as they come, nothing decompressed or unpacked.
 *
 * Wall time is measured here around each process; peak RSS is /usr/bin/time's %M. One warm-up of
 * each first (registry storage in the page cache). Prints JSON with medians and the ratios.
 * Usage (root): node dist/bench/image-pull.js [--n 5] [--layers 4] [--layer-mb 16]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PODBAY } from '../test/e2e/harness.js';
import { startDockerRegistry, type DockerRegistry } from '../test/e2e/registry-harness.js';
import { buildBusyboxRootfs, writeDockerArchive } from '../src/image/archive-build.js';
import { stats } from './stats.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('n', '5'));
const LAYERS = Number(arg('layers', '4'));
const LAYER_MB = Number(arg('layer-mb', '16'));
const TIME = '/usr/bin/time';
const ENV = { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' };
/** skopeo run as root keeps a blob-info cache here (no flag moves it); removed after if we made it */
const SKOPEO_STATE = '/var/lib/containers';

function requireTools(): void {
  if (spawnSync('skopeo', ['--version']).error) throw new Error("skopeo not found: this benchmark compares against Debian's skopeo (a bench-only tool): apt-get install skopeo");
  if (!existsSync(TIME)) throw new Error(`${TIME} not found (peak RSS): apt-get install time`);
}

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: ENV, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** LAYER_MB files of 1 MiB per layer: 512 KiB random (incompressible) + 512 KiB base64 (gzip ~75%). */
function fillLayer(dir: string): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  for (let f = 0; f < LAYER_MB; f++) writeFileSync(join(dir, 'data', `blob-${f}`), Buffer.concat([randomBytes(512 << 10), Buffer.from(randomBytes(384 << 10).toString('base64'))]));
}

interface Sample {
  wallMs: number;
  rssKiB: number;
  /** podbay: ms until the last "Pull complete" line */
  fetchVerifyMs?: number;
}

/** Runs `cmd` under /usr/bin/time; wall clock from here, peak RSS (KiB) from time's %M. */
function timed(cmd: string[], timeFile: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let lastComplete: number | undefined;
    let out = '';
    const p = spawn(TIME, ['-f', '%e %M', '-o', timeFile, ...cmd], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => {
      out += d;
      if (/: Pull complete$/m.test(d.toString())) lastComplete = performance.now();
    });
    p.stderr.on('data', (d: Buffer) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const wallMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${cmd.join(' ')} failed (${code}):\n${out}`));
      const [, rss] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-2);
      resolve({ wallMs, rssKiB: Number(rss), ...(lastComplete !== undefined ? { fetchVerifyMs: lastComplete - t0 } : {}) });
    });
  });
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root: podbay unpacks layers with their owners');
  requireTools();
  const work = mkdtempSync(join(tmpdir(), 'podbay-bench-pull-'));
  const hadSkopeoState = existsSync(SKOPEO_STATE);
  let reg: DockerRegistry | undefined;
  try {
    const layerDirs = [join(work, 'l0')];
    await buildBusyboxRootfs(layerDirs[0]);
    for (let i = 1; i <= LAYERS; i++) {
      layerDirs.push(join(work, `l${i}`));
      fillLayer(layerDirs[i]);
    }
    await writeDockerArchive(join(work, 'image.tar'), { repoTags: ['bench/multi:1'], layers: layerDirs, gzipLayers: true, config: { cmd: ['sh'] } });
    for (const d of layerDirs) rmSync(d, { recursive: true, force: true });
    const srcData = join(work, 'src');
    must(PODBAY, ['image', 'load', '-i', join(work, 'image.tar'), '--data-dir', srcData]);
    rmSync(join(work, 'image.tar'));
    const [img] = JSON.parse(must(PODBAY, ['image', 'inspect', 'bench/multi:1', '--data-dir', srcData]));

    reg = await startDockerRegistry();
    const ref = `${reg.host}/bench/multi:1`;
    must(PODBAY, ['image', 'push', 'bench/multi:1', '--to', ref, '--data-dir', srcData]);
    rmSync(srcData, { recursive: true, force: true });

    const tools = {
      podbay: (dir: string) => [PODBAY, 'image', 'pull', ref, '--data-dir', dir],
      skopeo: (dir: string) => ['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}:1`],
    };
    const samples: Record<keyof typeof tools, Sample[]> = { podbay: [], skopeo: [] };
    let seq = 0;
    const once = async (tool: keyof typeof tools) => {
      const dir = join(work, `${tool}-${seq++}`);
      try {
        return await timed(tools[tool](dir), join(work, 'time.out'));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    await once('podbay');
    await once('skopeo');
    for (let i = 0; i < N; i++) {
      const order: (keyof typeof tools)[] = i % 2 ? ['skopeo', 'podbay'] : ['podbay', 'skopeo'];
      for (const t of order) samples[t].push(await once(t));
    }
    // the CLI's own start-up cost (node, module loading), for reading the pull time
    const floor: number[] = [];
    for (let i = 0; i < N; i++) floor.push((await timed([PODBAY, 'image', 'ls', '--data-dir', join(work, 'empty')], join(work, 'time.out'))).wallMs);
    rmSync(join(work, 'empty'), { recursive: true, force: true });

    const sum = (tool: keyof typeof tools) => ({
      wallMs: stats(samples[tool].map((s) => s.wallMs)),
      peakRssMiB: stats(samples[tool].map((s) => s.rssKiB / 1024)),
    });
    const podbay = { ...sum('podbay'), fetchVerifyMs: stats(samples.podbay.map((s) => s.fetchVerifyMs ?? NaN)), cliStartMs: stats(floor) };
    const skopeo = sum('skopeo');
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    console.log(
      JSON.stringify(
        {
          image: { layers: img.layers.length, compressedMB: Math.round(img.size / 1e5) / 10, uncompressedDataMiB: LAYERS * LAYER_MB },
          runs: N,
          podbay,
          skopeo,
          ratio: { wall: ratio(podbay.wallMs.median, skopeo.wallMs.median), fetchVerifyVsSkopeo: ratio(podbay.fetchVerifyMs.median, skopeo.wallMs.median), peakRss: ratio(podbay.peakRssMiB.median, skopeo.peakRssMiB.median) },
          notes: [
            'podbay pull = download + digest check + diffID (gunzip+sha256) + unpack into layer dirs; skopeo copy to oci: = download + digest check, blobs kept compressed',
            'fetchVerifyMs: until the last "Pull complete" line, before unpacking (the CLI has no pull-without-unpack)',
          ],
          machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, skopeo: must('skopeo', ['--version']).trim() },
        },
        null,
        2,
      ),
    );
  } finally {
    await reg?.stop();
    rmSync(work, { recursive: true, force: true });
    if (!hadSkopeoState) rmSync(SKOPEO_STATE, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
