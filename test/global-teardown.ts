import { rm } from 'node:fs/promises';

export default async function globalTeardown(): Promise<void> {
  if (process.env.AIRLIFT_TEST_TMP) await rm(process.env.AIRLIFT_TEST_TMP, { recursive: true, force: true });
}
