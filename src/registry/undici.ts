/**
 * undici, imported at the first request (or by `RegistryClient.prepare`): loading it takes
 * ~0.1 s of the main thread, which a load would otherwise spend before its archive workers
 * start, though it needs the registry only once the scans are done.
 */
export const undici = () => import('undici');
