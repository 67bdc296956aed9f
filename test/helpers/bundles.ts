/**
 * Small made-to-measure bundles for registry tests: each image has a shared base layer, so
 * that loading several repositories exercises cross-repository mounts, and a layer of random
 * (incompressible) bytes of the size the test needs, so that uploads take the sizes, chunks
 * and times the test is about.
 */
import { join } from 'node:path';
import { type Platform, writeLegacyBundle } from '../../scripts/lib/bundle-gen.js';

export interface TestImage {
  /** e.g. `test/app:1` */
  repoTag: string;
  /** Size of the image's random layer. */
  kib: number;
}

const amd64: Platform = { os: 'linux', architecture: 'amd64' };

/** Writes `<dir>/<name>.tar` holding the images for one platform; returns its path. */
export async function writeTestBundle(dir: string, name: string, images: TestImage[], platform: Platform = amd64): Promise<string> {
  const file = join(dir, `${name}.tar`);
  await writeLegacyBundle(file, {
    platform,
    images: images.map(({ repoTag, kib }) => ({
      repoTags: [repoTag],
      layers: [
        { files: [{ path: 'etc/os-release', content: 'ID=airlift-test\n' }], createdBy: 'ADD base /' },
        {
          files: [
            { path: `opt/${repoTag.replace(/\W/g, '_')}`, size: kib * 1024, kind: 'random', seed: `${platform.architecture}/${repoTag}` },
          ],
        },
      ],
      cmd: ['/bin/true'],
    })),
  });
  return file;
}
