/** A volume the kubelet cannot set up: reported as FailedMount (worded as the kubelet's) and retried. */
export class VolumeError extends Error {
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(`MountVolume.SetUp failed for volume "${volume}" : ${message}`);
  }
}
