/**
 * Everything needed to talk to one registry, from plain settings (what a command's
 * connection flags say): TLS files read, credentials found. Every command that talks to a
 * registry resolves its settings here, once per registry (`sync` has a source and a target).
 */
import type { RegistryOptions } from './client.js';
import { type Credentials, findCredentials } from './credentials.js';
import { type FlagNames, flagNamer } from './flags.js';
import { resolveTls, type TlsSettings } from './tls.js';

export interface ConnectionSettings extends TlsSettings {
  plainHttp?: boolean;
  /** Explicit credentials (`--username`, `--password-stdin`); otherwise looked up in auth files. */
  credentials?: Credentials;
  /** A containers auth.json (`--authfile`). */
  authFile?: string;
  /** Attempts after the first for transient failures (`--retries`). */
  retries?: number;
  /** Upload in chunks of this many bytes (`--chunk-size`). */
  chunkSize?: number;
  /** Longest silence on a request before it is given up (and maybe retried). */
  timeoutMs?: number;
  /** Told when the registry makes the client change how it uploads. */
  onWarning?: (message: string) => void;
  /** How messages name the flags that change these settings; load's by default. */
  flags?: FlagNames;
}

export async function resolveConnection(
  host: string,
  settings: ConnectionSettings,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RegistryOptions> {
  const { plainHttp, retries, chunkSize, timeoutMs, onWarning } = settings;
  const flag = flagNamer(settings.flags);
  return {
    host,
    plainHttp,
    retries,
    chunkSize,
    timeoutMs,
    onWarning,
    flag,
    tls: plainHttp ? undefined : await resolveTls(host, settings, flag, env),
    credentials: await findCredentials(host, { credentials: settings.credentials, authFile: settings.authFile, env }),
  };
}
