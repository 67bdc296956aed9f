/** A client for a registry named on the command line (`--from`, `--to`), and the first contact with it. */
import { apiHost, type TargetRegistry } from '../oci/reference.js';
import { RegistryClient } from '../registry/client.js';
import { type ConnectionSettings, resolveConnection } from '../registry/connection.js';
import { RegistryError } from '../registry/errors.js';

/** Logins and certificates are looked up under the registry's name (`docker.io`); requests go to its API host. */
export async function connect(registry: TargetRegistry, settings: ConnectionSettings = {}): Promise<RegistryClient> {
  return new RegistryClient({ ...(await resolveConnection(registry.host, settings)), host: apiHost(registry.host) });
}

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
      .replace(
        /--(plain-http|insecure|ca-file|cert-dir|username|password-stdin|authfile|retries|timeout|chunk-size)\b/g,
        `--${flags.prefix}$1`,
      );
    throw new RegistryError(message, err.status, err.code);
  }
}
