/**
 * What only a server with a kubelet uses, gathered in one module that `podbay server
 * --no-kubelet` never imports: the node stack (kubelet, runtime, images, CNI), the streaming
 * helpers, node stats, explain's collectors, the scheduler, the service proxy, network policy
 * and ingress. An API-only start spent ~80 ms of CPU compiling them.
 */
export { buildNodeStack } from './node-stack.js';
export { execInPod } from '../kubelet/exec.js';
export { portForwardToPod } from '../kubelet/portforward.js';
export { attachToPod } from '../kubelet/attach.js';
export { NodeStats } from '../kubelet/stats.js';
export { explainPod } from '../explain/collect.js';
export { Binder } from '../scheduler/binder.js';
export { checkHostTools } from '../runtime/runtime.js';
export { Proxier } from '../proxy/proxier.js';
export { tagFor } from '../proxy/rules.js';
export { PolicyEnforcer } from '../netpolicy/enforcer.js';
export { IngressController, NGINX } from '../ingress/controller.js';
