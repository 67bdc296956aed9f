/** The airlift library: everything the CLI does, as functions that return results and emit events. */
export { load, planLoad, type LoadOptions, type LoadResult } from './load/load.js';
export type { LoadEvent, EventSink, Phase } from './load/events.js';
export type { PublishedImage } from './load/tags.js';
export type { Failure } from './load/plan.js';
export type { PlatformSource } from './load/platform-check.js';
export { verify, type VerifyOptions, type VerifyResult, type VerifiedTag } from './load/verify-tags.js';
export { RegistryClient, type RegistryOptions } from './registry/client.js';
export { resolveConnection, type ConnectionSettings } from './registry/connection.js';
export type { Credentials } from './registry/credentials.js';
export { ConfigurationError, RegistryError } from './registry/errors.js';
export { ArchiveError } from './archive/errors.js';
export { parseReference, formatReference, parseTargetRegistry, targetReference } from './oci/reference.js';
export { parsePlatform, formatPlatform, normalizePlatform, type Platform } from './oci/platform.js';
export { sync, SyncError, type SyncOptions, type SyncResult, type SyncedImage } from './sync/sync.js';
export type { SyncEvent } from './sync/events.js';
export { save, SaveError, type SaveOptions, type SaveResult, type SavedBundle } from './save/save.js';
export type { SaveEvent } from './save/events.js';
