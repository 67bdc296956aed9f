/** A client for a registry named on the command line (`--from`, `--to`). */
import { apiHost, type TargetRegistry } from '../oci/reference.js';
import { RegistryClient } from '../registry/client.js';
import { type ConnectionSettings, resolveConnection } from '../registry/connection.js';

/** Logins and certificates are looked up under the registry's name (`docker.io`); requests go to its API host. */
export async function connect(registry: TargetRegistry, settings: ConnectionSettings = {}): Promise<RegistryClient> {
  return new RegistryClient({ ...(await resolveConnection(registry.host, settings)), host: apiHost(registry.host) });
}
