export { startContainerd } from '../../scripts/lib/containerd.js';
export type { Containerd } from '../../scripts/lib/containerd.js';
