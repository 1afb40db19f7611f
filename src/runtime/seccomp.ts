/**
 * Seccomp for containers: containerd's RuntimeDefault profile as data, and the OCI shapes.
 *
 * The profile is containerd 1.7's contrib/seccomp/seccomp_default.go (Apache-2.0) transcribed:
 * default action SCMP_ACT_ERRNO, one allow-list of syscalls, personality() with a few safe
 * arguments, arch-specific extras, and blocks that depend on the capabilities the container has
 * in its bounding set (a container given CAP_SYS_ADMIN may mount, one given CAP_SYS_PTRACE may
 * ptrace, ...). Without CAP_SYS_ADMIN, clone() may not create namespaces and clone3() fails with
 * ENOSYS so that libc falls back to clone() (moby/moby#42681). Pure: unit-tested without root.
 */

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';
}

export interface OciSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  syscalls?: OciSyscall[];
}

/** the syscalls every container may make (containerd's first block) */
export const DEFAULT_ALLOWED_SYSCALLS: readonly string[] = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'capget', 'capset', 'chdir', 'chmod', 'chown',
  'chown32', 'clock_adjtime', 'clock_adjtime64', 'clock_getres', 'clock_getres_time64', 'clock_gettime',
  'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64', 'close', 'close_range', 'connect', 'copy_file_range',
  'creat', 'dup', 'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait',
  'epoll_pwait2', 'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit', 'exit_group',
  'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fanotify_mark', 'fchdir', 'fchmod', 'fchmodat',
  'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fork',
  'fremovexattr', 'fsetxattr', 'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate',
  'ftruncate64', 'futex', 'futex_time64', 'futex_waitv', 'futimesat', 'getcpu', 'getcwd', 'getdents', 'getdents64',
  'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32', 'getitimer',
  'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom', 'getresgid', 'getresgid32',
  'getresuid', 'getresuid32', 'getrlimit', 'get_robust_list', 'getrusage', 'getsid', 'getsockname', 'getsockopt',
  'get_thread_area', 'gettid', 'gettimeofday', 'getuid', 'getuid32', 'getxattr', 'inotify_add_watch', 'inotify_init',
  'inotify_init1', 'inotify_rm_watch', 'io_cancel', 'ioctl', 'io_destroy', 'io_getevents', 'io_pgetevents',
  'io_pgetevents_time64', 'ioprio_get', 'ioprio_set', 'io_setup', 'io_submit', 'io_uring_enter', 'io_uring_register',
  'io_uring_setup', 'ipc', 'kill', 'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self', 'lchown',
  'lchown32', 'lgetxattr', 'link', 'linkat', 'listen', 'listxattr', 'llistxattr', '_llseek', 'lremovexattr', 'lseek',
  'lsetxattr', 'lstat', 'lstat64', 'madvise', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mkdir',
  'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mmap2', 'mprotect', 'mq_getsetattr',
  'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64',
  'mq_unlink', 'mremap', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap',
  'nanosleep', 'newfstatat', '_newselect', 'open', 'openat', 'openat2', 'pause', 'pidfd_open', 'pidfd_send_signal',
  'pipe', 'pipe2', 'poll', 'ppoll', 'ppoll_time64', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64',
  'process_mrelease', 'pselect6', 'pselect6_time64', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead',
  'readlink', 'readlinkat', 'readv', 'recv', 'recvfrom', 'recvmmsg', 'recvmmsg_time64', 'recvmsg', 'remap_file_pages',
  'removexattr', 'rename', 'renameat', 'renameat2', 'restart_syscall', 'rmdir', 'rseq', 'rt_sigaction',
  'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait',
  'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo', 'sched_getaffinity', 'sched_getattr', 'sched_getparam',
  'sched_get_priority_max', 'sched_get_priority_min', 'sched_getscheduler', 'sched_rr_get_interval',
  'sched_rr_get_interval_time64', 'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler',
  'sched_yield', 'seccomp', 'select', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'send',
  'sendfile', 'sendfile64', 'sendmmsg', 'sendmsg', 'sendto', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32',
  'setgid', 'setgid32', 'setgroups', 'setgroups32', 'setitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32',
  'setresgid', 'setresgid32', 'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'set_robust_list',
  'setsid', 'setsockopt', 'set_thread_area', 'set_tid_address', 'setuid', 'setuid32', 'setxattr', 'shmat', 'shmctl',
  'shmdt', 'shmget', 'shutdown', 'sigaltstack', 'signalfd', 'signalfd4', 'sigprocmask', 'sigreturn', 'socket',
  'socketcall', 'socketpair', 'splice', 'stat', 'stat64', 'statfs', 'statfs64', 'statx', 'symlink', 'symlinkat',
  'sync', 'sync_file_range', 'syncfs', 'sysinfo', 'tee', 'tgkill', 'time', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create',
  'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times', 'tkill', 'truncate',
  'truncate64', 'ugetrlimit', 'umask', 'uname', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimensat_time64',
  'utimes', 'vfork', 'vmsplice', 'wait4', 'waitid', 'waitpid', 'write', 'writev',
];

/** extra syscalls allowed when the bounding set holds the capability */
export const CAPABILITY_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_ADMIN: [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'mount',
    'mount_setattr', 'move_mount', 'name_to_handle_at', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd',
    'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

/** Node's process.arch -> the seccomp architectures containerd lists, and that arch's extra syscalls */
const ARCHES: Readonly<Record<string, { arches: string[]; extra: string[] }>> = {
  x64: { arches: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], extra: ['arch_prctl', 'modify_ldt'] },
  arm64: {
    arches: ['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64'],
    extra: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
  },
  s390x: { arches: ['SCMP_ARCH_S390', 'SCMP_ARCH_S390X'], extra: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'] },
  riscv64: { arches: ['SCMP_ARCH_RISCV64'], extra: ['riscv_flush_icache'] },
  ppc64: { arches: ['SCMP_ARCH_PPC64LE'], extra: ['sync_file_range2', 'swapcontext'] },
};

// CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x02000000;
const ENOSYS = 38;

const allow = (names: string[], args?: OciSeccompArg[]): OciSyscall => ({ names, action: 'SCMP_ACT_ALLOW', ...(args ? { args } : {}) });

/**
 * containerd's RuntimeDefault profile for a container whose bounding set is `bounding` (OCI
 * names, "CAP_SYS_ADMIN"), on `arch` (Node's process.arch). An unknown arch gets no
 * architectures list (libseccomp then uses the native one), as containerd does.
 */
export function runtimeDefaultSeccomp(bounding: readonly string[], arch: string = process.arch): OciSeccomp {
  const a = ARCHES[arch];
  const syscalls: OciSyscall[] = [allow([...DEFAULT_ALLOWED_SYSCALLS])];
  for (const v of [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff]) syscalls.push(allow(['personality'], [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }]));
  // containerd adds ptrace for kernels >= 4.8 (seccomp no longer bypassable by ptrace); podbay needs a newer kernel anyway
  syscalls.push(allow(['ptrace']));
  if (a?.extra.length) syscalls.push(allow([...a.extra]));
  for (const cap of bounding) {
    const names = CAPABILITY_SYSCALLS[cap];
    if (names) syscalls.push(allow([...names]));
  }
  if (!bounding.includes('CAP_SYS_ADMIN')) {
    const index = arch === 's390x' ? 1 : 0;
    syscalls.push(allow(['clone'], [{ index, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]));
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', ...(a ? { architectures: [...a.arches] } : {}), syscalls };
}

const ACTIONS = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'];

/**
 * A Localhost profile file: the OCI `linux.seccomp` object, or Docker's format (which names the
 * architectures in `archMap` and syscalls by `name` or `names`), as containerd accepts. Throws
 * an Error saying what is wrong.
 */
export function parseSeccompProfile(text: string, arch: string = process.arch): OciSeccomp {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('want a JSON object with defaultAction');
  const p = raw as Record<string, any>;
  if (typeof p.defaultAction !== 'string' || !ACTIONS.includes(p.defaultAction)) {
    throw new Error(`defaultAction ${JSON.stringify(p.defaultAction)} is not one of ${ACTIONS.join(', ')}`);
  }
  const out: OciSeccomp = { defaultAction: p.defaultAction };
  if (typeof p.defaultErrnoRet === 'number') out.defaultErrnoRet = p.defaultErrnoRet;
  let arches: string[] | undefined = Array.isArray(p.architectures) ? p.architectures.map(String) : undefined;
  if (Array.isArray(p.archMap)) {
    const native = ARCHES[arch]?.arches[arch === 'arm64' ? 1 : 0];
    const m = p.archMap.find((x: any) => x?.architecture === native);
    if (m) arches = [String(m.architecture), ...((m.subArchitectures ?? []) as unknown[]).map(String)];
  }
  if (arches) out.architectures = arches;
  if (Array.isArray(p.flags)) out.flags = p.flags.map(String);
  out.syscalls = [];
  for (const [i, s] of ((p.syscalls ?? []) as any[]).entries()) {
    const names: string[] = Array.isArray(s?.names) ? s.names.map(String) : typeof s?.name === 'string' ? [s.name] : [];
    if (!names.length) throw new Error(`syscalls[${i}] names no syscall`);
    if (typeof s.action !== 'string' || !ACTIONS.includes(s.action)) throw new Error(`syscalls[${i}].action ${JSON.stringify(s.action)} is not one of ${ACTIONS.join(', ')}`);
    const sc: OciSyscall = { names, action: s.action };
    if (typeof s.errnoRet === 'number') sc.errnoRet = s.errnoRet;
    if (Array.isArray(s.args) && s.args.length) sc.args = s.args;
    out.syscalls.push(sc);
  }
  return out;
}
