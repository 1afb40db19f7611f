/**
 * Run by network.test.ts as a restarted podbay: a new process whose network room has never seen
 * the running pods. It sets up one more pod with a hostPort (so its hostport manager writes the
 * bridge's rules, which must keep the earlier pods' mappings, rebuilt from the CNI cache), then
 * tears it down again, and prints what it saw as one JSON line. Argument: the settings as JSON.
 */
import { run } from '../../src/sys/exec.js';
import { CniPodNetwork } from '../../src/network/pod-network.js';
import type { NetworkSettings } from '../../src/network/types.js';

const settings = JSON.parse(process.argv[2]!) as NetworkSettings;
const port = Number(process.argv[3]);
const net = new CniPodNetwork(settings);
const nat = async () => (await run('iptables-save', ['-t', 'nat'])).stdout;
const att = await net.setUp({ sandboxId: 'restarted', podName: 'restarted', podNamespace: 'nettest', podUid: 'uid-restarted', portMappings: [{ hostPort: port, containerPort: 8080, protocol: 'tcp' }] });
const afterSetUp = await nat();
await net.tearDown('restarted');
const afterTearDown = await nat();
process.stdout.write(JSON.stringify({ ips: att.ips, afterSetUp, afterTearDown }) + '\n');
