/** `--platform` values: repeated, or comma-separated as buildx takes them. */
import { parsePlatform, type Platform } from '../oci/platform.js';
import { UsageError } from './errors.js';

/** A repeatable option as an array; declared without `array: true`, which would swallow the positionals after it. */
export const repeatable = (value: string | string[]): string[] => [value].flat();

export function parsePlatformArgs(values: string[] | undefined): Platform[] {
  return (values ?? [])
    .flatMap((value) => value.split(','))
    .filter((value) => value.trim())
    .map((value) => {
      try {
        return parsePlatform(value);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    });
}
