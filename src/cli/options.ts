/** Option groups shared by the commands that talk to a registry or print results. */
import type { Argv } from 'yargs';

export interface ConnectionArgs {
  registry: string;
  'plain-http'?: boolean;
  insecure?: boolean;
  'ca-file'?: string;
  username?: string;
  'password-stdin'?: boolean;
}

export interface OutputArgs {
  json?: boolean;
  quiet?: boolean;
}

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
    .option('ca-file', { type: 'string', describe: 'PEM file with CA certificates to trust' })
    .option('username', { type: 'string', describe: 'registry user name' })
    .option('password-stdin', { type: 'boolean', describe: 'read the password from standard input' })
    .conflicts('plain-http', 'insecure');

export const outputOptions = <T>(y: Argv<T>) =>
  y
    .option('json', { type: 'boolean', describe: 'print one JSON document with the result on stdout' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no progress on stderr' });

/**
 * How to reach one registry, defined once: bare (`--plain-http`) for a command that talks to
 * one registry, prefixed (`--src-plain-http`, `--dest-plain-http`) for one that talks to two.
 */
const registryFlags = {
  'plain-http': { type: 'boolean', describe: 'talk HTTP instead of HTTPS' },
  insecure: { type: 'boolean', describe: 'HTTPS without certificate verification' },
  'ca-file': { type: 'string', describe: 'PEM file with CA certificates to trust' },
  username: { type: 'string', describe: 'registry user name' },
  'password-stdin': { type: 'boolean', describe: 'read the password from standard input' },
  authfile: {
    type: 'string',
    describe: 'docker/podman login file (default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)',
  },
} as const;

export interface RegistryFlags {
  'plain-http'?: boolean;
  insecure?: boolean;
  'ca-file'?: string;
  username?: string;
  'password-stdin'?: boolean;
  authfile?: string;
}

export type PrefixedRegistryFlags<P extends string> = { [K in keyof RegistryFlags as `${P}${K}`]: RegistryFlags[K] };

export function registryFlagOptions<T, P extends string>(y: Argv<T>, prefix: P, group?: string): Argv<T & PrefixedRegistryFlags<P>> {
  let out = y as Argv<unknown>;
  for (const [name, option] of Object.entries(registryFlags)) out = out.option(`${prefix}${name}`, { ...option, group });
  return out.conflicts(`${prefix}plain-http`, `${prefix}insecure`) as Argv<T & PrefixedRegistryFlags<P>>;
}

/** One registry's flags from the parsed arguments, prefix removed. */
export function registryFlagValues<P extends string>(args: PrefixedRegistryFlags<P>, prefix: P): RegistryFlags {
  const values = args as Record<string, unknown>;
  return Object.fromEntries(Object.keys(registryFlags).map((name) => [name, values[`${prefix}${name}`]])) as RegistryFlags;
}
