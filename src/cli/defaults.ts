/**
 * Defaults shared by the CLI verbs, in a module of their own so a light verb (`podbay image`,
 * `podbay backup`) need not load the server's module graph (~0.4 s of start-up) to learn them.
 */
export const DEFAULT_DATA_DIR = '/var/lib/podbay';
/** podbay's cgroup root (the kubelet's --cgroup-root is /; podbay keeps to a directory of its own) */
export const DEFAULT_CGROUP_ROOT = '/podbay';
/** A finite default, unlike the kubelet's -1: see --pod-pids-limit in podbay server --help. */
export const DEFAULT_POD_PIDS_LIMIT = 4096;
