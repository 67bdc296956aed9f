/**
 * The HTTP client, undici, imported at the first request (or by `RegistryClient.prepare`):
 * loading it takes ~0.1 s of the main thread, which a load would otherwise spend before its
 * archive workers start, though it needs the registry only once the scans are done.
 */
import type { Agent, request } from 'undici';
import type { TlsOptions } from './tls.js';

export interface Http {
  request: typeof request;
  dispatcher: Agent;
}

export async function loadHttp(tls: TlsOptions | undefined): Promise<Http> {
  const { Agent, request } = await import('undici');
  return { request, dispatcher: new Agent({ connect: tls ?? { rejectUnauthorized: true }, keepAliveTimeout: 30_000 }) };
}
