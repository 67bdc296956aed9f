export { startDockerd } from '../../scripts/lib/dockerd.js';
export type { Dockerd, DockerdOptions } from '../../scripts/lib/dockerd.js';
