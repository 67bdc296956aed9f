/** Media types of the OCI image spec and their Docker schema2 equivalents. */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

/** The two manifest families; an index never mixes them (Quay refuses an OCI index of Docker manifests). */
export type ManifestFormat = 'oci' | 'docker';

export const formatMediaTypes: Record<ManifestFormat, { index: string; manifest: string; config: string; layerGzip: string }> = {
  oci: { index: MediaType.ociIndex, manifest: MediaType.ociManifest, config: MediaType.ociConfig, layerGzip: MediaType.ociLayerGzip },
  docker: {
    index: MediaType.dockerList,
    manifest: MediaType.dockerManifest,
    config: MediaType.dockerConfig,
    layerGzip: MediaType.dockerLayerGzip,
  },
};

/** Layer media types with a name in both families; zstd has none in Docker schema2. */
const layerTypePairs: Array<[oci: string, docker: string]> = [
  [MediaType.ociLayerGzip, MediaType.dockerLayerGzip],
  [MediaType.ociLayer, MediaType.dockerLayer],
];

/** A layer media type as the given family names it, or undefined when that family has no name for it. */
export function layerTypeIn(format: ManifestFormat, mediaType: string): string | undefined {
  if (manifestFormatOf(mediaType) === format) return mediaType;
  const pair = layerTypePairs.find((p) => p.includes(mediaType));
  return pair?.[format === 'oci' ? 0 : 1];
}

/** The family of a manifest or index media type. */
export const manifestFormatOf = (mediaType: string | undefined): ManifestFormat | undefined =>
  mediaType?.startsWith('application/vnd.oci.') ? 'oci' : mediaType?.startsWith('application/vnd.docker.') ? 'docker' : undefined;

export const isIndexType = (mediaType: string | undefined): boolean =>
  mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList;

export const isManifestType = (mediaType: string | undefined): boolean =>
  mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest;

/** What a registry's Accept header should list to get any manifest or index back unchanged. */
export const manifestAccept = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest].join(', ');
