/** One temp root for the whole test run, so that everything tests write is removed at the end. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function globalSetup(): Promise<void> {
  process.env.AIRLIFT_TEST_TMP = await mkdtemp(join(tmpdir(), 'airlift-tests-'));
}
