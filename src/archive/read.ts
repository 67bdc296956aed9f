/** Scans an archive and reads it with the reader its contents call for. */
import { ArchiveError } from './errors.js';
import { isDockerSave, readDockerSave } from './formats/docker-save.js';
import type { ScannedArchive } from './model.js';
import { scanArchive } from './scan.js';

export async function readArchive(path: string, onRawBytes?: (n: number) => void): Promise<ScannedArchive> {
  const contents = await scanArchive(path, onRawBytes);
  const warnings = contents.unsafeNames.map((name) => `${path}: ignoring entry ${JSON.stringify(name)}: its name leaves the archive`);
  if (!isDockerSave(contents)) {
    throw new ArchiveError(
      path,
      'no manifest.json in the archive: not a docker save bundle, or it is truncated; re-create or re-download it',
    );
  }
  const images = readDockerSave(contents, warnings);
  return {
    path,
    compression: contents.compression,
    format: 'docker-save',
    fileSize: contents.fileSize,
    images,
    warnings,
  };
}
