/** Option groups shared by the commands that talk to a registry or print results. */
import type { Argv } from 'yargs';
import type { ConnectionSettings } from '../registry/connection.js';
import { UsageError } from './errors.js';
import { readStdin } from './input.js';

/**
 * How to reach one registry, defined once: bare (`--plain-http`) for a command that talks to
 * one registry, prefixed (`--src-plain-http`, `--dest-plain-http`) for `sync`, which talks to two.
 */
const registryFlags = {
  'plain-http': { type: 'boolean', describe: 'talk HTTP instead of HTTPS' },
  insecure: { type: 'boolean', describe: 'HTTPS without certificate verification' },
  'ca-file': { type: 'string', describe: 'PEM file with CA certificates to trust (besides the system ones)' },
  'cert-dir': {
    type: 'string',
    describe:
      'certs.d directory (docker/containerd layout): *.crt CAs, client.cert + client.key; DIR or DIR/HOST:PORT (default: HOST:PORT in ~/.config/containers/certs.d, /etc/containers/certs.d or /etc/docker/certs.d)',
  },
  username: { type: 'string', describe: 'registry user name (with --password-stdin)' },
  'password-stdin': { type: 'boolean', describe: 'read the password (or token) from standard input' },
  authfile: {
    type: 'string',
    describe: 'containers auth.json to read credentials from (default $REGISTRY_AUTH_FILE, then the docker config)',
  },
  retries: { type: 'number', describe: 'attempts after the first on 5xx, 429, resets and timeouts (default 5)' },
  timeout: { type: 'number', describe: 'seconds a request may go without a byte moving before it is retried (default 120)' },
  'chunk-size': {
    type: 'string',
    describe: 'upload in chunks of this size (e.g. 8MiB) from the start; otherwise only after a proxy answers 413',
  },
} as const;

export interface RegistryFlags {
  'plain-http'?: boolean;
  insecure?: boolean;
  'ca-file'?: string;
  'cert-dir'?: string;
  username?: string;
  'password-stdin'?: boolean;
  authfile?: string;
  retries?: number;
  timeout?: number;
  'chunk-size'?: string;
}

export type PrefixedRegistryFlags<P extends string> = { [K in keyof RegistryFlags as `${P}${K}`]: RegistryFlags[K] };

export interface ConnectionArgs extends RegistryFlags {
  registry: string;
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

/** `--concurrency`, checked as it is parsed: a whole number ≥ 1. */
export const concurrencyOption = (describe: string, defaultValue = 4) =>
  ({
    type: 'number',
    default: defaultValue,
    describe,
    coerce: (value: number) => {
      if (!Number.isInteger(value) || value < 1) throw new UsageError('--concurrency must be a whole number ≥ 1');
      return value;
    },
  }) as const;

/** A repeated option counts once, the last time, as in most CLIs. */
const lastValue = (value: string | string[]): string => (Array.isArray(value) ? value[value.length - 1]! : value);

/** One registry's flags, under `prefix`, in the help `group` given. */
export function registryOptions<T, P extends string>(y: Argv<T>, prefix: P, group?: string): Argv<T & PrefixedRegistryFlags<P>> {
  let out = y as Argv<unknown>;
  for (const [name, option] of Object.entries(registryFlags)) out = out.option(`${prefix}${name}`, { ...option, group });
  return out.conflicts(`${prefix}plain-http`, `${prefix}insecure`) as Argv<T & PrefixedRegistryFlags<P>>;
}

export const connectionOptions = <T>(y: Argv<T>) =>
  registryOptions(
    y.option('registry', {
      type: 'string',
      demandOption: true,
      describe: 'target registry: HOST[:PORT][/NAMESPACE]',
      coerce: lastValue,
    }),
    '',
  );

export const outputOptions = <T>(y: Argv<T>) =>
  y
    .option('json', { type: 'boolean', describe: 'print one JSON document with the result on stdout' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no progress on stderr' });

/** One registry's flags from the parsed arguments, prefix removed. */
export function registryFlagValues<P extends string>(args: PrefixedRegistryFlags<P>, prefix: P): RegistryFlags {
  const values = args as Record<string, unknown>;
  return Object.fromEntries(Object.keys(registryFlags).map((name) => [name, values[`${prefix}${name}`]])) as RegistryFlags;
}

/** The connection flags as plain settings; the password, if any, is read from stdin here. */
export async function connectionSettings(args: RegistryFlags): Promise<ConnectionSettings> {
  const [settings] = await connectionSettingsOf([{ flags: args, prefix: '' }]);
  return settings!;
}

/**
 * Settings for each registry a command talks to. Passwords come from standard input: the
 * whole of it for one registry; one line each, in order, when several ask for one.
 */
export async function connectionSettingsOf(sides: Array<{ flags: RegistryFlags; prefix: string }>): Promise<ConnectionSettings[]> {
  for (const { flags, prefix } of sides) checkFlags(flags, prefix);
  const asking = sides.filter(({ flags }) => flags['password-stdin']).length;
  const input = asking ? await readStdin() : '';
  const passwords = asking > 1 ? input.split(/\r?\n/) : [input];
  if (passwords.length < asking) throw new UsageError(`expected ${asking} password lines on standard input, got ${passwords.length}`);
  return sides.map(({ flags, prefix }) => ({
    plainHttp: flags['plain-http'],
    insecure: flags.insecure,
    caFile: flags['ca-file'],
    certDir: flags['cert-dir'],
    credentials: flags.username ? { username: flags.username, password: passwords.shift()! } : undefined,
    authFile: flags.authfile,
    retries: flags.retries,
    timeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 1000,
    chunkSize: flags['chunk-size'] === undefined ? undefined : parseSize(flags['chunk-size'], `--${prefix}chunk-size`),
  }));
}

function checkFlags(flags: RegistryFlags, prefix: string): void {
  if (flags['password-stdin'] && !flags.username) throw new UsageError(`--${prefix}password-stdin needs --${prefix}username`);
  if (flags.username && !flags['password-stdin']) {
    throw new UsageError(`--${prefix}username needs --${prefix}password-stdin (passwords are never taken on the command line)`);
  }
  if (flags.retries !== undefined && !(Number.isInteger(flags.retries) && flags.retries >= 0)) {
    throw new UsageError(`--${prefix}retries must be a whole number ≥ 0`);
  }
  if (flags.timeout !== undefined && !(flags.timeout > 0 && Number.isFinite(flags.timeout))) {
    throw new UsageError(`--${prefix}timeout must be a number of seconds > 0`);
  }
}

const units: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `8388608`, `512k`, `8M`, `8MiB`, `1GB`: binary units, as proxies count their limits. */
export function parseSize(text: string, option: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  const bytes = match ? Math.floor(Number(match[1]) * units[match[2]!.toLowerCase()]!) : NaN;
  if (!(bytes >= 1)) throw new UsageError(`${option} must be a size such as 8MiB, 512k or 1048576`);
  return bytes;
}
