/** Option groups shared by the commands that talk to a registry or print results. */
import type { Argv } from 'yargs';
import type { ConnectionSettings } from '../registry/connection.js';
import { UsageError } from './errors.js';
import { readStdin } from './input.js';

export interface ConnectionArgs {
  registry: string;
  'plain-http'?: boolean;
  insecure?: boolean;
  'ca-file'?: string;
  'cert-dir'?: string;
  username?: string;
  'password-stdin'?: boolean;
  authfile?: string;
  retries?: number;
  'chunk-size'?: string;
}

export interface OutputArgs {
  json?: boolean;
  quiet?: boolean;
}

/**
 * `--opt a,b --opt c` → `['a', 'b', 'c']`: repeatable and comma-separated alike. Such options
 * are declared as plain strings (yargs makes repeats an array): an `array` option would also
 * swallow the positional arguments after it.
 */
export const commaList = (value: string | string[]): string[] =>
  [value]
    .flat()
    .flatMap((item) => item.split(','))
    .map((value) => value.trim())
    .filter(Boolean);

/** A repeated option counts once, the last time, as in most CLIs. */
const lastValue = (value: string | string[]): string => (Array.isArray(value) ? value[value.length - 1]! : value);

export const connectionOptions = <T>(y: Argv<T>) =>
  y
    .option('registry', {
      type: 'string',
      demandOption: true,
      describe: 'target registry: HOST[:PORT][/NAMESPACE]',
      coerce: lastValue,
    })
    .option('plain-http', { type: 'boolean', describe: 'talk HTTP instead of HTTPS' })
    .option('insecure', { type: 'boolean', describe: 'HTTPS without certificate verification' })
    .option('ca-file', { type: 'string', describe: 'PEM file with CA certificates to trust (besides the system ones)' })
    .option('cert-dir', {
      type: 'string',
      describe: 'certs.d directory (docker/containerd layout): *.crt CAs, client.cert + client.key; DIR or DIR/HOST:PORT',
    })
    .option('username', { type: 'string', describe: 'registry user name (with --password-stdin)' })
    .option('password-stdin', { type: 'boolean', describe: 'read the password (or token) from standard input' })
    .option('authfile', {
      type: 'string',
      describe: 'containers auth.json to read credentials from (default $REGISTRY_AUTH_FILE, then the docker config)',
    })
    .option('retries', { type: 'number', describe: 'attempts after the first on 5xx, 429, resets and timeouts (default 5)' })
    .option('chunk-size', {
      type: 'string',
      describe: 'upload in chunks of this size (e.g. 8MiB) from the start; otherwise only after a proxy answers 413',
    })
    .conflicts('plain-http', 'insecure');

export const outputOptions = <T>(y: Argv<T>) =>
  y
    .option('json', { type: 'boolean', describe: 'print one JSON document with the result on stdout' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no progress on stderr' });

/** The connection flags as plain settings; the password, if any, is read from stdin here. */
export async function connectionSettings(args: ConnectionArgs): Promise<ConnectionSettings> {
  if (args['password-stdin'] && !args.username) throw new UsageError('--password-stdin needs --username');
  if (args.username && !args['password-stdin']) {
    throw new UsageError('--username needs --password-stdin (passwords are never taken on the command line)');
  }
  if (args.retries !== undefined && !(Number.isInteger(args.retries) && args.retries >= 0)) {
    throw new UsageError('--retries must be a whole number ≥ 0');
  }
  return {
    plainHttp: args['plain-http'],
    insecure: args.insecure,
    caFile: args['ca-file'],
    certDir: args['cert-dir'],
    credentials: args.username ? { username: args.username, password: await readStdin() } : undefined,
    authFile: args.authfile,
    retries: args.retries,
    chunkSize: args['chunk-size'] === undefined ? undefined : parseSize(args['chunk-size'], '--chunk-size'),
  };
}

const units: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `8388608`, `512k`, `8M`, `8MiB`, `1GB`: binary units, as proxies count their limits. */
export function parseSize(text: string, option: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  const bytes = match ? Math.floor(Number(match[1]) * units[match[2]!.toLowerCase()]!) : NaN;
  if (!(bytes >= 1)) throw new UsageError(`${option} must be a size such as 8MiB, 512k or 1048576`);
  return bytes;
}
