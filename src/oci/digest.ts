import { createHash } from 'node:crypto';

export type Digest = `sha256:${string}`;

const digestPattern = /^sha256:[a-f0-9]{64}$/;

export const sha256 = (data: Buffer | string): Digest => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export const isDigest = (value: unknown): value is Digest => typeof value === 'string' && digestPattern.test(value);

/** The hex part of a digest, safe to use in file names because it was validated. */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) throw new Error(`not a sha256 digest: ${JSON.stringify(digest).slice(0, 80)}`);
  return digest.slice('sha256:'.length);
}

export const shortDigest = (digest: string): string => digest.slice(0, 'sha256:'.length + 12);
