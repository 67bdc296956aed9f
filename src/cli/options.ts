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
    .option('ca-file', { type: 'string', describe: 'PEM file with CA certificates to trust' })
    .option('username', { type: 'string', describe: 'registry user name' })
    .option('password-stdin', { type: 'boolean', describe: 'read the password from standard input' })
    .conflicts('plain-http', 'insecure');

export const outputOptions = <T>(y: Argv<T>) =>
  y
    .option('json', { type: 'boolean', describe: 'print one JSON document with the result on stdout' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no progress on stderr' });
