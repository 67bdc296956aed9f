/** Error messages name the flag that fixes them, as the command that runs spells it. */

/** How a command's flags name one registry's settings: load's `--registry`, `--plain-http`…; sync's `--to`, `--dest-plain-http`… */
export interface FlagNames {
  registry: string;
  prefix: string;
}

/** Names a flag in a message: `plain-http` → `--dest-plain-http` for sync's target. */
export type FlagNamer = (flag: string) => string;

export const flagNamer =
  ({ registry, prefix }: FlagNames = { registry: '--registry', prefix: '' }): FlagNamer =>
  (flag) =>
    flag === 'registry' ? registry : `--${prefix}${flag}`;
