/**
 * The k3s / RKE2 registries.yaml: its exact text for a typical case, and its meaning (parsed
 * back) for the TLS, auth, namespace and mirror variants, from the library and the CLI.
 */
import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { k3sRegistriesYaml } from '../src/k3s/registries.js';
import { runAirlift, tempDir } from './helpers/tools.js';
import { parseYaml } from './helpers/yaml.js';

const header = `# k3s / RKE2 registries.yaml written by airlift.
# Copy to /etc/rancher/k3s/registries.yaml (RKE2: /etc/rancher/rke2/registries.yaml)
# on every node, then restart k3s (or rke2-server / rke2-agent).
`;

describe('k3sRegistriesYaml', () => {
  test('plain HTTP: docker.io mirrored to the registry, nothing to configure', () => {
    const yaml = k3sRegistriesYaml({ registry: '10.0.0.5:5000', plainHttp: true });
    expect(yaml).toBe(`${header}mirrors:\n  "docker.io":\n    endpoint:\n      - "http://10.0.0.5:5000"\n`);
    expect(parseYaml(yaml)).toEqual({ mirrors: { 'docker.io': { endpoint: ['http://10.0.0.5:5000'] } } });
  });

  test('HTTPS with a CA, credentials, a namespace and more mirrors', () => {
    const yaml = k3sRegistriesYaml({
      registry: 'Reg.Example.com:5000/airgap/k3s',
      caFile: '/etc/ssl/airgap-ca.pem',
      username: 'k3s',
      password: 's3cret',
      mirrors: ['quay.io', 'index.docker.io', 'registry.k8s.io', 'quay.io'],
    });
    const mirror = { endpoint: ['https://reg.example.com:5000'], rewrite: { '^(.*)$': 'airgap/k3s/$1' } };
    expect(parseYaml(yaml)).toEqual({
      mirrors: { 'docker.io': mirror, 'quay.io': mirror, 'registry.k8s.io': mirror },
      configs: {
        'reg.example.com:5000': {
          auth: { username: 'k3s', password: 's3cret' },
          tls: { ca_file: '/etc/ssl/airgap-ca.pem' },
        },
      },
    });
  });

  test('--insecure skips verification; a username without password leaves a note to fill it in', () => {
    const yaml = k3sRegistriesYaml({ registry: 'reg:5000', insecure: true, username: 'ops' });
    expect(yaml).toContain('# airlift was not given the password (--password-stdin): fill it in');
    expect(parseYaml(yaml)).toEqual({
      mirrors: { 'docker.io': { endpoint: ['https://reg:5000'] } },
      configs: { 'reg:5000': { auth: { username: 'ops', password: '' }, tls: { insecure_skip_verify: true } } },
    });
  });

  test('passwords with YAML-special characters survive', () => {
    const password = `a"b'c: #d\\e\n{f}[g]&*!|>%@\``;
    const parsed = parseYaml(k3sRegistriesYaml({ registry: 'reg:5000', username: 'u: x', password })) as {
      configs: Record<string, { auth: { username: string; password: string } }>;
    };
    expect(parsed.configs['reg:5000']!.auth).toEqual({ username: 'u: x', password });
  });

  test('a mirror that is not a host is refused', () => {
    expect(() => k3sRegistriesYaml({ registry: 'reg:5000', mirrors: ['quay.io/org'] })).toThrow(/invalid mirror "quay.io\/org"/);
  });
});

describe('airlift k3s-registries', () => {
  test('prints the file; mirrors repeat or take commas; the CA path becomes absolute; the password comes from stdin', async () => {
    const dir = await tempDir('airlift-k3s-');
    const run = await runAirlift(
      [
        'k3s-registries',
        '--registry',
        '127.0.0.1:5000/mirror',
        '--ca-file',
        'certs/ca.pem',
        '--username',
        'k3s',
        '--password-stdin',
        '--mirror',
        'quay.io,ghcr.io',
        '--mirror',
        'registry.k8s.io',
      ],
      { input: 'pa ss\n', cwd: dir },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const parsed = parseYaml(run.stdout) as { mirrors: Record<string, unknown>; configs: Record<string, unknown> };
    expect(Object.keys(parsed.mirrors)).toEqual(['docker.io', 'quay.io', 'ghcr.io', 'registry.k8s.io']);
    expect(parsed.mirrors['ghcr.io']).toEqual({ endpoint: ['https://127.0.0.1:5000'], rewrite: { '^(.*)$': 'mirror/$1' } });
    expect(parsed.configs).toEqual({
      '127.0.0.1:5000': { auth: { username: 'k3s', password: 'pa ss' }, tls: { ca_file: join(dir, 'certs/ca.pem') } },
    });
  });

  test.each([
    [['--registry', 'reg:5000', '--plain-http', '--insecure'], /plain-http|insecure/],
    [['--registry', 'reg:5000', '--mirror', 'https://quay.io'], /invalid mirror/],
    [[], /registry/],
  ])('usage errors exit 2: %j', async (args, message) => {
    const run = await runAirlift(['k3s-registries', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });
});
