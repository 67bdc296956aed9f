/** Platform-list options (`--platform`, `--platforms`): repeated, or comma-separated as buildx takes them. */
import { parsePlatform, type Platform } from '../oci/platform.js';
import { UsageError } from './errors.js';
import { commaList } from './options.js';

/** A yargs `coerce` for the option named `option`; a malformed or empty list is a usage error. */
export const platformList =
  (option: string) =>
  (value: string | string[]): Platform[] => {
    const platforms = commaList(value).map((text) => {
      try {
        return parsePlatform(text);
      } catch (err) {
        throw new UsageError(`${option}: ${(err as Error).message}`);
      }
    });
    if (!platforms.length) throw new UsageError(`${option} needs a platform, e.g. ${option} linux/arm64,linux/arm/v7`);
    return platforms;
  };
