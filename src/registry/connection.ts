/** How to reach the target registry: the options every command that talks to it shares. */
import { parseTargetRegistry } from '../oci/reference.js';
import type { Credentials } from './auth.js';
import { RegistryClient } from './client.js';

export interface RegistryConnection {
  /** `HOST[:PORT][/NAMESPACE]` */
  registry: string;
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string;
  credentials?: Credentials;
}

export function connect(options: RegistryConnection): RegistryClient {
  return new RegistryClient({
    host: parseTargetRegistry(options.registry).host,
    plainHttp: options.plainHttp,
    insecure: options.insecure,
    caFile: options.caFile,
    credentials: options.credentials,
  });
}
