/** `airlift k3s-registries`: print the registries.yaml that points k3s / RKE2 nodes at the registry. */
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { k3sRegistriesYaml } from '../k3s/registries.js';
import { exitCodesEpilog } from './errors.js';
import { readStdin } from './input.js';
import { commaList, connectionOptions, type ConnectionArgs } from './options.js';

interface K3sRegistriesArgs extends ConnectionArgs {
  mirror?: string[];
}

export const k3sRegistriesCommand = {
  command: 'k3s-registries',
  describe: 'Print a k3s / RKE2 registries.yaml that mirrors docker.io (and other registries) to the registry',
  builder: (y: Argv) =>
    connectionOptions(y)
      .option('mirror', {
        type: 'string',
        describe: 'another source registry to mirror besides docker.io (repeatable or comma-separated)',
        coerce: commaList,
      })
      .example('$0 k3s-registries --registry registry.local:5000 --ca-file /etc/ssl/airgap-ca.pem', 'HTTPS with a private CA')
      .example('$0 k3s-registries --registry 10.0.0.5:5000 --plain-http --mirror quay.io,registry.k8s.io', 'plain HTTP, three mirrors')
      .example(
        'echo "$PASS" | $0 k3s-registries --registry reg.example.com/airgap --username k3s --password-stdin > registries.yaml',
        'with credentials, images under a namespace',
      )
      .epilog(exitCodesEpilog),
  handler: async (args: K3sRegistriesArgs): Promise<void> => {
    const password = args['password-stdin'] ? await readStdin() : undefined;
    process.stdout.write(registriesYaml(args, password, args.mirror ?? []));
  },
};

/** The YAML for a registry as the connection options describe it; `load --emit-registries-yaml` writes the same. */
export function registriesYaml(args: ConnectionArgs, password: string | undefined, mirrors: string[]): string {
  return k3sRegistriesYaml({
    registry: args.registry,
    plainHttp: args['plain-http'],
    insecure: args.insecure,
    caFile: args['ca-file'] && resolve(args['ca-file']),
    username: args.username,
    password,
    mirrors,
  });
}
