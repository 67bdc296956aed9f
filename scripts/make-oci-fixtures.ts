/**
 * Writes the OCI-layout fixtures (Docker ≥ 25 save, k3s-style ctr exports, crane tarball):
 * `node dist/scripts/make-oci-fixtures.js <outdir>`.
 */
import { stat } from 'node:fs/promises';
import { writeOciFixtures } from './lib/oci-gen.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length !== 1) throw new Error('usage: make-oci-fixtures <outdir>');
  for (const file of await writeOciFixtures(args[0])) {
    console.log(`wrote ${file} (${(await stat(file)).size} bytes)`);
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
