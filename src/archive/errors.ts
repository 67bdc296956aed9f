/** A problem with an input archive: the message names the archive and what to do. */
export class ArchiveError extends Error {
  constructor(
    readonly archive: string,
    message: string,
  ) {
    super(`${archive}: ${message}`);
  }
}
