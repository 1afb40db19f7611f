/**
 * A fixed explanation of a two-container pod with a hostPort and a configMap, as a live
 * node produced it (PIDs and inodes from a real run): the renderers' unit tests draw it,
 * and `sampleExplain({...})` varies it (hostNetwork, many containers, nothing running).
 */
import type { NsRow, PodExplain } from './types.js';

const ns = (net: number, ipc: number, uts: number, pid: number, mnt: number, shared: boolean): NsRow['ns'] => ({
  net: { inode: net, shared, host: false },
  ipc: { inode: ipc, shared, host: false },
  uts: { inode: uts, shared, host: false },
  pid: { inode: pid, shared: !shared, host: false },
  mnt: { inode: mnt, shared: false, host: false },
  cgroup: { inode: 4026531835, shared: true, host: true },
  user: { inode: 4026531837, shared: true, host: true },
});

export function sampleExplain(over: Partial<PodExplain> = {}): PodExplain {
  const sandboxId = '4106ef3f81ee794aab65277a11f42e3ec6c50a7d468561f70c3b9e7fd7124c44';
  const podDir = '/var/lib/podbay/pods/fb2ff67a-8525-4097-90a8-2ff4b8753384';
  return {
    kind: 'PodExplain',
    apiVersion: 'podbay.io/v1alpha1',
    metadata: { name: 'duo', namespace: 'default', uid: 'fb2ff67a-8525-4097-90a8-2ff4b8753384' },
    node: 'vm',
    phase: 'Running',
    hostNetwork: false,
    shareProcessNamespace: false,
    sandboxId,
    missing: [],
    notes: [],
    namespaces: {
      host: { net: 4026531833, ipc: 4026531839, uts: 4026531838, pid: 4026531836, mnt: 4026531841, cgroup: 4026531835, user: 4026531837 },
      rows: [
        { name: 'pause', role: 'pause', hostPid: 31433, podPid: 1, ns: { ...ns(4026532177, 4026532251, 4026532250, 4026532252, 4026532249, true), pid: { inode: 4026532252, shared: true, host: false } } },
        { name: 'web', role: 'container', hostPid: 31493, podPid: 1, ns: ns(4026532177, 4026532251, 4026532250, 4026532254, 4026532253, true) },
        { name: 'helper', role: 'container', hostPid: 31498, podPid: 1, ns: ns(4026532177, 4026532251, 4026532250, 4026532256, 4026532255, true) },
      ],
      differences: [
        "pid: each container has a PID namespace of its own (its first process is PID 1 there), unlike the recipe's --pid=container:; Kubernetes shares one only with shareProcessNamespace: true.",
      ],
    },
    network: {
      hostNetwork: false,
      netnsInode: 4026532177,
      podIPs: ['10.221.0.2'],
      interfaces: [
        { name: 'lo', ifindex: 1, addresses: ['127.0.0.1/8', '::1/128'] },
        { name: 'eth0', ifindex: 2, kind: 'veth', peerIfindex: 969, addresses: ['10.221.0.2/24', 'fe80::b062:59ff:fe7f:32c4/64'] },
      ],
      veth: { podIfname: 'eth0', podIfindex: 2, hostIfname: 'veth62a44b5a', hostIfindex: 969, bridge: 'pbexplain0' },
      bridge: { name: 'pbexplain0', ifindex: 968, addresses: ['10.221.0.1/24', 'fe80::b44e:a1ff:fe94:f0f3/64'] },
      gateway: '10.221.0.1',
      routes: [
        { dst: 'default', via: '10.221.0.1', dev: 'eth0' },
        { dst: '10.221.0.0/24', dev: 'eth0', src: '10.221.0.2' },
      ],
      hostPorts: [{ protocol: 'TCP', hostPort: 19900, containerPort: 8080, container: 'web' }],
      natRules: [
        { table: 'nat', chain: 'PREROUTING', rule: '-A PREROUTING -m comment --comment "podbay: hostports of pbexplain0" -m addrtype --dst-type LOCAL -j PODBAY-HP-pbexplain0' },
        {
          table: 'nat',
          chain: 'PODBAY-HP-pbexplain0',
          rule: '-A PODBAY-HP-pbexplain0 -p tcp -m tcp --dport 19900 -m comment --comment "default/duo hostport 19900" -j PODBAY-HPD-HRECN7ZFLY6MREK6',
        },
        { table: 'nat', chain: 'PODBAY-HPD-HRECN7ZFLY6MREK6', rule: '-A PODBAY-HPD-HRECN7ZFLY6MREK6 -s 10.221.0.0/24 -m comment --comment "default/duo hostport 19900" -j MARK --set-xmark 0x2000/0x2000' },
        { table: 'nat', chain: 'PODBAY-HPD-HRECN7ZFLY6MREK6', rule: '-A PODBAY-HPD-HRECN7ZFLY6MREK6 -p tcp -m tcp -m comment --comment "default/duo hostport 19900" -j DNAT --to-destination 10.221.0.2:8080' },
      ],
    },
    processes: [
      { name: 'pause', root: { hostPid: 31405, comm: 'conmon', cmdline: `/usr/bin/conmon --api-version 1 -c ${sandboxId} -u ${sandboxId} -r /usr/sbin/runc`, children: [{ hostPid: 31433, podPid: 1, comm: 'catatonit', cmdline: '/catatonit -P', children: [] }] } },
      {
        name: 'web',
        root: {
          hostPid: 31470,
          comm: 'conmon',
          cmdline: '/usr/bin/conmon --api-version 1',
          children: [{ hostPid: 31493, podPid: 1, comm: 'sh', cmdline: 'sh -c sleep 3600 & wait', children: [{ hostPid: 31508, podPid: 6, comm: 'sleep', cmdline: 'sleep 3600', children: [] }] }],
        },
      },
      { name: 'helper', root: { hostPid: 31474, comm: 'conmon', cmdline: '/usr/bin/conmon', children: [{ hostPid: 31498, podPid: 1, comm: 'sleep', cmdline: 'sleep 3600', children: [] }] } },
    ],
    volumes: [
      {
        name: 'site',
        type: 'configMap',
        hostPath: `${podDir}/volumes/kubernetes.io~configmap/site`,
        exists: true,
        dataLink: '..2026_11_29_19_30_08.047738955',
        keys: ['index.html', 'nginx.conf'],
        mounts: [{ container: 'web', mountPath: '/etc/site', readOnly: true, kernel: 'ro' }],
      },
      {
        name: 'scratch',
        type: 'emptyDir',
        hostPath: `${podDir}/volumes/kubernetes.io~empty-dir/scratch`,
        exists: true,
        mounts: [
          { container: 'web', mountPath: '/scratch', readOnly: false, kernel: 'rw' },
          { container: 'helper', mountPath: '/data', readOnly: false, kernel: 'rw', subPath: 'helper' },
        ],
      },
    ],
    byHand: [
      { what: "the pause process's namespaces (inodes)", command: 'ls -l /proc/31433/ns' },
      { what: "the pod's interfaces and addresses", command: 'nsenter -t 31433 -n ip addr' },
      { what: 'the process tree', command: 'ps -o pid,ppid,args -p 31405,31433,31470,31493,31508,31474,31498,31405,31433,31470,31493,31508,31474,31498' },
    ],
    dockerRecipe: [
      `POD=${podDir}`,
      'docker run -d --name fake_k8s_pod_duo_pause -p 19900:8080 --ipc=shareable --hostname duo registry.k8s.io/pause:3.9',
      `docker run -d --name fake_k8s_pod_duo_web --net=container:fake_k8s_pod_duo_pause --ipc=container:fake_k8s_pod_duo_pause -v "$POD"/volumes/kubernetes.io~configmap/site:/etc/site:ro --entrypoint sh busybox:1.36 -c 'sleep 3600 & wait'`,
    ],
    ...over,
  };
}
