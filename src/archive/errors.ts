/** A problem with an input archive: the message names the archive and what to do. */
export class ArchiveError extends Error {
  constructor(
    readonly archive: string,
    /** The message without the archive's name in front. */
    readonly reason: string,
  ) {
    super(`${archive}: ${reason}`);
  }
}
