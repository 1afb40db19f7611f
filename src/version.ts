/** What /version reports. The Kubernetes version is the API level podbay follows. */
export const PODBAY_VERSION = '0.1.0';

export const VERSION_INFO = {
  major: '1',
  minor: '33',
  gitVersion: `v1.33.0+podbay-${PODBAY_VERSION}`,
  gitCommit: '',
  gitTreeState: 'clean',
  buildDate: '2026-11-27T00:00:00Z',
  goVersion: `node${process.versions.node}`,
  compiler: 'tsc',
  platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};
