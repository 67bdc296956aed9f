/** A client for a registry named on the command line (`--from`, `--to`). */
import { apiHost, type TargetRegistry } from '../oci/reference.js';
import { RegistryClient, type RegistryOptions } from '../registry/client.js';

/** How to reach one registry: everything but its host. */
export type Connection = Omit<RegistryOptions, 'host'>;

export const connect = (registry: TargetRegistry, connection: Connection = {}): RegistryClient =>
  new RegistryClient({ ...connection, host: apiHost(registry.host) });
