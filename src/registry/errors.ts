import type { FlagNamer } from './flags.js';

/** Statuses that say "not now" rather than "no": worth another attempt after a pause. */
export const retryableStatuses = new Set([408, 429, 500, 502, 503, 504]);

/** A registry refused or failed a request; the message says what to do about it. */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** Distribution error code (`BLOB_UNKNOWN`, `MANIFEST_INVALID`, …) when the registry sent one. */
    readonly code?: string,
    /** The same request may succeed later (5xx, 429, a reset or timed-out connection). */
    readonly transient = status !== undefined && retryableStatuses.has(status),
  ) {
    super(message);
  }
}

/** A connection setting cannot be used (unreadable CA file, auth file, credential helper); exits with code 2. */
export class ConfigurationError extends Error {}

/** Explains a network failure in terms of the options that fix it. */
export function connectionError(host: string, err: unknown, plainHttp: boolean, timeoutMs: number, flag: FlagNamer): RegistryError {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.cause?.code ?? e.code ?? '';
  const detail = e.cause?.message ?? e.message;
  if (code === 'ECONNREFUSED') {
    return new RegistryError(
      `cannot reach registry ${host}: connection refused; check ${flag('registry')} and that the registry is running`,
      undefined,
      undefined,
      true,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new RegistryError(`cannot resolve registry host ${host}: check ${flag('registry')}`);
  }
  if (/certificate|self.signed|CERT_|unable to verify/i.test(`${code} ${detail}`)) {
    return new RegistryError(
      `TLS certificate of ${host} is not trusted (${detail}): pass ${flag('ca-file')} or ${flag('cert-dir')} with the site's CA (or put it in /etc/docker/certs.d/${host}/ca.crt), or ${flag('insecure')} to skip verification`,
    );
  }
  if (!plainHttp && /wrong version number|packet length too long|EPROTO/i.test(`${code} ${detail}`)) {
    return new RegistryError(`registry ${host} does not speak HTTPS (${detail}): pass ${flag('plain-http')}`);
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new RegistryError(
      `registry ${host} sent nothing for ${timeoutMs / 1000} s (${detail}): if it is only slow, raise ${flag('timeout')}`,
      undefined,
      undefined,
      true,
    );
  }
  return new RegistryError(`request to registry ${host} failed: ${detail}${code ? ` (${code})` : ''}`, undefined, undefined, true);
}
