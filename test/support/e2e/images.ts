// The images the end-to-end suite seeds into its upstream registry, built as one OCI layout on disk (real
// gzip'd tar layers that containerd can unpack) and pushed with skopeo using a push-granting token.
//
//   library/small:1.0      OCI manifest, one architecture, one layer
//   library/multi:1.0      OCI index: linux/amd64 and linux/arm64 manifests, one layer each
//   library/schema2:1.0    Docker schema2 manifest (Docker config and layer media types), two layers
//   library/family-a|b|c:1.0  OCI manifests sharing one base layer, plus a layer of their own
//   team/tool:1.0          OCI manifest on the base layer too (served as registry.e2e.test/team/tool)
//   library/big:1.0        OCI manifest with one 200 MB layer of random bytes (only when asked for)
import { createHash, randomFillSync } from 'node:crypto'
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { constants } from 'node:zlib'
import { run } from './process.js'
import { writeLayer, type LargeFile, type TarFile } from './tar.js'

export { MEDIA_TYPES as mediaTypes } from '../fake-registry.js'
import { MEDIA_TYPES as mediaTypes } from '../fake-registry.js'

/** Every manifest type a multi-platform client accepts (what containerd and skopeo send). */
export const acceptAll = [mediaTypes.ociIndex, mediaTypes.dockerManifestList, mediaTypes.ociManifest, mediaTypes.dockerManifest].join(', ')

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
}

export interface BuiltManifest extends Descriptor {
  bytes: Buffer
  platform: { os: string; architecture: string }
  config: Descriptor
  layers: Descriptor[]
  /** Files its layers put in the root file system (what an unpacked snapshot must contain). */
  files: { path: string; content: string }[]
}

export interface BuiltImage extends Descriptor {
  /** Repository in the upstream registry, e.g. "library/small". */
  repository: string
  tag: string
  /** The bytes the tag points at: a manifest, or an index. */
  bytes: Buffer
  /** The manifest itself, or the index's manifests. */
  manifests: BuiltManifest[]
}

export interface Catalogue {
  small: BuiltImage
  multi: BuiltImage
  schema2: BuiltImage
  familyA: BuiltImage
  familyB: BuiltImage
  familyC: BuiltImage
  tool: BuiltImage
  big: BuiltImage | undefined
  /** Every image above that was built. */
  all: BuiltImage[]
  /** The base layer family-a/b/c and team/tool share. */
  baseLayer: Descriptor
  /** The OCI layout folder (blobs/sha256/<hex>, index.json). */
  layout: string
}

/** Every blob an image needs (configs and layers of all its manifests), each once. */
export function blobsOf(image: BuiltImage): Descriptor[] {
  const seen = new Map<string, Descriptor>()
  for (const manifest of image.manifests) for (const d of [manifest.config, ...manifest.layers]) seen.set(d.digest, d)
  return [...seen.values()]
}

export function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length))
}

export const bigLayerBytes = 200 * 1024 * 1024

class LayoutWriter {
  private readonly refs: { descriptor: Descriptor; ref: string }[] = []

  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true })
  }

  blob(mediaType: string, bytes: Buffer): Descriptor {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    writeFileSync(blobPath(this.dir, digest), bytes)
    return { mediaType, digest, size: bytes.length }
  }

  async layer(files: TarFile[], mediaType: string, large?: LargeFile): Promise<{ descriptor: Descriptor; diffId: string }> {
    const temp = join(this.dir, 'layer.tmp')
    const written = await writeLayer(temp, files, large ? { large, level: constants.Z_NO_COMPRESSION } : {})
    renameSync(temp, blobPath(this.dir, written.digest))
    return { descriptor: { mediaType, digest: written.digest, size: written.size }, diffId: written.diffId }
  }

  manifest(format: 'oci' | 'docker', architecture: string, layers: { descriptor: Descriptor; diffId: string }[], files: BuiltManifest['files'], name: string): BuiltManifest {
    const config = {
      created: '2024-01-01T00:00:00Z',
      architecture,
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/e2e/run'], Labels: { 'org.example.e2e': name } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `dockside e2e ${name} layer ${i}` })),
    }
    const configDescriptor = this.blob(format === 'oci' ? mediaTypes.ociConfig : mediaTypes.dockerConfig, Buffer.from(JSON.stringify(config)))
    const manifest = {
      schemaVersion: 2,
      mediaType: format === 'oci' ? mediaTypes.ociManifest : mediaTypes.dockerManifest,
      config: configDescriptor,
      layers: layers.map((l) => l.descriptor),
    }
    // Indented, as many real registries' manifests are: byte-exactness then means more than compact JSON.
    const bytes = Buffer.from(JSON.stringify(manifest, null, 3))
    const descriptor = this.blob(manifest.mediaType, bytes)
    return { ...descriptor, bytes, platform: { os: 'linux', architecture }, config: configDescriptor, layers: manifest.layers, files }
  }

  index(manifests: BuiltManifest[]): Descriptor & { bytes: Buffer } {
    const index = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociIndex,
      manifests: manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: m.platform })),
    }
    const bytes = Buffer.from(JSON.stringify(index, null, 2))
    return { ...this.blob(mediaTypes.ociIndex, bytes), bytes }
  }

  tag(descriptor: Descriptor, ref: string): void {
    this.refs.push({ descriptor, ref })
  }

  finish(): void {
    writeFileSync(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    const index = {
      schemaVersion: 2,
      manifests: this.refs.map(({ descriptor, ref }) => ({
        mediaType: descriptor.mediaType,
        digest: descriptor.digest,
        size: descriptor.size,
        annotations: { 'org.opencontainers.image.ref.name': ref },
      })),
    }
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify(index))
  }
}

/** The layout's ref name for an image (skopeo's oci: transport allows only [A-Za-z0-9._-] there). */
function layoutRef(repository: string, tag: string): string {
  return `${repository.replaceAll('/', '.')}_${tag}`
}

const text = (path: string, content: string): TarFile => ({ path, content: Buffer.from(content) })

/** Builds every image of the catalogue as one OCI layout in `dir` (the 200 MB one only if `big`). */
export async function buildCatalogue(dir: string, opts: { big: boolean }): Promise<Catalogue> {
  const layout = new LayoutWriter(dir)
  const single = (repository: string, tag: string, manifest: BuiltManifest): BuiltImage => {
    layout.tag(manifest, layoutRef(repository, tag))
    return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, repository, tag, bytes: manifest.bytes, manifests: [manifest] }
  }
  const layerOf = async (name: string, mediaType: string = mediaTypes.ociLayer): Promise<{ descriptor: Descriptor; diffId: string; file: { path: string; content: string } }> => {
    const file = { path: `e2e/${name}.txt`, content: `dockside e2e: ${name}\n` }
    const built = await layout.layer([{ path: 'e2e/' }, text(file.path, file.content)], mediaType)
    return { ...built, file }
  }

  const smallLayer = await layerOf('small')
  const small = single('library/small', '1.0', layout.manifest('oci', 'amd64', [smallLayer], [smallLayer.file], 'small'))

  const amd64Layer = await layerOf('multi-amd64')
  const arm64Layer = await layerOf('multi-arm64')
  const multiAmd64 = layout.manifest('oci', 'amd64', [amd64Layer], [amd64Layer.file], 'multi-amd64')
  const multiArm64 = layout.manifest('oci', 'arm64', [arm64Layer], [arm64Layer.file], 'multi-arm64')
  const multiIndex = layout.index([multiAmd64, multiArm64])
  layout.tag(multiIndex, layoutRef('library/multi', '1.0'))
  const multi: BuiltImage = { ...multiIndex, repository: 'library/multi', tag: '1.0', manifests: [multiAmd64, multiArm64] }

  const dockerBase = await layerOf('schema2-base', mediaTypes.dockerLayer)
  const dockerTop = await layerOf('schema2-top', mediaTypes.dockerLayer)
  const schema2 = single('library/schema2', '1.0', layout.manifest('docker', 'amd64', [dockerBase, dockerTop], [dockerBase.file, dockerTop.file], 'schema2'))

  const base = await layerOf('family-base')
  const family = async (name: string, repository: string): Promise<BuiltImage> => {
    const own = await layerOf(name)
    return single(repository, '1.0', layout.manifest('oci', 'amd64', [base, own], [base.file, own.file], name))
  }
  const familyA = await family('family-a', 'library/family-a')
  const familyB = await family('family-b', 'library/family-b')
  const familyC = await family('family-c', 'library/family-c')
  const tool = await family('tool', 'team/tool')

  let big: BuiltImage | undefined
  if (opts.big) {
    // Random bytes in stored (level 0) deflate blocks: incompressible, a valid gzip stream, made in a second.
    const chunk = Buffer.alloc(1 << 20)
    const bigLayer = await layout.layer([{ path: 'e2e/' }], mediaTypes.ociLayer, {
      path: 'e2e/big.bin',
      size: bigLayerBytes,
      *chunks() {
        for (let i = 0; i < bigLayerBytes / chunk.length; i++) yield Buffer.from(randomFillSync(chunk))
      },
    })
    big = single('library/big', '1.0', layout.manifest('oci', 'amd64', [bigLayer], [], 'big'))
  }
  layout.finish()
  const all = [small, multi, schema2, familyA, familyB, familyC, tool, ...(big ? [big] : [])]
  return { small, multi, schema2, familyA, familyB, familyC, tool, big, all, baseLayer: base.descriptor, layout: dir }
}

/**
 * Pushes every image of the catalogue to `registryHost` with skopeo, as the push account, digests preserved.
 */
export async function pushCatalogue(catalogue: Catalogue, registryHost: string, credentials: { username: string; password: string }): Promise<void> {
  for (const image of catalogue.all) await pushImage(catalogue, image, `${registryHost}/${image.repository}:${image.tag}`, credentials)
}

/**
 * Pushes one image of the catalogue to `target` (host/repository:tag). skopeo 1.9's oci: transport ignores
 * Docker media types in index.json, so a schema2 image goes through a dir: copy of itself (manifest.json plus
 * blobs named by hex digest, hard links into the layout).
 */
export async function pushImage(catalogue: Catalogue, image: BuiltImage, target: string, credentials: { username: string; password: string }): Promise<void> {
  let source = `oci:${catalogue.layout}:${layoutRef(image.repository, image.tag)}`
  if (image.mediaType === mediaTypes.dockerManifest) {
    const dir = `${catalogue.layout}.${layoutRef(image.repository, image.tag)}`
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, 'version'), 'Directory Transport Version: 1.1\n')
      writeFileSync(join(dir, 'manifest.json'), image.bytes)
      for (const blob of blobsOf(image)) linkSync(blobPath(catalogue.layout, blob.digest), join(dir, blob.digest.slice('sha256:'.length)))
    }
    source = `dir:${dir}`
  }
  await run('skopeo', ['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `${credentials.username}:${credentials.password}`, source, `docker://${target}`])
}

/** The bytes of a blob of the catalogue, from its layout (the 200 MB layer too: read it only when needed). */
export function readBlob(catalogue: Catalogue, digest: string): Buffer {
  return readFileSync(blobPath(catalogue.layout, digest))
}
