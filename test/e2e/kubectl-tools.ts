/**
 * Running real kubectl the way a user does, for the streaming and matrix suites: its
 * environment, `kubectl port-forward` in the background, curl through it, and kubectl under a
 * pseudo-terminal of a known size (python3's pty module) for -it sessions and resizes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { waitFor, type PodbayServer } from './harness.js';

export function kubectlEnv(s: PodbayServer): NodeJS.ProcessEnv {
  return { ...process.env, KUBECONFIG: s.kubeconfig, HOME: s.dataDir };
}

export /** `kubectl port-forward` in the background; resolves once it says "Forwarding from" for every port. */
async function portForward(s: PodbayServer, bin: string, pod: string, maps: string[]): Promise<{ proc: ChildProcess; out: () => string; stop: () => Promise<void> }> {
  const proc = spawn(bin, ['--kubeconfig', s.kubeconfig, 'port-forward', `pod/${pod}`, ...maps], { env: kubectlEnv(s), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await waitFor(`port-forward ready (${out})`, () => (out.match(/Forwarding from 127\.0\.0\.1/g)?.length ?? 0) >= maps.length || proc.exitCode !== null || undefined, 20_000);
  assert.equal(proc.exitCode, null, `kubectl port-forward exited: ${out}`);
  return {
    proc,
    out: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}

export function curl(port: number, path = '/'): { code: number; body: string; err: string } {
  const r = spawnSync('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${port}${path}`], { encoding: 'utf8' });
  return { code: r.status ?? -1, body: r.stdout, err: r.stderr };
}

/**
 * Run kubectl under a pseudo-terminal of ROWSxCOLS (python3's pty module), typing `input`
 * lines after `waitFor` text shows up; `resizeTo` is applied to the terminal after the first
 * line. Returns everything the terminal showed.
 */
export function underPty(argv: string[], env: NodeJS.ProcessEnv, rows: number, cols: number, steps: { expect: string; send?: string; resize?: [number, number] }[]): Promise<string> {
  const script = `
import fcntl, json, os, pty, select, struct, sys, termios, time
argv, rows, cols, steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
out = b''
seen = 0
deadline = time.time() + 40
for step in steps + [None]:
    while True:
        if step is not None and step['expect'].encode() in out[seen:]:
            seen = out.index(step['expect'].encode(), seen) + len(step['expect'])
            break
        if time.time() > deadline:
            sys.stdout.write(out.decode(errors='replace')); sys.exit(3)
        r, _, _ = select.select([fd], [], [], 0.2)
        if fd in r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b''
            if not data:
                sys.stdout.write(out.decode(errors='replace')); sys.exit(0 if step is None else 4)
            out += data
    if step.get('resize'):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', step['resize'][0], step['resize'][1], 0, 0))
        time.sleep(0.5)
    if step.get('send'):
        os.write(fd, step['send'].encode())
`;
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', script, JSON.stringify([argv, rows, cols, steps])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`pty run exited ${code}:\n${out}`))));
  });
}
