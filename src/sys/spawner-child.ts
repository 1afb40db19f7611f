/**
 * podbay's spawner (./spawner.ts): a small process that starts podbay's short commands (runc,
 * iptables, mount, CNI plugins, ...) on the engine's behalf and sends back what each printed.
 * Run as `node spawner-child.js` with an IPC channel; it exits when the engine goes (the channel
 * closes). Signals meant for the engine's terminal (Ctrl-C's SIGINT goes to the whole process
 * group) are ignored: the engine's shutdown still runs its commands through here.
 */
import { spawnCollect, type SpawnRequest } from './exec-spawn.js';

process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('SIGHUP', () => {});
process.on('disconnect', () => process.exit(0));
process.on('message', (m: { id: number; req: SpawnRequest }) => {
  void spawnCollect(m.req).then((out) => process.send?.({ id: m.id, out }));
});
