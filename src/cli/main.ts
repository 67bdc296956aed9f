#!/usr/bin/env node
/** The airlift command line: yargs commands over the library; errors become one line and an exit code. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ArchiveError } from '../archive/errors.js';
import { PlanError } from '../load/plan.js';
import { ReferenceError } from '../oci/reference.js';
import { ConfigurationError, RegistryError } from '../registry/errors.js';
import { RemoteImageError } from '../remote/image.js';
import { SaveError } from '../save/save.js';
import { SyncError } from '../sync/sync.js';
import { ExitCode, UsageError } from './errors.js';
import { protectStdinArgument } from './input.js';
import { inspectCommand } from './inspect-command.js';
import { loadCommand } from './load-command.js';
import { saveCommand } from './save-command.js';
import { syncCommand } from './sync-command.js';
import { verifyCommand } from './verify-command.js';

const debug = process.argv.includes('--debug');

function report(err: unknown): number {
  const known =
    err instanceof ArchiveError ||
    err instanceof RegistryError ||
    err instanceof PlanError ||
    err instanceof UsageError ||
    err instanceof ReferenceError ||
    err instanceof ConfigurationError ||
    err instanceof SyncError ||
    err instanceof SaveError ||
    err instanceof RemoteImageError;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`airlift: ${message}\n`);
  if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  else if (!known) process.stderr.write('(run with --debug for details)\n');
  return err instanceof UsageError || err instanceof ReferenceError || err instanceof ConfigurationError ? ExitCode.usage : ExitCode.failed;
}

async function main(): Promise<void> {
  await yargs(hideBin(process.argv).map(protectStdinArgument))
    .scriptName('airlift')
    .usage('$0 <command> [options]\n\nLoad offline container-image bundles into a registry as verified multi-arch tags.')
    .command(loadCommand)
    .command(inspectCommand)
    .command(syncCommand)
    .command(saveCommand)
    .command(verifyCommand)
    .option('debug', { type: 'boolean', describe: 'show stack traces on errors' })
    .demandCommand(1, 'name a command, e.g. airlift load --help')
    .strict()
    .epilog('Exit codes: 0 ok, 1 some images failed, 2 usage or setup error.')
    .fail((message, err) => {
      throw err ?? new UsageError(message);
    })
    .help()
    .parseAsync();
}

// Exiting through process.exit runs the 'exit' handlers that remove temp files.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => process.exit(code));
}

main().catch((err: unknown) => {
  process.exitCode = report(err);
});
