import { createHash } from 'node:crypto';
import t from 'tap';
import { request, type Dispatcher } from 'undici';
import { FakeRegistry, MEDIA_TYPES, type FakeRegistryOptions } from './fake-registry.js';

type HeaderMap = Record<string, string | string[]>;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): any;
}

async function start(tt: { teardown(fn: () => unknown): void }, opts?: FakeRegistryOptions): Promise<FakeRegistry> {
  const fake = await FakeRegistry.start(opts);
  tt.teardown(() => fake.close());
  return fake;
}

/** Raw request through undici (no redirects followed, no default Accept). */
async function call(url: string, headers: HeaderMap = {}, method: Dispatcher.HttpMethod = 'GET'): Promise<Answer> {
  const res = await request(url, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, json: () => JSON.parse(body.toString()) };
}

function errorCode(a: Answer): string {
  return a.json().errors[0].code;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function token(fake: FakeRegistry, scope: string): Promise<string> {
  const a = await call(`${fake.url}/token?service=fake-registry&scope=${encodeURIComponent(scope)}`);
  if (a.status !== 200) throw new Error(`token endpoint answered ${a.status}`);
  return a.json().token;
}

const PAYLOAD = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

t.test('GET /v2/ answers 200 {} with the distribution API version header', async (t) => {
  const fake = await start(t);
  const a = await call(`${fake.url}/v2/`);
  t.equal(a.status, 200);
  t.same(a.json(), {});
  t.equal(a.headers['docker-distribution-api-version'], 'registry/2.0');
  t.equal(fake.host, fake.url.replace('http://', ''));
});

t.test('a manifest is served by tag and by digest with its exact bytes, media type, digest and length', async (t) => {
  const fake = await start(t);
  const img = fake.addImage('library/alpine', '3.20');
  t.match(img.manifestBytes.toString(), /\n {2}"schemaVersion": 2/, 'object bodies are stored with 2-space indent');
  t.equal(img.manifestDigest, sha256(img.manifestBytes));
  for (const ref of ['3.20', img.manifestDigest]) {
    const a = await call(`${fake.url}/v2/library/alpine/manifests/${ref}`);
    t.equal(a.status, 200, ref);
    t.same(a.body, img.manifestBytes);
    t.equal(a.headers['content-type'], MEDIA_TYPES.ociManifest);
    t.equal(a.headers['docker-content-digest'], img.manifestDigest);
    t.equal(a.headers['content-length'], String(img.manifestBytes.length));
  }
});

t.test('HEAD on a manifest sends the same headers and no body', async (t) => {
  const fake = await start(t);
  const img = fake.addImage('app', 'v1', { format: 'docker' });
  const a = await call(`${fake.url}/v2/app/manifests/v1`, {}, 'HEAD');
  t.equal(a.status, 200);
  t.equal(a.body.length, 0);
  t.equal(a.headers['content-type'], MEDIA_TYPES.dockerManifest);
  t.equal(a.headers['docker-content-digest'], img.manifestDigest);
  t.equal(a.headers['content-length'], String(img.manifestBytes.length));
});

t.test('a manifest whose media type is not accepted is MANIFEST_UNKNOWN; */*, merged Accept headers and no Accept all match', async (t) => {
  const fake = await start(t);
  fake.addImage('app', 'v1');
  const url = `${fake.url}/v2/app/manifests/v1`;
  const refused = await call(url, { accept: MEDIA_TYPES.dockerManifest });
  t.equal(refused.status, 404);
  t.equal(errorCode(refused), 'MANIFEST_UNKNOWN');
  t.equal((await call(url, { accept: `${MEDIA_TYPES.dockerManifest}, */*;q=0.1` })).status, 200);
  t.equal((await call(url, { accept: [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest] })).status, 200);
  t.equal((await call(url)).status, 200);
});

t.test('unknown manifests are MANIFEST_UNKNOWN and tags/list of an unknown repository is NAME_UNKNOWN', async (t) => {
  const fake = await start(t);
  fake.addImage('app', 'v1');
  const byTag = await call(`${fake.url}/v2/app/manifests/nope`);
  t.equal(byTag.status, 404);
  t.equal(errorCode(byTag), 'MANIFEST_UNKNOWN');
  const byDigest = await call(`${fake.url}/v2/app/manifests/${sha256(Buffer.from('x'))}`);
  t.equal(errorCode(byDigest), 'MANIFEST_UNKNOWN');
  const tags = await call(`${fake.url}/v2/ghost/tags/list`);
  t.equal(tags.status, 404);
  t.equal(errorCode(tags), 'NAME_UNKNOWN');
});

t.test('blob GET and HEAD carry length, digest and octet-stream type; blobs belong to their repository', async (t) => {
  const fake = await start(t);
  const digest = fake.addBlob('a', PAYLOAD);
  const get = await call(`${fake.url}/v2/a/blobs/${digest}`);
  t.equal(get.status, 200);
  t.same(get.body, PAYLOAD);
  t.equal(get.headers['content-type'], 'application/octet-stream');
  t.equal(get.headers['docker-content-digest'], digest);
  t.equal(get.headers['content-length'], String(PAYLOAD.length));
  const head = await call(`${fake.url}/v2/a/blobs/${digest}`, {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
  t.equal(head.headers['content-length'], String(PAYLOAD.length));
  const elsewhere = await call(`${fake.url}/v2/b/blobs/${digest}`);
  t.equal(elsewhere.status, 404);
  t.equal(errorCode(elsewhere), 'BLOB_UNKNOWN');
});

t.test('a single byte range is answered 206 with Content-Range on the registry and the cdn; an unsatisfiable one 416', async (t) => {
  const fake = await start(t);
  const digest = fake.addBlob('a', PAYLOAD);
  const urls = [`${fake.url}/v2/a/blobs/${digest}`, `${fake.cdnUrl}/blobs/${digest}?sig=x`];
  for (const url of urls) {
    const a = await call(url, { range: 'bytes=10-19' });
    t.equal(a.status, 206, url);
    t.equal(a.headers['content-range'], `bytes 10-19/${PAYLOAD.length}`);
    t.equal(a.headers['content-length'], '10');
    t.same(a.body, PAYLOAD.subarray(10, 20));
    const open = await call(url, { range: 'bytes=990-' });
    t.same(open.body, PAYLOAD.subarray(990));
    const bad = await call(url, { range: 'bytes=5000-6000' });
    t.equal(bad.status, 416);
    t.equal(bad.headers['content-range'], `bytes */${PAYLOAD.length}`);
  }
});

t.test('tags/list returns sorted tags, pages with n and last, and advertises the next page in Link', async (t) => {
  const fake = await start(t);
  for (const tag of ['v3', 'v1', 'v5', 'v2', 'v4']) fake.addImage('app', tag);
  const all = await call(`${fake.url}/v2/app/tags/list`);
  t.same(all.json(), { name: 'app', tags: ['v1', 'v2', 'v3', 'v4', 'v5'] });
  t.equal(all.headers.link, undefined);

  const pages: string[][] = [];
  let next: string | undefined = '/v2/app/tags/list?n=2';
  while (next !== undefined) {
    const page = await call(`${fake.url}${next}`);
    pages.push(page.json().tags);
    const link = page.headers.link as string | undefined;
    next = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)![1];
  }
  t.same(pages, [['v1', 'v2'], ['v3', 'v4'], ['v5']]);
  t.same((await call(`${fake.url}/v2/app/tags/list?last=v4`)).json().tags, ['v5']);
});

t.test('referrers lists manifests whose subject is the digest, and is an empty index otherwise', async (t) => {
  const fake = await start(t);
  const img = fake.addImage('app', 'v1');
  const empty = await call(`${fake.url}/v2/app/referrers/${img.manifestDigest}`);
  t.equal(empty.status, 200);
  t.equal(empty.headers['content-type'], MEDIA_TYPES.ociIndex);
  t.same(empty.json(), { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] });

  const sig = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(Buffer.from('{}')), size: 2 },
    layers: [],
    subject: { mediaType: img.mediaType, digest: img.manifestDigest, size: img.manifestBytes.length },
  };
  const sigDigest = fake.addManifest('app', sig, MEDIA_TYPES.ociManifest);
  const listed = (await call(`${fake.url}/v2/app/referrers/${img.manifestDigest}`)).json();
  t.equal(listed.manifests.length, 1);
  t.match(listed.manifests[0], { digest: sigDigest, mediaType: MEDIA_TYPES.ociManifest, artifactType: sig.artifactType });
});

t.test('setTag and adding an image under an existing tag move the tag to another digest', async (t) => {
  const fake = await start(t);
  const first = fake.addImage('app', 'latest');
  const second = fake.addImage('app', 'latest');
  t.not(first.manifestDigest, second.manifestDigest);
  const digestOf = async () => (await call(`${fake.url}/v2/app/manifests/latest`, {}, 'HEAD')).headers['docker-content-digest'];
  t.equal(await digestOf(), second.manifestDigest);
  fake.setTag('app', 'latest', first.manifestDigest);
  t.equal(await digestOf(), first.manifestDigest);
  t.throws(() => fake.setTag('app', 'latest', sha256(Buffer.from('nope'))));
  const index = fake.addIndex('app', 'multi', [
    { digest: first.manifestDigest, size: first.manifestBytes.length, mediaType: first.mediaType, platform: { os: 'linux', architecture: 'amd64' } },
  ]);
  const got = await call(`${fake.url}/v2/app/manifests/multi`);
  t.same(got.body, index.bytes);
  t.equal(got.headers['content-type'], MEDIA_TYPES.ociIndex);
});

t.test('bearer: an anonymous pull gets a challenge, then a scoped token, then the content', async (t) => {
  const fake = await start(t, { auth: 'bearer' });
  const img = fake.addImage('library/nginx', 'latest');

  const base = await call(`${fake.url}/v2/`);
  t.equal(base.status, 401);
  t.equal(base.headers['www-authenticate'], `Bearer realm="${fake.url}/token",service="fake-registry"`);

  const url = `${fake.url}/v2/library/nginx/manifests/latest`;
  const denied = await call(url);
  t.equal(denied.status, 401);
  t.equal(errorCode(denied), 'UNAUTHORIZED');
  t.equal(
    denied.headers['www-authenticate'],
    `Bearer realm="${fake.url}/token",service="fake-registry",scope="repository:library/nginx:pull"`,
  );

  const tokenAnswer = await call(`${fake.url}/token?service=fake-registry&scope=repository:library/nginx:pull`);
  t.equal(tokenAnswer.status, 200);
  const body = tokenAnswer.json();
  t.equal(body.access_token, body.token);
  t.equal(body.expires_in, 300);
  t.ok(!Number.isNaN(Date.parse(body.issued_at)));

  const ok = await call(url, { authorization: `Bearer ${body.token}` });
  t.equal(ok.status, 200);
  t.same(ok.body, img.manifestBytes);
  t.equal((await call(`${fake.url}/v2/`, { authorization: `Bearer ${body.token}` })).status, 200);
  t.equal((await call(url, { authorization: 'Bearer not-a-token' })).status, 401);
  t.equal(fake.count({ kind: 'token' }), 1);
});

t.test('bearer: a token is only valid for the repository it was issued for', async (t) => {
  const fake = await start(t, { auth: 'bearer' });
  fake.addImage('a', 'v1');
  fake.addImage('b', 'v1');
  const forA = await token(fake, 'repository:a:pull');
  t.equal((await call(`${fake.url}/v2/a/manifests/v1`, { authorization: `Bearer ${forA}` })).status, 200);
  const onB = await call(`${fake.url}/v2/b/manifests/v1`, { authorization: `Bearer ${forA}` });
  t.equal(onB.status, 401);
  t.match(onB.headers['www-authenticate'], /scope="repository:b:pull"/);
  const pushOnly = await token(fake, 'repository:a:push');
  t.equal((await call(`${fake.url}/v2/a/manifests/v1`, { authorization: `Bearer ${pushOnly}` })).status, 401);
});

t.test('bearer with credentials: the token endpoint requires matching Basic credentials', async (t) => {
  const fake = await start(t, { auth: 'bearer', credentials: { username: 'bob', password: 'hunter2' } });
  fake.addImage('private/app', 'v1');
  const url = `${fake.url}/token?service=fake-registry&scope=repository:private/app:pull`;
  const anonymous = await call(url);
  t.equal(anonymous.status, 401);
  t.equal(errorCode(anonymous), 'UNAUTHORIZED');
  t.equal((await call(url, { authorization: basic('bob', 'wrong') })).status, 401);
  const granted = await call(url, { authorization: basic('bob', 'hunter2') });
  t.equal(granted.status, 200);
  const manifest = await call(`${fake.url}/v2/private/app/manifests/v1`, { authorization: `Bearer ${granted.json().token}` });
  t.equal(manifest.status, 200);
  t.equal((await call(`${fake.url}/token?scope=repository:private/app:pull`, { authorization: basic('bob', 'hunter2') })).status, 400, 'service is required');
});

t.test('bearer: tokens past expires_in are refused, null omits expires_in, revokeTokens forgets tokens', async (t) => {
  const expired = await start(t, { auth: 'bearer', tokenExpiresInSec: 0 });
  expired.addImage('app', 'v1');
  const stale = await token(expired, 'repository:app:pull');
  t.equal((await call(`${expired.url}/v2/app/manifests/v1`, { authorization: `Bearer ${stale}` })).status, 401);

  const noExpiry = await start(t, { auth: 'bearer', tokenExpiresInSec: null });
  noExpiry.addImage('app', 'v1');
  const answer = await call(`${noExpiry.url}/token?service=fake-registry&scope=repository:app:pull`);
  t.notOk('expires_in' in answer.json());
  const tok = answer.json().token;
  const url = `${noExpiry.url}/v2/app/manifests/v1`;
  t.equal((await call(url, { authorization: `Bearer ${tok}` })).status, 200);
  noExpiry.revokeTokens();
  t.equal((await call(url, { authorization: `Bearer ${tok}` })).status, 401);
});

t.test('basic: /v2/ requests require the configured credentials', async (t) => {
  const fake = await start(t, { auth: 'basic', credentials: { username: 'u', password: 'p' } });
  fake.addImage('app', 'v1');
  const url = `${fake.url}/v2/app/manifests/v1`;
  const none = await call(url);
  t.equal(none.status, 401);
  t.equal(none.headers['www-authenticate'], 'Basic realm="fake"');
  t.equal((await call(url, { authorization: basic('u', 'nope') })).status, 401);
  t.equal((await call(url, { authorization: basic('u', 'p') })).status, 200);
  t.equal((await call(`${fake.url}/v2/`, { authorization: basic('u', 'p') })).status, 200);
});

t.test('redirectBlobs: GET answers 307 to the cdn, which serves the bytes; HEAD answers on the registry', async (t) => {
  const fake = await start(t, { redirectBlobs: true });
  const digest = fake.addBlob('app', PAYLOAD);
  const redirect = await call(`${fake.url}/v2/app/blobs/${digest}`);
  t.equal(redirect.status, 307);
  t.equal(redirect.headers.location, `${fake.cdnUrl}/blobs/${digest}?sig=x`);
  t.not(new URL(fake.cdnUrl).port, new URL(fake.url).port);

  const fromCdn = await call(redirect.headers.location as string);
  t.equal(fromCdn.status, 200);
  t.same(fromCdn.body, PAYLOAD);
  t.equal((await call(`${fake.cdnUrl}/blobs/${digest}`)).status, 403, 'the cdn wants the signed URL');

  const head = await call(`${fake.url}/v2/app/blobs/${digest}`, {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.headers['docker-content-digest'], digest);

  const followed = await fetch(`${fake.url}/v2/app/blobs/${digest}`);
  t.same(Buffer.from(await followed.arrayBuffer()), PAYLOAD);
  t.equal(fake.count({ kind: 'blob', method: 'GET', host: 'registry' }), 2);
  t.equal(fake.count({ kind: 'blob', method: 'GET', host: 'cdn' }), 3);
});

t.test('the cdn refuses requests carrying Authorization with 400 and counts them', async (t) => {
  const fake = await start(t, { redirectBlobs: true });
  const digest = fake.addBlob('app', PAYLOAD);
  const location = (await call(`${fake.url}/v2/app/blobs/${digest}`)).headers.location as string;
  const refused = await call(location, { authorization: 'Bearer leaked' });
  t.equal(refused.status, 400);
  t.equal(fake.cdnAuthorizationSeen, 1);
  t.equal((await call(location)).status, 200);
  t.equal(fake.cdnAuthorizationSeen, 1);
});

t.test('holdBlob: the next GET sends afterBytes, pauses until release, and later GETs are not held', async (t) => {
  const fake = await start(t);
  const digest = fake.addBlob('app', PAYLOAD);
  const hold = fake.holdBlob(digest, 300);
  const res = await request(`${fake.url}/v2/app/blobs/${digest}`);
  t.equal(res.statusCode, 200, 'headers arrive before the pause');
  await hold.reached;

  const chunks = res.body[Symbol.asyncIterator]();
  const received: Buffer[] = [];
  let size = 0;
  while (size < 300) {
    const { value } = await chunks.next();
    received.push(value);
    size += value.length;
  }
  t.equal(size, 300, 'exactly afterBytes before release');
  hold.release();
  for (let r = await chunks.next(); !r.done; r = await chunks.next()) received.push(r.value);
  t.same(Buffer.concat(received), PAYLOAD);

  const again = await call(`${fake.url}/v2/app/blobs/${digest}`);
  t.same(again.body, PAYLOAD, 'a hold applies to one GET only');
});

t.test('dropBlobMidway: the client gets headers and about half the body, then an error', async (t) => {
  const fake = await start(t);
  const digest = fake.addBlob('app', PAYLOAD);
  fake.dropBlobMidway(digest);
  const res = await request(`${fake.url}/v2/app/blobs/${digest}`);
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-length'], String(PAYLOAD.length));
  let size = 0;
  await t.rejects(
    (async () => {
      for await (const chunk of res.body) size += chunk.length;
    })(),
  );
  t.equal(size, PAYLOAD.length / 2);

  await t.rejects(fetch(`${fake.url}/v2/app/blobs/${digest}`).then((r) => r.arrayBuffer()), 'fetch sees it too');
  fake.clearBlobFault(digest);
  t.same((await call(`${fake.url}/v2/app/blobs/${digest}`)).body, PAYLOAD);
});

t.test('corruptBlob: same length, different sha256, on the registry and via the cdn', async (t) => {
  for (const redirectBlobs of [false, true]) {
    const fake = await start(t, { redirectBlobs });
    const digest = fake.addBlob('app', PAYLOAD);
    fake.corruptBlob(digest);
    const res = await fetch(`${fake.url}/v2/app/blobs/${digest}`);
    const body = Buffer.from(await res.arrayBuffer());
    t.equal(res.status, 200);
    t.equal(body.length, PAYLOAD.length);
    t.not(sha256(body), digest, `redirectBlobs=${redirectBlobs}`);
  }
});

t.test('trickleBlob: the body arrives intact in several pieces', async (t) => {
  const fake = await start(t);
  const digest = fake.addBlob('app', PAYLOAD);
  fake.trickleBlob(digest, 100, 5);
  const res = await request(`${fake.url}/v2/app/blobs/${digest}`);
  const received: Buffer[] = [];
  for await (const chunk of res.body) received.push(chunk);
  t.ok(received.length > 1, `${received.length} pieces`);
  t.same(Buffer.concat(received), PAYLOAD);
});

t.test('mode reset destroys the connection without a response', async (t) => {
  const fake = await start(t);
  fake.mode = 'reset';
  await t.rejects(request(`${fake.url}/v2/`));
  t.equal(fake.count({ kind: 'base' }), 1, 'recorded before being reset');
  fake.mode = 'ok';
  t.equal((await call(`${fake.url}/v2/`)).status, 200);
});

t.test('mode hang never answers until the client gives up or close() is called', async (t) => {
  const fake = await start(t);
  fake.addImage('app', 'v1');
  fake.mode = 'hang';
  const ac = new AbortController();
  const abandoned = fetch(`${fake.url}/v2/app/manifests/v1`, { signal: ac.signal });
  await fake.waitForRequests({ kind: 'manifest' });
  ac.abort();
  await t.rejects(abandoned);

  const pending = request(`${fake.url}/v2/app/manifests/v1`);
  await fake.waitForRequests({ kind: 'manifest' }, 2);
  await fake.close();
  await t.rejects(pending);
});

t.test('modes 429 and 503 answer with registry errors and spare the token endpoint and the cdn', async (t) => {
  const fake = await start(t, { auth: 'bearer', redirectBlobs: true });
  const digest = fake.addBlob('app', PAYLOAD);
  fake.mode = 'status429';
  const limited = await call(`${fake.url}/v2/app/blobs/${digest}`);
  t.equal(limited.status, 429);
  t.equal(limited.headers['retry-after'], '1');
  t.equal(errorCode(limited), 'TOOMANYREQUESTS');
  fake.mode = 'status503';
  t.equal((await call(`${fake.url}/v2/`)).status, 503);
  t.ok(await token(fake, 'repository:app:pull'));
  t.equal((await call(`${fake.cdnUrl}/blobs/${digest}?sig=x`)).status, 200);
});

t.test('ratelimit headers appear on every /v2/ response while set', async (t) => {
  const fake = await start(t, { auth: 'bearer' });
  fake.ratelimit = { limit: '100;w=21600', remaining: '99;w=21600' };
  const challenged = await call(`${fake.url}/v2/app/manifests/v1`);
  t.equal(challenged.status, 401);
  t.equal(challenged.headers['ratelimit-limit'], '100;w=21600');
  t.equal(challenged.headers['ratelimit-remaining'], '99;w=21600');
  const tok = await token(fake, 'repository:app:pull');
  const missing = await call(`${fake.url}/v2/app/manifests/v1`, { authorization: `Bearer ${tok}` });
  t.equal(missing.status, 404);
  t.equal(missing.headers['ratelimit-remaining'], '99;w=21600');
  fake.ratelimit = null;
  t.equal((await call(`${fake.url}/v2/`, { authorization: `Bearer ${tok}` })).headers['ratelimit-limit'], undefined);
});

t.test('pushes are refused with 405 UNSUPPORTED', async (t) => {
  const fake = await start(t);
  for (const [method, path] of [
    ['POST', '/v2/app/blobs/uploads/'],
    ['PUT', '/v2/app/manifests/v1'],
    ['PATCH', '/v2/app/blobs/uploads/123'],
    ['DELETE', '/v2/app/manifests/v1'],
  ] as const) {
    const a = await call(`${fake.url}${path}`, {}, method);
    t.equal(a.status, 405, `${method} ${path}`);
    t.equal(errorCode(a), 'UNSUPPORTED');
  }
});

t.test('every request is recorded in order with its path, headers and kind; count filters; reset() clears the log', async (t) => {
  const fake = await start(t, { auth: 'bearer' });
  const img = fake.addImage('app', 'v1');
  await call(`${fake.url}/v2/app/manifests/v1?x=1`, { 'user-agent': 'probe' });
  const tok = await token(fake, 'repository:app:pull');
  const auth = { authorization: `Bearer ${tok}` };
  await call(`${fake.url}/v2/app/manifests/v1`, auth, 'HEAD');
  await call(`${fake.url}/v2/app/blobs/${img.layerDigests[0]}`, auth);
  await call(`${fake.url}/v2/app/tags/list`, auth);
  await call(`${fake.url}/v2/app/referrers/${img.manifestDigest}`, auth);

  t.same(
    fake.requests.map((r) => [r.method, r.host, r.kind]),
    [
      ['GET', 'registry', 'manifest'],
      ['GET', 'token', 'token'],
      ['HEAD', 'registry', 'manifest'],
      ['GET', 'registry', 'blob'],
      ['GET', 'registry', 'tags'],
      ['GET', 'registry', 'referrers'],
    ],
  );
  t.equal(fake.requests[0]!.path, '/v2/app/manifests/v1?x=1');
  t.equal(fake.requests[0]!.headers['user-agent'], 'probe');
  t.equal(fake.count({ kind: 'manifest' }), 2);
  t.equal(fake.count({ kind: 'manifest', method: 'HEAD' }), 1);
  t.equal(fake.count({ host: 'token' }), 1);

  const before = fake.requests;
  fake.reset();
  t.equal(fake.requests, before, 'the same array is cleared in place');
  t.equal(fake.requests.length, 0);
  t.equal((await call(`${fake.url}/v2/app/manifests/v1`, auth)).status, 200, 'content survives reset');
});

t.test('close() releases a held response and the client sees the connection end', async (t) => {
  const fake = await start(t);
  const digest = fake.addBlob('app', PAYLOAD);
  const hold = fake.holdBlob(digest, 10);
  const res = await request(`${fake.url}/v2/app/blobs/${digest}`);
  await hold.reached;
  const body = res.body.arrayBuffer();
  await fake.close();
  await t.rejects(body);
  await t.rejects(fake.waitForRequests({ kind: 'blob' }, 99), 'waiters cannot be satisfied after close');
});
