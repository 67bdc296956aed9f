/**
 * Platforms as containerd normalises them: `arm` means arm/v7 unless a variant says
 * otherwise, `arm64/v8` is plain `arm64`, `x86_64` is `amd64`, `aarch64` is `arm64`.
 */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

const archAliases: Record<string, Platform['architecture']> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
};

/** Variant implied by some architecture aliases (armel is ARMv6, armhf ARMv7). */
const aliasVariants: Record<string, string> = { armhf: 'v7', armel: 'v6' };

export function normalizePlatform(p: Platform): Platform {
  const rawArch = p.architecture.toLowerCase();
  const architecture = archAliases[rawArch] ?? rawArch;
  let variant: string | undefined = p.variant?.toLowerCase() || aliasVariants[rawArch];
  if (architecture === 'arm' && !variant) variant = 'v7';
  if ((architecture === 'arm64' && variant === 'v8') || (architecture === 'amd64' && variant === 'v1')) variant = undefined;
  const out: Platform = { os: p.os.toLowerCase(), architecture };
  if (variant) out.variant = variant;
  if (p['os.version']) out['os.version'] = p['os.version'];
  return out;
}

/** Parses `linux/arm/v7`, `linux/arm64`, `arm` (os defaults to linux). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  if (parts.length === 1) return normalizePlatform({ os: 'linux', architecture: parts[0]! });
  if (parts.length > 3 || parts.some((p) => p === '')) {
    throw new Error(`invalid platform "${text}": expected OS/ARCH[/VARIANT], e.g. linux/arm/v7`);
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function samePlatform(a: Platform, b: Platform): boolean {
  return formatPlatform(normalizePlatform(a)) === formatPlatform(normalizePlatform(b));
}

/** The short architecture name k3s bundles use in file names: amd64, arm64, arm. */
export const bundleArchName = (p: Platform): string => normalizePlatform(p).architecture;

/**
 * The `<arch>` suffixes of the classic per-platform tags (`3.1-amd64`, `3.1-arm64`, `3.1-arm`),
 * one per platform of a tag: the architecture alone, except when the tag holds several
 * variants of one architecture, where the default one (arm/v7) keeps the plain name and the
 * others add their variant (`armv6`).
 */
export function archTagNames(platforms: Platform[]): string[] {
  const normalized = platforms.map(normalizePlatform);
  const names = normalized.map((p) => {
    const shared = normalized.some((other) => other.architecture === p.architecture && other.variant !== p.variant);
    const isDefault = normalizePlatform({ os: p.os, architecture: p.architecture }).variant === p.variant;
    return shared && !isDefault ? `${p.architecture}${p.variant ?? ''}` : p.architecture;
  });
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) {
    throw new Error(`two platforms (${platforms.map(formatPlatform).join(', ')}) would share the per-arch tag suffix "${duplicate}"`);
  }
  return names;
}
