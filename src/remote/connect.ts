/** A client for a registry named on the command line (`--from`, `--to`), and the first contact with it. */
import { apiHost, type TargetRegistry } from '../oci/reference.js';
import { RegistryClient, type RegistryOptions } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';

/** How to reach one registry: everything but its host. */
export type Connection = Omit<RegistryOptions, 'host'>;

export const connect = (registry: TargetRegistry, connection: Connection = {}): RegistryClient =>
  new RegistryClient({ ...connection, host: apiHost(registry.host) });

/** The flags that set up one registry in this command: `--to` and `--dest-…` for sync's target. */
export interface SideFlags {
  registry: string;
  prefix: string;
}

/**
 * Checks that the registry answers (and learns its auth scheme). The client's hints name
 * load's flags (`--registry`, `--plain-http`); a failure here names this side's instead.
 */
export async function checkReachable(client: RegistryClient, flags: SideFlags): Promise<void> {
  try {
    await client.ping();
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    const message = err.message
      .replace(/--registry\b/g, flags.registry)
      .replace(/--(plain-http|insecure|ca-file|username|password-stdin)\b/g, `--${flags.prefix}$1`);
    throw new RegistryError(message, err.status, err.code);
  }
}
