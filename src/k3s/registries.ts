/**
 * A k3s / RKE2 `registries.yaml` that sends pulls of the source registries (docker.io and
 * any other) to the registry airlift loaded, with its TLS and auth settings. Target names
 * keep the source path (`docker.io/rancher/x` → `R/rancher/x`), so a mirror needs no
 * rewrite unless the images went under a namespace.
 */
import { canonicalRegistry, parseTargetRegistry, ReferenceError } from '../oci/reference.js';

export interface K3sRegistriesOptions {
  /** `HOST[:PORT][/NAMESPACE]`, as given to `load --registry`. */
  registry: string;
  plainHttp?: boolean;
  insecure?: boolean;
  /** CA file as the nodes will find it. */
  caFile?: string;
  username?: string;
  /** Omitted with a username: the file then asks for it in a comment. */
  password?: string;
  /** Source registries to mirror besides docker.io. */
  mirrors?: string[];
}

const header = [
  '# k3s / RKE2 registries.yaml written by airlift.',
  '# Copy to /etc/rancher/k3s/registries.yaml (RKE2: /etc/rancher/rke2/registries.yaml)',
  '# on every node, then restart k3s (or rke2-server / rke2-agent).',
];

export function k3sRegistriesYaml(options: K3sRegistriesOptions): string {
  const { host, namespace } = parseTargetRegistry(options.registry);
  const endpoint = `${options.plainHttp ? 'http' : 'https'}://${host}`;
  const lines = [...header, 'mirrors:'];
  for (const mirror of mirrorHosts(options.mirrors ?? [], host)) {
    lines.push(`  ${q(mirror)}:`, '    endpoint:', `      - ${q(endpoint)}`);
    // Images went to NAMESPACE/<source path>; containerd asks the mirror for <source path>.
    if (namespace) lines.push('    rewrite:', `      ${q('^(.*)$')}: ${q(`${namespace}/$1`)}`);
  }
  const config = configLines(options);
  if (config.length) lines.push('configs:', `  ${q(host)}:`, ...config);
  return `${lines.join('\n')}\n`;
}

/** docker.io first, then the others as given, each once; aliases of Docker Hub count as docker.io. */
function mirrorHosts(extra: string[], target: string): string[] {
  const hosts = ['docker.io', ...extra.map(registryHost)];
  return [...new Set(hosts)].filter((h) => h !== target);
}

function registryHost(text: string): string {
  const host = text.trim();
  if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) {
    throw new ReferenceError(`invalid mirror "${text}": expected a registry HOST[:PORT], e.g. quay.io or registry.k8s.io`);
  }
  return canonicalRegistry(host);
}

function configLines(options: K3sRegistriesOptions): string[] {
  const lines: string[] = [];
  if (options.username !== undefined) {
    lines.push('    auth:', `      username: ${q(options.username)}`);
    if (options.password === undefined) lines.push('      # airlift was not given the password (--password-stdin): fill it in');
    lines.push(`      password: ${q(options.password ?? '')}`);
  }
  if (!options.plainHttp && (options.caFile || options.insecure)) {
    lines.push('    tls:');
    if (options.caFile) lines.push(`      ca_file: ${q(options.caFile)}`);
    if (options.insecure) lines.push('      insecure_skip_verify: true');
  }
  return lines;
}

/** A YAML double-quoted scalar: JSON's string syntax is a subset of it. */
const q = (value: string): string => JSON.stringify(value);
