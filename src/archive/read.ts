/** Scans an archive and reads it with the reader its contents call for. */
import { ArchiveError } from './errors.js';
import { isDockerSave, readDockerSave } from './formats/docker-save.js';
import { isOciLayout, readOciLayout } from './formats/oci-layout.js';
import type { ScannedArchive } from './model.js';
import type { ArchiveSource } from './open.js';
import { type ArchiveContents, scanArchive } from './scan.js';

/** OCI layouts first: Docker ≥ 25 and ctr write a `manifest.json` too, but it names only one platform per image. */
function formatOf(contents: ArchiveContents): 'oci-layout' | 'docker-save' {
  if (isOciLayout(contents)) return 'oci-layout';
  if (isDockerSave(contents)) return 'docker-save';
  throw new ArchiveError(
    contents.path,
    'neither index.json nor manifest.json is in the archive: not an image bundle, or it is truncated; re-create or re-download it',
  );
}

export async function readArchive(source: ArchiveSource, onRawBytes?: (n: number) => void): Promise<ScannedArchive> {
  const { path, file } = source;
  const contents = await scanArchive(source, onRawBytes);
  const warnings = contents.unsafeNames.map((name) => `${path}: ignoring entry ${JSON.stringify(name)}: its name leaves the archive`);
  const format = formatOf(contents);
  const images = format === 'oci-layout' ? readOciLayout(contents, warnings) : readDockerSave(contents, warnings);
  return {
    path,
    file,
    compression: contents.compression,
    format,
    fileSize: contents.fileSize,
    images,
    warnings,
  };
}
