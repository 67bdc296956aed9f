/**
 * `npm run demo`: airlift end to end on this machine, touching nothing outside a temp dir.
 * Builds three small k3s-like bundles (amd64, arm64, arm), starts a throwaway registry on
 * 127.0.0.1, loads them with the airlift CLI, reads every tag back, prints the k3s
 * registries.yaml and cleans up. Needs Distribution's registry (`docker-registry`).
 */
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexEntries, verifyImage } from '../src/load/verify.js';
import { formatPlatform } from '../src/oci/platform.js';
import { RegistryClient } from '../src/registry/client.js';
import { archName, K3S_PLATFORMS, k3sLikeImages, writeK3sFixtures } from './lib/bundle-gen.js';
import { has, tempDir } from './lib/process.js';
import { startRegistry, type Registry } from './lib/registry.js';

const cli = fileURLToPath(new URL('../src/cli/airlift.cjs', import.meta.url));

async function main(): Promise<number> {
  if (!has('docker-registry')) {
    console.error('The demo runs a throwaway registry with Distribution\'s "docker-registry" binary: apt-get install docker-registry');
    return 2;
  }
  const work = await tempDir('airlift-demo-');
  let registry: Registry | undefined;
  try {
    step('building three k3s-like bundles (amd64, arm64, arm)');
    const bundles = (await writeK3sFixtures(join(work, 'bundles'))).filter((file) => file.endsWith('.tar.gz'));
    for (const file of bundles) console.log(`  ${file}`);

    registry = await startRegistry();
    step(`started a throwaway registry at ${registry.host}`);

    const yamlFile = join(work, 'registries.yaml');
    const args = ['load', '--registry', registry.host, '--plain-http', '--emit-registries-yaml', yamlFile, ...bundles];
    step(`airlift ${args.map((a) => a.replace(`${work}/`, '')).join(' ')}`);
    // The user's terminal, so the progress shows as it would for them; a private blob-info cache.
    const code = await runInherited(process.execPath, [cli, ...args], { ...process.env, XDG_CACHE_HOME: join(work, 'cache') });
    if (code !== 0) throw new Error(`airlift load exited with ${code}`);

    step('reading every tag back: index, manifests, configs and layers');
    const problems = await readBack(registry.host);
    if (problems.length) throw new Error(`the registry does not hold what was loaded:\n  ${problems.join('\n  ')}`);

    step(`k3s registries.yaml (${yamlFile.replace(`${work}/`, '')}), for /etc/rancher/k3s/registries.yaml on each node:`);
    process.stdout.write(await readFile(yamlFile, 'utf8'));
    step('all good; cleaning up');
    return 0;
  } finally {
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** Checks each image of the bundles on its own, with the library's verifier: one problem per line. */
async function readBack(host: string): Promise<string[]> {
  const client = new RegistryClient({ host, plainHttp: true });
  const expected = K3S_PLATFORMS.map(formatPlatform).sort();
  const problems: string[] = [];
  try {
    for (const { repoTags } of k3sLikeImages(archName(K3S_PLATFORMS[0]!))) {
      const [repository, tag] = repoTags[0]!.split(':') as [string, string];
      const index = await client.getManifest(repository, tag);
      const entries = index && indexEntries(index.bytes, index.mediaType);
      if (!entries) {
        problems.push(`${repository}:${tag} is not an index`);
        continue;
      }
      const platforms = entries.map((e) => formatPlatform(e.platform!)).sort();
      if (platforms.join() !== expected.join()) problems.push(`${repository}:${tag} holds ${platforms.join(', ')}`);
      for (const entry of entries) problems.push(...(await verifyImage(client, repository, entry)).problems);
      console.log(`  ✔ ${host}/${repository}:${tag}  ${platforms.join(', ')}`);
    }
  } finally {
    await client.close();
  }
  return problems;
}

function runInherited(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
}

function step(text: string): void {
  console.log(`\n▶ ${text}`);
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    console.error(`demo failed: ${err.message}`);
    process.exitCode = 1;
  },
);
