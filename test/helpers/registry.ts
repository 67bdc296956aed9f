export { makeTestCA, startRegistry } from '../../scripts/lib/registry.js';
export type { Registry, RegistryOptions } from '../../scripts/lib/registry.js';
