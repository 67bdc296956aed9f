/** Turning one registry's flags into a connection: TLS settings, and credentials from the flags or a login file. */
import { credentialsFromAuthFiles } from '../registry/auth-file.js';
import type { Connection } from '../remote/connect.js';
import { UsageError } from './errors.js';
import { readStdin } from './input.js';
import type { RegistryFlags } from './options.js';

/** `password` is this registry's line of standard input, when its flags asked for one. */
export async function connectionFromFlags(
  flags: RegistryFlags,
  host: string,
  password: string | undefined,
  prefix = '',
): Promise<Connection> {
  if (flags['password-stdin'] && !flags.username) throw new UsageError(`--${prefix}password-stdin needs --${prefix}username`);
  const credentials = flags.username
    ? { username: flags.username, password: password ?? '' }
    : await credentialsFromAuthFiles(host, flags.authfile);
  return { plainHttp: flags['plain-http'], insecure: flags.insecure, caFile: flags['ca-file'], credentials };
}

/**
 * Passwords for the registries whose flags asked for one on standard input, in order: with
 * two, the first line is the first registry's and the second line the second's.
 */
export async function readPasswords(sides: RegistryFlags[]): Promise<Array<string | undefined>> {
  const wanted = sides.filter((flags) => flags['password-stdin']).length;
  if (wanted === 0) return sides.map(() => undefined);
  const lines = (await readStdin()).split(/\r?\n/);
  if (lines.length < wanted) throw new UsageError(`expected ${wanted} password lines on standard input, got ${lines.length}`);
  return sides.map((flags) => (flags['password-stdin'] ? lines.shift() : undefined));
}
