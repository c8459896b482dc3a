// A fake upstream OCI registry (pull side of the OCI Distribution API) for tests.
//
// Two loopback servers: the registry itself (which also hosts the bearer token
// endpoint at /token) and a "cdn" on another port that serves blob bytes when
// `redirectBlobs` is set. Fault injection (modes, corrupt/drop/trickle/hold)
// lets tests exercise a pull-through cache's error handling deterministically.

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RequestHost = 'registry' | 'cdn' | 'token';
export type RequestKind = 'base' | 'manifest' | 'blob' | 'tags' | 'referrers' | 'token' | 'other';

export interface RecordedRequest {
  method: string;
  /** path + query, as received */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  host: RequestHost;
  /** derived from the path */
  kind: RequestKind;
}

export type FakeMode = 'ok' | 'reset' | 'hang' | 'status429' | 'status503';

export interface FakeRegistryOptions {
  /** default 'none' */
  auth?: 'none' | 'bearer' | 'basic';
  /** bearer: the token endpoint requires Basic with these (else 401). basic: /v2/ requires them. */
  credentials?: { username: string; password: string };
  /** bearer: expires_in of issued tokens; null omits the field (tokens then live 60 s, the spec default). Default 300. */
  tokenExpiresInSec?: number | null;
  /** GET blob answers 307 to the cdn server */
  redirectBlobs?: boolean;
}

export interface RequestFilter {
  method?: string;
  kind?: RequestKind;
  host?: RequestHost;
}

export interface ImageResult {
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
  manifestBytes: Buffer;
  mediaType: string;
}

export interface IndexEntry {
  digest: string;
  size: number;
  mediaType: string;
  platform: { os: string; architecture: string };
}

export const SERVICE = 'fake-registry';
export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const SPEC_DEFAULT_TOKEN_LIFETIME_SEC = 60;
const DIGEST = '[A-Za-z0-9_+.-]+:[A-Za-z0-9=_-]+';
const CDN_BLOB_PATH = new RegExp(`^/blobs/(${DIGEST})$`);

type Route =
  | { kind: 'base' }
  | { kind: 'manifest'; name: string; ref: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'other' };

const ROUTES: [RegExp, (m: RegExpExecArray) => Route][] = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, ref: m[2]! })],
  [new RegExp(`^/v2/(.+)/blobs/(${DIGEST})$`), (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [new RegExp(`^/v2/(.+)/referrers/(${DIGEST})$`), (m) => ({ kind: 'referrers', name: m[1]!, digest: m[2]! })],
];

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

interface Repo {
  blobs: Set<string>;
  manifests: Map<string, StoredManifest>;
  tags: Map<string, string>;
}

interface IssuedToken {
  repos: Set<string>;
  expiresAt: number;
}

type BlobFault = { kind: 'corrupt' } | { kind: 'drop' } | { kind: 'trickle'; chunkBytes: number; intervalMs: number };

interface Hold {
  afterBytes: number;
  reached: Deferred;
  released: Deferred;
}

interface Waiter {
  filter: RequestFilter;
  n: number;
  done: Deferred;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

type HeaderMap = Record<string, string | number>;

export class FakeRegistry {
  readonly url: string;
  readonly host: string;
  /** base URL of the cdn server that serves redirected blobs */
  readonly cdnUrl: string;
  readonly requests: RecordedRequest[] = [];
  mode: FakeMode = 'ok';
  ratelimit: { limit: string; remaining: string } | null = null;

  private readonly auth: 'none' | 'bearer' | 'basic';
  private readonly credentials: { username: string; password: string } | undefined;
  private readonly tokenExpiresInSec: number | null;
  private readonly redirectBlobs: boolean;
  private readonly repos = new Map<string, Repo>();
  private readonly blobBytes = new Map<string, Buffer>();
  private readonly faults = new Map<string, BlobFault>();
  private readonly holds = new Map<string, Hold[]>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly waiters: Waiter[] = [];
  private readonly closed = deferred();
  private closing: Promise<void> | undefined;
  private cdnAuthCount = 0;
  private imageSeq = 0;

  static async start(opts: FakeRegistryOptions = {}): Promise<FakeRegistry> {
    const registry = createServer();
    const cdn = createServer();
    await Promise.all([listen(registry), listen(cdn)]);
    return new FakeRegistry(opts, registry, cdn);
  }

  private constructor(
    opts: FakeRegistryOptions,
    private readonly registryServer: Server,
    private readonly cdnServer: Server,
  ) {
    this.auth = opts.auth ?? 'none';
    this.credentials = opts.credentials;
    this.tokenExpiresInSec = opts.tokenExpiresInSec === undefined ? 300 : opts.tokenExpiresInSec;
    this.redirectBlobs = opts.redirectBlobs ?? false;
    this.host = `127.0.0.1:${port(registryServer)}`;
    this.url = `http://${this.host}`;
    this.cdnUrl = `http://127.0.0.1:${port(cdnServer)}`;
    registryServer.on('request', (req, res) => this.dispatch(req, res, this.handleRegistry));
    cdnServer.on('request', (req, res) => this.dispatch(req, res, this.handleCdn));
  }

  /** count of requests that reached the cdn carrying an Authorization header */
  get cdnAuthorizationSeen(): number {
    return this.cdnAuthCount;
  }

  // ---- content -------------------------------------------------------------

  addBlob(repo: string, bytes: Buffer): string {
    const digest = sha256(bytes);
    this.blobBytes.set(digest, bytes);
    this.repo(repo).blobs.add(digest);
    return digest;
  }

  /** An object body is JSON.stringify'd with 2-space indent (non-canonical bytes). */
  addManifest(repo: string, body: Buffer | object, mediaType: string, tag?: string): string {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body, null, 2));
    const digest = sha256(bytes);
    const r = this.repo(repo);
    r.manifests.set(digest, { bytes, mediaType });
    if (tag !== undefined) r.tags.set(tag, digest);
    return digest;
  }

  /**
   * Adds config + layer blobs and an image manifest tagged `tag`. Every call
   * produces a distinct config (and, without `layers`, a distinct layer), so
   * adding the same tag twice moves the tag to a new digest.
   */
  addImage(repo: string, tag: string, opts: { layers?: Buffer[]; format?: 'oci' | 'docker' } = {}): ImageResult {
    const seq = ++this.imageSeq;
    const layers = opts.layers ?? [Buffer.from(`layer ${seq} of ${repo}:${tag}\n`)];
    const docker = opts.format === 'docker';
    const layerMediaType = docker ? MEDIA_TYPES.dockerLayer : MEDIA_TYPES.ociLayer;
    const layerDigests = layers.map((l) => this.addBlob(repo, l));
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { 'fake.seq': String(seq) } },
        rootfs: { type: 'layers', diff_ids: layerDigests },
      }),
    );
    const configDigest = this.addBlob(repo, config);
    const mediaType = docker ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest;
    const manifest = {
      schemaVersion: 2,
      mediaType,
      config: { mediaType: docker ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig, digest: configDigest, size: config.length },
      layers: layers.map((l, i) => ({ mediaType: layerMediaType, digest: layerDigests[i], size: l.length })),
    };
    const manifestDigest = this.addManifest(repo, manifest, mediaType, tag);
    const manifestBytes = this.repo(repo).manifests.get(manifestDigest)!.bytes;
    return { manifestDigest, configDigest, layerDigests, manifestBytes, mediaType };
  }

  addIndex(repo: string, tag: string, manifests: IndexEntry[]): { digest: string; bytes: Buffer } {
    const body = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests };
    const digest = this.addManifest(repo, body, MEDIA_TYPES.ociIndex, tag);
    return { digest, bytes: this.repo(repo).manifests.get(digest)!.bytes };
  }

  /** Points `tag` at a manifest already stored in `repo`. */
  setTag(repo: string, tag: string, digest: string): void {
    const r = this.repo(repo);
    if (!r.manifests.has(digest)) throw new Error(`setTag: ${digest} is not a manifest in ${repo}`);
    r.tags.set(tag, digest);
  }

  deleteTag(repo: string, tag: string): void {
    this.repos.get(repo)?.tags.delete(tag);
  }

  // ---- blob faults ----------------------------------------------------------

  /** Serve the same length but wrong bytes for this blob (until clearBlobFault). */
  corruptBlob(digest: string): void {
    this.faults.set(digest, { kind: 'corrupt' });
  }

  /** Send headers + half the body, then destroy the socket (until clearBlobFault). */
  dropBlobMidway(digest: string): void {
    this.faults.set(digest, { kind: 'drop' });
  }

  /** Send the body `chunkBytes` at a time every `intervalMs` (until clearBlobFault). */
  trickleBlob(digest: string, chunkBytes: number, intervalMs: number): void {
    if (chunkBytes < 1) throw new Error('trickleBlob: chunkBytes must be >= 1');
    this.faults.set(digest, { kind: 'trickle', chunkBytes, intervalMs });
  }

  /** Removes the corrupt/drop/trickle fault of this blob (one fault per blob; setting another replaces it). */
  clearBlobFault(digest: string): void {
    this.faults.delete(digest);
  }

  /**
   * The next GET that serves this blob's bytes (registry or cdn) sends
   * `afterBytes` bytes (clamped to the body), then pauses until release().
   * Holds queue: each GET consumes one.
   */
  holdBlob(digest: string, afterBytes: number): { reached: Promise<void>; release(): void } {
    const hold: Hold = { afterBytes, reached: deferred(), released: deferred() };
    const queue = this.holds.get(digest) ?? [];
    queue.push(hold);
    this.holds.set(digest, queue);
    return { reached: hold.reached.promise, release: () => hold.released.resolve() };
  }

  // ---- auth -----------------------------------------------------------------

  /** Forget every issued bearer token: clients holding one get 401 and must fetch a new one. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  // ---- request log ------------------------------------------------------------

  count(filter: RequestFilter): number {
    return this.requests.filter((r) => matches(r, filter)).length;
  }

  /** Resolves once at least `n` recorded requests match `filter` (immediately if they already do). */
  waitForRequests(filter: RequestFilter, n = 1): Promise<void> {
    const waiter: Waiter = { filter, n, done: deferred() };
    this.waiters.push(waiter);
    this.settleWaiters();
    if (this.closing) this.rejectWaiters();
    return waiter.done.promise;
  }

  /** Clears the request log and counters; content, faults, mode and tokens stay. */
  reset(): void {
    this.requests.length = 0;
    this.cdnAuthCount = 0;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed.resolve();
      this.rejectWaiters();
      await Promise.all([stop(this.registryServer), stop(this.cdnServer)]);
    })();
    return this.closing;
  }

  // ---- request handling ------------------------------------------------------

  private dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    handler: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void,
  ): void {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    Promise.resolve(handler.call(this, req, res, url)).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(res, 500, 'UNKNOWN', String(err));
    });
  }

  private record(req: IncomingMessage, host: RequestHost, kind: RequestKind): void {
    this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers }, host, kind });
    this.settleWaiters();
  }

  private settleWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (this.count(w.filter) < w.n) continue;
      this.waiters.splice(i, 1);
      w.done.resolve();
    }
  }

  private rejectWaiters(): void {
    for (const w of this.waiters.splice(0)) w.done.reject(new Error('FakeRegistry closed'));
  }

  private async handleRegistry(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/token') {
      this.record(req, 'token', 'token');
      return this.serveToken(req, res, url);
    }
    const route = parseRoute(url.pathname);
    this.record(req, 'registry', route.kind);
    if (!url.pathname.startsWith('/v2')) return sendError(res, 404, 'NOT_FOUND', 'not a registry path');

    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (this.ratelimit) {
      res.setHeader('ratelimit-limit', this.ratelimit.limit);
      res.setHeader('ratelimit-remaining', this.ratelimit.remaining);
    }
    if (this.applyMode(req, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendError(res, 405, 'UNSUPPORTED', 'this registry is read-only');
    }
    if (!this.authorize(req, res, route.kind === 'base' || route.kind === 'other' ? undefined : route.name)) return;

    switch (route.kind) {
      case 'base':
        return send(res, 200, '{}', { 'Content-Type': 'application/json' });
      case 'manifest':
        return this.serveManifest(req, res, route.name, route.ref);
      case 'blob':
        return this.serveRegistryBlob(req, res, route.name, route.digest);
      case 'tags':
        return this.serveTags(res, route.name, url);
      case 'referrers':
        return this.serveReferrers(res, route.name, route.digest, url);
      case 'other':
        return sendError(res, 404, 'NOT_FOUND', 'unknown endpoint');
    }
  }

  private async handleCdn(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const match = CDN_BLOB_PATH.exec(url.pathname);
    this.record(req, 'cdn', match ? 'blob' : 'other');
    if (req.headers.authorization !== undefined) {
      this.cdnAuthCount++;
      return send(res, 400, 'InvalidArgument: Only one auth mechanism allowed', { 'Content-Type': 'text/plain' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
    if (!match || !this.blobBytes.has(match[1]!)) return send(res, 404, 'no such object');
    if (url.searchParams.get('sig') !== 'x') return send(res, 403, 'bad signature');
    return this.serveBlobBytes(req, res, match[1]!, {});
  }

  /** Returns true when the mode took over the response. */
  private applyMode(req: IncomingMessage, res: ServerResponse): boolean {
    switch (this.mode) {
      case 'ok':
        return false;
      case 'reset':
        req.socket.resetAndDestroy();
        return true;
      case 'hang':
        return true; // never answered; close() destroys the socket
      case 'status429':
        sendError(res, 429, 'TOOMANYREQUESTS', 'too many requests', { 'Retry-After': '1' });
        return true;
      case 'status503':
        sendError(res, 503, 'UNAVAILABLE', 'service unavailable');
        return true;
    }
  }

  /** Returns true when the request may proceed; otherwise answers 401. `name` is undefined for /v2/ itself. */
  private authorize(req: IncomingMessage, res: ServerResponse, name: string | undefined): boolean {
    if (this.auth === 'none') return true;
    const header = req.headers.authorization ?? '';
    if (this.auth === 'basic') {
      if (this.basicOk(header)) return true;
      sendError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': 'Basic realm="fake"' });
      return false;
    }
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const issued = token === undefined ? undefined : this.tokens.get(token);
    if (issued && Date.now() < issued.expiresAt && (name === undefined || issued.repos.has(name))) return true;
    const scope = name === undefined ? '' : `,scope="repository:${name}:pull"`;
    const challenge = `Bearer realm="${this.url}/token",service="${SERVICE}"${scope}`;
    sendError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': challenge });
    return false;
  }

  /** Basic credentials present and, when credentials are configured, equal to them. */
  private basicOk(header: string): boolean {
    const encoded = /^Basic\s+(\S+)$/i.exec(header)?.[1];
    if (encoded === undefined) return false;
    if (!this.credentials) return true;
    const { username, password } = this.credentials;
    return Buffer.from(encoded, 'base64').toString() === `${username}:${password}`;
  }

  private serveToken(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== 'GET') return sendError(res, 405, 'UNSUPPORTED', 'token endpoint only answers GET');
    if (this.credentials && !this.basicOk(req.headers.authorization ?? '')) {
      return sendError(res, 401, 'UNAUTHORIZED', 'bad credentials', { 'WWW-Authenticate': 'Basic realm="fake-token"' });
    }
    if (url.searchParams.get('service') !== SERVICE) return sendError(res, 400, 'DENIED', `service must be ${SERVICE}`);

    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' '));
    const lifetimeSec = this.tokenExpiresInSec ?? SPEC_DEFAULT_TOKEN_LIFETIME_SEC;
    const token = randomBytes(16).toString('hex');
    this.tokens.set(token, { repos: pullableRepos(scopes), expiresAt: Date.now() + lifetimeSec * 1000 });
    const body: Record<string, unknown> = { token, access_token: token };
    if (this.tokenExpiresInSec !== null) body.expires_in = this.tokenExpiresInSec;
    body.issued_at = new Date().toISOString();
    send(res, 200, JSON.stringify(body), { 'Content-Type': 'application/json' });
  }

  private serveManifest(req: IncomingMessage, res: ServerResponse, name: string, ref: string): void {
    const repo = this.repos.get(name);
    const digest = ref.includes(':') ? ref : repo?.tags.get(ref);
    const manifest = digest === undefined ? undefined : repo?.manifests.get(digest);
    if (digest === undefined || !manifest || !accepts(req.headers.accept, manifest.mediaType)) {
      return sendError(res, 404, 'MANIFEST_UNKNOWN', `manifest unknown: ${name}:${ref}`);
    }
    send(res, 200, manifest.bytes, { 'Content-Type': manifest.mediaType, 'Docker-Content-Digest': digest });
  }

  private serveRegistryBlob(req: IncomingMessage, res: ServerResponse, name: string, digest: string): Promise<void> | void {
    if (!this.repos.get(name)?.blobs.has(digest)) return sendError(res, 404, 'BLOB_UNKNOWN', `blob unknown: ${digest}`);
    if (this.redirectBlobs && req.method === 'GET') {
      return send(res, 307, '', { Location: `${this.cdnUrl}/blobs/${digest}?sig=x` });
    }
    return this.serveBlobBytes(req, res, digest, { 'Docker-Content-Digest': digest });
  }

  /** Serves a blob (range, faults, holds) wherever its bytes are served: registry or cdn. */
  private async serveBlobBytes(req: IncomingMessage, res: ServerResponse, digest: string, headers: HeaderMap): Promise<void> {
    const stored = this.blobBytes.get(digest)!;
    const range = parseRange(req.headers.range, stored.length);
    if (range === 'unsatisfiable') {
      return send(res, 416, '', { 'Content-Range': `bytes */${stored.length}` });
    }
    const [start, end] = range ?? [0, stored.length - 1];
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Content-Type': 'application/octet-stream',
      'Content-Length': end - start + 1,
      'Accept-Ranges': 'bytes',
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${stored.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const fault = this.faults.get(digest);
    const bytes = fault?.kind === 'corrupt' ? corrupted(stored) : stored;
    await this.writeBody(res, bytes.subarray(start, end + 1), fault, this.holds.get(digest)?.shift());
  }

  private async writeBody(res: ServerResponse, body: Buffer, fault: BlobFault | undefined, hold: Hold | undefined): Promise<void> {
    const stopAt = fault?.kind === 'drop' ? Math.floor(body.length / 2) : body.length;
    const chunkBytes = fault?.kind === 'trickle' ? fault.chunkBytes : Math.max(body.length, 1);
    res.flushHeaders();
    let pos = 0;
    for (;;) {
      const holdAt = hold ? Math.min(hold.afterBytes, stopAt) : Infinity;
      if (hold && pos >= holdAt) {
        hold.reached.resolve();
        await this.untilClosed(hold.released.promise);
        hold = undefined;
        continue;
      }
      if (pos >= stopAt || res.destroyed) break;
      const next = Math.min(pos + chunkBytes, stopAt, holdAt);
      await writeChunk(res, body.subarray(pos, next));
      pos = next;
      if (fault?.kind === 'trickle' && pos < stopAt) await this.untilClosed(delay(fault.intervalMs));
    }
    if (fault?.kind === 'drop') res.destroy();
    else res.end();
  }

  private serveTags(res: ServerResponse, name: string, url: URL): void {
    const repo = this.repos.get(name);
    if (!repo) return sendError(res, 404, 'NAME_UNKNOWN', `repository name not known to registry: ${name}`);
    const last = url.searchParams.get('last');
    const nParam = url.searchParams.get('n');
    const after = [...repo.tags.keys()].sort().filter((t) => last === null || t > last);
    const n = nParam === null ? after.length : Number(nParam);
    const tags = after.slice(0, n);
    const headers: HeaderMap = { 'Content-Type': 'application/json' };
    if (tags.length > 0 && tags.length < after.length) {
      headers.Link = `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(tags[tags.length - 1]!)}>; rel="next"`;
    }
    send(res, 200, JSON.stringify({ name, tags }), headers);
  }

  private serveReferrers(res: ServerResponse, name: string, subject: string, url: URL): void {
    const artifactType = url.searchParams.get('artifactType');
    const manifests = [...(this.repos.get(name)?.manifests ?? [])]
      .map(([digest, m]) => referrerDescriptor(digest, m, subject))
      .filter((d): d is Record<string, unknown> => d !== undefined)
      .filter((d) => artifactType === null || d.artifactType === artifactType);
    const headers: HeaderMap = { 'Content-Type': MEDIA_TYPES.ociIndex };
    if (artifactType !== null) headers['OCI-Filters-Applied'] = 'artifactType';
    send(res, 200, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }), headers);
  }

  private repo(name: string): Repo {
    let r = this.repos.get(name);
    if (!r) {
      r = { blobs: new Set(), manifests: new Map(), tags: new Map() };
      this.repos.set(name, r);
    }
    return r;
  }

  /** Resolves when `p` does or when the fake is closed, whichever comes first. */
  private untilClosed(p: Promise<void>): Promise<void> {
    return Promise.race([p, this.closed.promise]);
  }
}

// ---- helpers ------------------------------------------------------------------

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // rejection is only interesting to whoever awaits it
  return { promise, resolve, reject };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function port(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function parseRoute(pathname: string): Route {
  for (const [re, build] of ROUTES) {
    const m = re.exec(pathname);
    if (m) return build(m);
  }
  return { kind: 'other' };
}

function matches(r: RecordedRequest, f: RequestFilter): boolean {
  return (f.method === undefined || r.method === f.method) && (f.kind === undefined || r.kind === f.kind) && (f.host === undefined || r.host === f.host);
}

function send(res: ServerResponse, status: number, body: string | Buffer, headers: HeaderMap = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'Content-Length': bytes.length });
  res.end(bytes); // node drops the body for HEAD, keeping the headers
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: HeaderMap = {}): void {
  send(res, status, JSON.stringify({ errors: [{ code, message }] }), { ...headers, 'Content-Type': 'application/json' });
}

/** Resolves once the chunk was handed to the socket, or the response is gone. */
function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = (): void => {
      res.off('close', done);
      resolve();
    };
    res.once('close', done);
    res.write(chunk, done);
  });
}

/** Accept negotiation: all Accept values merged; absent = anything; honours * / * and type/*. */
function accepts(accept: string | undefined, mediaType: string): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  const [type] = mediaType.split('/');
  return accept
    .split(',')
    .map((v) => v.split(';')[0]!.trim().toLowerCase())
    .some((v) => v === '*/*' || v === mediaType.toLowerCase() || v === `${type}/*`);
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else is ignored (full body). */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const [start, end] =
    m[1] === '' ? [Math.max(size - Number(m[2]), 0), size - 1] : [Number(m[1]), m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)];
  return start > end || start >= size ? 'unsatisfiable' : [start, end];
}

function corrupted(bytes: Buffer): Buffer {
  return Buffer.from(bytes.map((b) => b ^ 0xff));
}

/** Repositories for which `repository:<name>:<actions>` scopes grant pull. */
function pullableRepos(scopes: string[]): Set<string> {
  const repos = new Set<string>();
  for (const scope of scopes) {
    const m = /^repository:(.+):([^:]*)$/.exec(scope);
    if (m && m[2]!.split(',').some((a) => a === 'pull' || a === '*')) repos.add(m[1]!);
  }
  return repos;
}

function referrerDescriptor(digest: string, m: StoredManifest, subject: string): Record<string, unknown> | undefined {
  let parsed: { subject?: { digest?: string }; artifactType?: string; config?: { mediaType?: string }; annotations?: unknown };
  try {
    parsed = JSON.parse(m.bytes.toString());
  } catch {
    return undefined;
  }
  if (parsed.subject?.digest !== subject) return undefined;
  return {
    mediaType: m.mediaType,
    digest,
    size: m.bytes.length,
    artifactType: parsed.artifactType ?? parsed.config?.mediaType,
    ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
  };
}
