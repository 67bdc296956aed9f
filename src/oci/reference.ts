/**
 * Image references as Docker and containerd parse them:
 * `[registry/]path[:tag][@digest]`, where the first component is a registry only if it
 * contains `.` or `:` or is `localhost`. Docker Hub is the default registry and its
 * single-name images live under `library/`.
 */
import { isDigest } from './digest.js';

export const dockerHub = 'docker.io';
const dockerHubAliases = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** The host serving the distribution API for a registry name: Docker Hub's is not docker.io itself. */
export const apiHost = (registry: string): string => (dockerHubAliases.has(registry) ? 'registry-1.docker.io' : registry);

export interface Reference {
  /** Registry host[:port] as written, `docker.io` when none was. */
  registry: string;
  /** Repository path, `library/` added for Docker Hub single names. */
  repository: string;
  tag?: string;
  digest?: string;
}

const componentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;

export class ReferenceError extends Error {}

export function parseReference(text: string): Reference {
  const input = text.trim();
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new ReferenceError(`invalid digest in image reference "${input}"`);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!tagPattern.test(tag)) throw new ReferenceError(`invalid tag "${tag}" in image reference "${input}"`);
  }
  const parts = rest.split('/');
  let registry = dockerHub;
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) registry = parts.shift()!;
  if (dockerHubAliases.has(registry)) registry = dockerHub;
  if (registry === dockerHub && parts.length === 1) parts.unshift('library');
  if (parts.length === 0 || !parts.every((p) => componentPattern.test(p))) {
    throw new ReferenceError(`invalid image reference "${input}": repository names are lowercase letters, digits and separators`);
  }
  return { registry, repository: parts.join('/'), tag, digest };
}

/** A registry host as references name it: Docker Hub's aliases become `docker.io`. */
export const canonicalRegistry = (host: string): string => (dockerHubAliases.has(host.toLowerCase()) ? dockerHub : host.toLowerCase());

/** The reference with every default spelled out: `docker.io/library/busybox:1.36`. */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Where images go: `HOST[:PORT][/NAMESPACE]`. */
export interface TargetRegistry {
  host: string;
  namespace?: string;
}

export function parseTargetRegistry(text: string, option = '--registry'): TargetRegistry {
  const trimmed = text
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/+$/, '');
  const [host, ...ns] = trimmed.split('/');
  if (!host || !/^[A-Za-z0-9.\-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) {
    throw new ReferenceError(`invalid ${option} "${text}": expected HOST[:PORT][/NAMESPACE], e.g. registry.local:5000`);
  }
  const namespace = ns.join('/') || undefined;
  if (namespace && !namespace.split('/').every((p) => componentPattern.test(p))) {
    throw new ReferenceError(`invalid namespace "${namespace}" in ${option} "${text}"`);
  }
  return { host: host.toLowerCase(), namespace };
}

/**
 * The source image's place in the target registry: the source registry host is dropped
 * (so `docker.io/rancher/x` and `quay.io/rancher/x` both become `rancher/x`), the
 * namespace, when given, is prepended.
 */
export function targetReference(source: Reference, target: TargetRegistry): Reference {
  const repository = target.namespace ? `${target.namespace}/${source.repository}` : source.repository;
  return { registry: target.host, repository, tag: source.tag ?? (source.digest ? undefined : 'latest'), digest: source.digest };
}
