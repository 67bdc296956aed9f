/** Scans an archive and reads it with the reader its contents call for. */
import { ArchiveError } from './errors.js';
import { isDockerSave, readDockerSave } from './formats/docker-save.js';
import type { ScannedArchive } from './model.js';
import { type ArchiveContents, scanArchive } from './scan.js';
import { resolveLink } from './tar.js';

export async function readArchive(path: string, onRawBytes?: (n: number) => void): Promise<ScannedArchive> {
  const contents = await scanArchive(path, onRawBytes);
  const warnings = [
    ...contents.unsafeNames.map((name) => `${path}: ignoring entry ${JSON.stringify(name)}: its name leaves the archive`),
    ...linksLeaving(contents).map(
      ([name, target]) => `${path}: ignoring link ${JSON.stringify(name)} → ${JSON.stringify(target)}: it leads outside the archive`,
    ),
  ];
  if (!isDockerSave(contents)) {
    throw new ArchiveError(
      path,
      'no manifest.json in the archive: not a docker save bundle, or it is truncated; re-create or re-download it',
    );
  }
  const { images, rejected } = readDockerSave(contents, warnings);
  return {
    path,
    compression: contents.compression,
    format: 'docker-save',
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
