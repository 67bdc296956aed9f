/**
 * The architecture an archive declares — `--arch ARCHIVE=ARCH`, or its file name as k3s
 * names bundles (`*-amd64.*`, `*-arm64.*`, `*-arm.*`) — against the platform each image's
 * config declares. The classic docker load/tag/push script trusts neither and publishes
 * lists whose platform does not match the image; here a disagreement refuses the image
 * unless the user says which side to trust, and what is pushed is then made consistent.
 */
import { basename, resolve } from 'node:path';
import type { RejectedImage, ScannedArchive, SourceImage } from '../archive/model.js';
import { sha256 } from '../oci/digest.js';
import { formatPlatform, normalizePlatform, type Platform } from '../oci/platform.js';
import { formatReference } from '../oci/reference.js';
import { PlanError } from './plan.js';
import { configPlatform } from './verify.js';

/** Which side wins when an archive and an image config disagree on the platform. */
export type PlatformSource = 'archive' | 'config';

export interface DeclaredArch {
  architecture: string;
  /** Only when the declaration names one (`arm/v7`, `armhf`): a bare `arm` bundle may hold v6 and v7 images. */
  variant?: string;
  /** How it was declared, for messages: `its file name`, `--arch`. */
  by: string;
}

const fileNameArch = /-(amd64|arm64|armhf|armel|arm|aarch64|x86_64)\./;
const archPattern = /^[a-z0-9_]+(\/v[0-9]+)?$/;

/** Parses `amd64`, `arm64`, `arm`, `arm/v7`, `armhf`, `aarch64`… */
function parseArch(text: string, by: string): DeclaredArch {
  const value = text.trim().toLowerCase();
  if (!archPattern.test(value)) throw new PlanError(`invalid architecture "${text}" in ${by}: expected e.g. amd64, arm64, arm, arm/v7`);
  const [architecture, variant] = value.split('/') as [string, string | undefined];
  const platform = normalizePlatform({ os: 'linux', architecture, variant });
  const namesVariant = variant !== undefined || architecture === 'armhf' || architecture === 'armel';
  return { architecture: platform.architecture, variant: namesVariant ? platform.variant : undefined, by };
}

/**
 * The declared architecture of each archive, by its path: from `overrides` (keyed by the path
 * as given or its file name) or else from the file name; undefined when neither says.
 */
export function declaredArchs(archives: string[], overrides: Record<string, string> = {}): Map<string, DeclaredArch | undefined> {
  const matched = new Set<string>();
  const declared = new Map<string, DeclaredArch | undefined>();
  for (const archive of archives) {
    const key = [archive, resolve(archive), basename(archive)].find((k) => k in overrides);
    if (key !== undefined) matched.add(key);
    const byName = fileNameArch.exec(basename(archive))?.[1];
    declared.set(
      archive,
      key !== undefined
        ? parseArch(overrides[key]!, `--arch ${key}=${overrides[key]}`)
        : byName
          ? parseArch(byName, 'its file name')
          : undefined,
    );
  }
  const unknown = Object.keys(overrides).filter((key) => !matched.has(key));
  if (unknown.length) throw new PlanError(`--arch names ${unknown.join(', ')}: not among the archives to load`);
  return declared;
}

/**
 * The archive with each image whose config disagrees with the declared architecture refused,
 * or, when the user chose whom to trust, kept under the trusted platform with a warning.
 */
export function checkPlatforms(archive: ScannedArchive, declared: DeclaredArch | undefined, trust?: PlatformSource): ScannedArchive {
  if (!declared) return archive;
  const images: SourceImage[] = [];
  const rejected: RejectedImage[] = [];
  const warnings: string[] = [];
  for (const image of archive.images) {
    // The config's own word: an OCI bundle's image platform may come from its upstream index.
    const config = configPlatform(image.config.bytes) ?? image.platform;
    if (agrees(declared, config)) {
      images.push(image);
      continue;
    }
    const claim = `${describe(image)}: ${declared.by} says ${formatDeclared(declared)} but its config says ${formatPlatform(config)}`;
    if (trust === 'archive') {
      const relabelled = relabel(
        image,
        normalizePlatform({ os: config.os, architecture: declared.architecture, variant: declared.variant }),
      );
      images.push(relabelled);
      warnings.push(
        `${claim}; pushing it as ${formatPlatform(relabelled.platform)} with its config rewritten to match (--platform-from archive)`,
      );
    } else if (trust === 'config') {
      // Upstream's index labels it otherwise: that index cannot be pushed unchanged.
      images.push({ ...image, platform: config, upstreamIndex: undefined });
      warnings.push(`${claim}; pushing it as ${formatPlatform(config)}, as its config says (--platform-from config)`);
    } else {
      rejected.push({
        refs: image.refs,
        message:
          `${claim}: refusing it, nodes would pull the wrong binary; pass --platform-from archive or --platform-from config ` +
          `to choose which to trust, or --arch ${basename(archive.path)}=ARCH if the ${declared.by === 'its file name' ? 'name' : 'declaration'} is wrong`,
      });
    }
  }
  return {
    ...archive,
    images,
    rejected: [...archive.rejected, ...rejected],
    warnings: [...archive.warnings, ...warnings],
  };
}

/** Same architecture; same variant when the declaration names one (config `arm` without variant is v7). */
const agrees = (declared: DeclaredArch, platform: Platform): boolean =>
  declared.architecture === platform.architecture && (declared.variant === undefined || declared.variant === platform.variant);

const formatDeclared = (declared: DeclaredArch): string => [declared.architecture, declared.variant].filter(Boolean).join('/');

const describe = (image: SourceImage): string =>
  `${image.archive}: image ${image.refs.length ? formatReference(image.refs[0]!) : image.config.digest}`;

/**
 * The image with its config saying `platform`: the config pushed and the index entry then
 * agree. The original manifest and upstream index name the old config, so they are dropped.
 */
function relabel(image: SourceImage, platform: Platform): SourceImage {
  const config = JSON.parse(image.config.bytes.toString('utf8')) as Record<string, unknown>;
  config.os = platform.os;
  config.architecture = platform.architecture;
  if (platform.variant) config.variant = platform.variant;
  else delete config.variant;
  const bytes = Buffer.from(JSON.stringify(config));
  return { ...image, platform, config: { bytes, digest: sha256(bytes) }, manifest: undefined, upstreamIndex: undefined };
}
