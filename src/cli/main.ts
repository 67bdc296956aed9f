/** The airlift command line: yargs commands over the library; errors become one line and an exit code. */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ArchiveError } from '../archive/errors.js';
import { PlanError } from '../load/plan.js';
import { ReferenceError } from '../oci/reference.js';
import { ConfigurationError, RegistryError } from '../registry/errors.js';
import { BlobIntegrityError } from '../remote/blobs.js';
import { RemoteImageError } from '../remote/image.js';
import { SaveError } from '../save/save.js';
import { SyncError } from '../sync/sync.js';
import { protectStdinArgument } from './input.js';
import { inspectCommand } from './inspect-command.js';
import { ExitCode, exitCodesEpilog, UsageError } from './errors.js';
import { k3sRegistriesCommand } from './k3s-registries-command.js';
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
    err instanceof RemoteImageError ||
    err instanceof BlobIntegrityError;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`airlift: ${message}\n`);
  if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  else if (!known) process.stderr.write('(run with --debug for details)\n');
  return err instanceof UsageError || err instanceof ReferenceError || err instanceof ConfigurationError ? ExitCode.usage : ExitCode.failed;
}

/**
 * airlift's version, from its own package.json (dist/src/cli/ → the package root). yargs's own
 * lookup gives "unknown" when a directory above the install has a dot in its name (/opt/airlift-0.1).
 */
const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function main(): Promise<void> {
  const cli = yargs(hideBin(process.argv).map(protectStdinArgument))
    .scriptName('airlift')
    .version(version)
    .usage('$0 <command> [options]\n\nLoad offline container-image bundles into a registry as verified multi-arch tags.')
    .command(loadCommand)
    .command(inspectCommand)
    .command(syncCommand)
    .command(saveCommand)
    .command(verifyCommand)
    .command(k3sRegistriesCommand)
    .example('$0 load --registry registry.local:5000 k3s-airgap-images-*.tar.zst', 'every bundle → one multi-arch tag per image')
    .example('$0 inspect k3s-airgap-images-arm64.tar.zst', 'what a bundle holds')
    .example('$0 verify --registry registry.local:5000 --image-list k3s-images.txt', 'check what the registry holds')
    .example('$0 k3s-registries --registry registry.local:5000 > registries.yaml', 'point k3s nodes at the registry')
    .option('debug', { type: 'boolean', describe: 'show stack traces on errors' })
    .demandCommand(1, 'name a command, e.g. airlift load --help')
    .strict()
    .epilog(exitCodesEpilog)
    .fail((message, err) => {
      // yargs' own errors, raised by a coerce function too, are usage errors.
      throw err && err.name !== 'YError' ? err : new UsageError(message || err!.message);
    })
    .help()
    // Examples are long command lines: use the terminal's width, up to 120 columns.
    .wrap(Math.min(120, process.stdout.columns || 120));
  withoutHelpCache(cli);
  await cli.parseAsync();
}

/**
 * yargs renders a command's whole help text as soon as the command's handler has started, to
 * show it should the handler fail through yargs. This CLI's fail handler prints one line
 * instead, so the text is never shown, and rendering it first compiles string-width's emoji
 * regex: ~60 ms of every run (7 % of a re-run), spent before a load's work can start.
 * `--help` renders the help as before.
 */
function withoutHelpCache(cli: object): void {
  type Internals = { getInternalMethods?: () => { getUsageInstance: () => { cacheHelpMessage: () => void } } };
  const usage = (cli as Internals).getInternalMethods?.().getUsageInstance();
  if (usage) usage.cacheHelpMessage = () => {};
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
