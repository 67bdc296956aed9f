/**
 * A reader for the block YAML subset airlift writes (k3s registries.yaml): nested maps and
 * lists by two-space indentation, double-quoted (JSON) strings, booleans, `#` comment lines.
 * Anything else throws, so a test fails on output k3s's YAML parser might read differently.
 */
type Value = string | boolean | Value[] | { [key: string]: Value };

interface Line {
  indent: number;
  text: string;
  number: number;
}

export function parseYaml(text: string): Value {
  const lines: Line[] = text
    .split('\n')
    .map((raw, i) => ({ indent: raw.length - raw.trimStart().length, text: raw.trim(), number: i + 1 }))
    .filter((line) => line.text !== '' && !line.text.startsWith('#'));
  let at = 0;

  const fail = (line: Line | undefined, why: string): never => {
    throw new Error(`line ${line?.number ?? 'end'}: ${why}: ${JSON.stringify(line?.text)}`);
  };
  const scalar = (line: Line, source: string): Value => {
    if (source === 'true' || source === 'false') return source === 'true';
    if (!source.startsWith('"')) fail(line, 'unquoted scalar');
    return JSON.parse(source) as string;
  };
  const block = (indent: number): Value => {
    const first = lines[at];
    if (!first || first.indent !== indent) return fail(first, `expected a block at indent ${indent}`);
    if (first.text.startsWith('- ')) {
      const list: Value[] = [];
      while (lines[at]?.indent === indent && lines[at]!.text.startsWith('- ')) {
        const line = lines[at++]!;
        list.push(scalar(line, line.text.slice(2)));
      }
      return list;
    }
    const map: Record<string, Value> = {};
    while (lines[at]?.indent === indent) {
      const line = lines[at++]!;
      const match = /^("(?:[^"\\]|\\.)*"|[a-z_]+):(?: (.+))?$/.exec(line.text) ?? fail(line, 'not a key');
      const key = match[1]!.startsWith('"') ? (JSON.parse(match[1]!) as string) : match[1]!;
      if (key in map) fail(line, 'duplicate key');
      map[key] = match[2] !== undefined ? scalar(line, match[2]) : block(indent + 2);
    }
    if (lines[at] && lines[at]!.indent > indent) fail(lines[at], 'unexpected indent');
    return map;
  };

  const root = block(0);
  if (at !== lines.length) fail(lines[at], 'trailing content');
  return root;
}
