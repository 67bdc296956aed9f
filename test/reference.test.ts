import { describe, expect, test } from '@jest/globals';
import { formatReference, parseReference, parseTargetRegistry, targetReference } from '../src/oci/reference.js';

const target = (ref: string, registry: string) => formatReference(targetReference(parseReference(ref), parseTargetRegistry(registry)));

describe('target naming', () => {
  test.each([
    ['rancher/pause:3.1', 'reg:5000', 'reg:5000/rancher/pause:3.1'],
    ['busybox:1.32', 'reg:5000', 'reg:5000/library/busybox:1.32'],
    ['docker.io/rancher/x:y', 'reg:5000', 'reg:5000/rancher/x:y'],
    ['index.docker.io/library/busybox:1', 'reg:5000', 'reg:5000/library/busybox:1'],
    ['quay.io/coreos/etcd:v3.5', 'reg:5000', 'reg:5000/coreos/etcd:v3.5'],
    ['registry.k8s.io/pause:3.9', 'reg', 'reg/pause:3.9'],
    ['localhost:5000/a/b:c', 'reg', 'reg/a/b:c'],
    ['rancher/pause:3.1', 'reg:5000/mirror/k3s', 'reg:5000/mirror/k3s/rancher/pause:3.1'],
    ['busybox', 'Reg.Local:443/ns', 'reg.local:443/ns/library/busybox:latest'],
  ])('%s → %s gives %s', (ref, registry, expected) => {
    expect(target(ref, registry)).toBe(expected);
  });
});

describe('parseReference', () => {
  test('spells out defaults', () => {
    expect(parseReference('busybox')).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: undefined, digest: undefined });
    expect(parseReference('host:5000/a/b')).toMatchObject({ registry: 'host:5000', repository: 'a/b', tag: undefined });
  });

  test('keeps a digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`a/b:1@${digest}`)).toMatchObject({ repository: 'a/b', tag: '1', digest });
  });

  test.each(['UPPER/case:1', 'a//b', 'a/b:tag with space', 'a@sha256:short', ''])('rejects %j', (text) => {
    expect(() => parseReference(text)).toThrow(/invalid/);
  });
});

describe('parseTargetRegistry', () => {
  test.each(['', 'http://', 'reg:port', 'reg/UPPER'])('rejects %j', (text) => {
    expect(() => parseTargetRegistry(text)).toThrow(/invalid/);
  });

  test('accepts a scheme and trailing slash users paste', () => {
    expect(parseTargetRegistry('https://reg:5000/ns/')).toEqual({ host: 'reg:5000', namespace: 'ns' });
  });
});
