import { describe, expect, test } from '@jest/globals';
import { formatPlatform, normalizePlatform, parsePlatform } from '../src/oci/platform.js';

describe('platforms are normalised as containerd does', () => {
  test.each([
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['arm64', 'linux/arm64'],
    ['Linux/AMD64', 'linux/amd64'],
  ])('%s → %s', (text, expected) => {
    expect(formatPlatform(parsePlatform(text))).toBe(expected);
  });

  test('config fields: arm without variant is v7, os.version is kept', () => {
    expect(normalizePlatform({ os: 'linux', architecture: 'arm' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(normalizePlatform({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' })).toEqual({
      os: 'windows',
      architecture: 'amd64',
      'os.version': '10.0.17763.1',
    });
  });

  test.each(['linux/', 'a/b/c/d', '/amd64'])('rejects %j', (text) => {
    expect(() => parsePlatform(text)).toThrow(/invalid platform/);
  });
});
