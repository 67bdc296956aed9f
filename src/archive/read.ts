/** Scans an archive and reads it with the reader its contents call for. */
import { ArchiveError } from './errors.js';
import { isDockerSave, readDockerSave } from './formats/docker-save.js';
import { isOciLayout, readOciLayout } from './formats/oci-layout.js';
import type { ScannedArchive } from './model.js';
import type { ArchiveSource } from './open.js';
import { type ArchiveContents, scanArchive, type Scanner } from './scan.js';
import { resolveLink } from './tar.js';

/** OCI layouts first: Docker ≥ 25 and ctr write a `manifest.json` too, but it names only one platform per image. */
function formatOf(contents: ArchiveContents): 'oci-layout' | 'docker-save' {
  if (isOciLayout(contents)) return 'oci-layout';
  if (isDockerSave(contents)) return 'docker-save';
  throw new ArchiveError(
    contents.path,
    'neither index.json nor manifest.json is in the archive: not an image bundle, or it is truncated; re-create or re-download it',
  );
}

export async function readArchive(
  source: ArchiveSource,
  onRawBytes?: (n: number) => void,
  scan: Scanner = scanArchive,
): Promise<ScannedArchive> {
  const { path, file } = source;
  const contents = await scan(source, onRawBytes);
  const warnings = [
    ...contents.unsafeNames.map((name) => `${path}: ignoring entry ${JSON.stringify(name)}: its name leaves the archive`),
    ...linksLeaving(contents).map(
      ([name, target]) => `${path}: ignoring link ${JSON.stringify(name)} → ${JSON.stringify(target)}: it leads outside the archive`,
    ),
  ];
  const format = formatOf(contents);
  const { images, rejected } = format === 'oci-layout' ? readOciLayout(contents, warnings) : readDockerSave(contents, warnings);
  return {
    path,
    file,
    compression: contents.compression,
    format,
    fileSize: contents.fileSize,
    images,
    rejected,
    warnings,
  };
}

/** Links whose target is outside the archive: never followed (a layer that is one is rejected by its reader). */
function linksLeaving(contents: ArchiveContents): Array<[name: string, target: string]> {
  return [...contents.entries.values()].flatMap((entry) =>
    (entry.type === 'symlink' || entry.type === 'link') && resolveLink(entry.name!, entry.linkname ?? '', entry.type) === null
      ? [[entry.name!, entry.linkname ?? '']]
      : [],
  );
}
