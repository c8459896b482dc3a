// A Docker-style token server (https://distribution.github.io/distribution/spec/auth/token/) for a real
// Distribution registry: it signs RS256 JWTs with a key made at start-up, and writes a self-signed certificate
// for that key, which the registry trusts through `auth.token.rootcertbundle`.
//
// Distribution 2.8 finds the signing key by the JWT header's `kid`: the libtrust key id of the certificate's
// public key (SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes, base32, in 12 groups of 4 joined by
// ':'). Anonymous requests are granted `pull`; the push account gets every action it asks for.
import { createHash, generateKeyPair, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'

export const pushUser = { username: 'e2e-pusher', password: 'e2e-push-secret' }

export interface TokenGrant {
  /** Account name, or '' for anonymous. */
  subject: string
  /** The scopes asked for, e.g. "repository:library/small:pull". */
  scopes: string[]
  access: ResourceAccess[]
}

interface ResourceAccess {
  type: string
  name: string
  actions: string[]
}

export class TokenServer {
  readonly service = 'e2e-registry'
  readonly issuer = 'e2e-token-issuer'
  /** Every token issued, in order. */
  readonly grants: TokenGrant[] = []

  private constructor(
    private readonly server: Server,
    private readonly privateKey: KeyObject,
    private readonly keyId: string,
    /** PEM of the self-signed certificate for the signing key (the registry's rootcertbundle). */
    readonly certificatePem: string,
  ) {}

  static async start(): Promise<TokenServer> {
    const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 })
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const certificatePem = selfSignedCertificate(privateKey, spki, 'dockside e2e token issuer')
    new X509Certificate(certificatePem) // fails here, not in the registry, if the encoding is wrong
    let self: TokenServer | undefined
    const server = createServer((req, res) => {
      void self?.handle(req, res)
    })
    self = new TokenServer(server, privateKey, libtrustKeyId(spki), certificatePem)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    return self
  }

  get realm(): string {
    const { port } = this.server.address() as AddressInfo
    return `http://127.0.0.1:${port}/token`
  }

  close(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token.invalid')
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      res.writeHead(404).end()
      return
    }
    // GET with optional Basic (the classic flow) or POST with a form (the OAuth2 flow some clients use).
    const params = new URLSearchParams(url.search)
    let username: string | undefined
    let password: string | undefined
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '')
    if (basic) {
      const decoded = Buffer.from(basic[1] as string, 'base64').toString()
      const colon = decoded.indexOf(':')
      username = decoded.slice(0, colon)
      password = decoded.slice(colon + 1)
    }
    if (req.method === 'POST') {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const form = new URLSearchParams(Buffer.concat(chunks).toString())
      for (const [key, value] of form) params.append(key, value)
      if (form.get('grant_type') === 'password') {
        username = form.get('username') ?? undefined
        password = form.get('password') ?? undefined
      }
    }
    if (username !== undefined && (username !== pushUser.username || password !== pushUser.password)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }))
      return
    }
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '')
    const access: ResourceAccess[] = []
    for (const scope of scopes) {
      const match = /^([a-z0-9]+)(?:\([^)]*\))?:(.+):([a-z*,]+)$/.exec(scope)
      if (!match) continue
      const [, type, name, actionText] = match as unknown as [string, string, string, string]
      const asked = actionText.split(',')
      const actions = username === undefined ? asked.filter((a) => a === 'pull') : asked
      if (actions.length > 0) access.push({ type, name, actions })
    }
    const subject = username ?? ''
    const token = this.issue(subject, access)
    this.grants.push({ subject, scopes, access })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }))
  }

  private issue(subject: string, access: ResourceAccess[]): string {
    const now = Math.floor(Date.now() / 1000)
    const header = { typ: 'JWT', alg: 'RS256', kid: this.keyId }
    const claims = { iss: this.issuer, sub: subject, aud: this.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access }
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
    const signature = sign('sha256', Buffer.from(signingInput), this.privateKey)
    return `${signingInput}.${base64url(signature)}`
  }
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url')
}

/** libtrust's key id: base32 of the first 240 bits of sha256(DER SubjectPublicKeyInfo), groups of 4 joined by ':'. */
export function libtrustKeyId(spki: Buffer): string {
  const digest = createHash('sha256').update(spki).digest().subarray(0, 30)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  let text = ''
  for (const byte of digest) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      text += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  return (text.match(/.{1,4}/g) as string[]).join(':')
}

// A minimal DER encoder, enough for one self-signed X.509 v3 certificate (node:crypto parses but cannot make them).
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts)
  let length: number[]
  if (body.length < 0x80) {
    length = [body.length]
  } else {
    const bytes: number[] = []
    for (let n = body.length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256)
    length = [0x80 | bytes.length, ...bytes]
  }
  return Buffer.concat([Buffer.from([tag, ...length]), body])
}

const sequence = (...parts: Buffer[]): Buffer => der(0x30, ...parts)

function objectId(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]]
  const bytes = [first * 40 + second]
  for (const n of rest) {
    const groups = [n & 0x7f]
    for (let v = n >>> 7; v > 0; v >>>= 7) groups.unshift((v & 0x7f) | 0x80)
    bytes.push(...groups)
  }
  return der(0x06, Buffer.from(bytes))
}

function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'
  return der(0x17, Buffer.from(text))
}

function selfSignedCertificate(privateKey: KeyObject, spki: Buffer, commonName: string): string {
  const sha256WithRsa = sequence(objectId('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]))
  const name = sequence(der(0x31, sequence(objectId('2.5.4.3'), der(0x0c, Buffer.from(commonName)))))
  const serial = randomBytes(8)
  serial[0] = (serial[0] as number) & 0x7f // a positive INTEGER
  const now = Date.now()
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // [0] EXPLICIT version v3
    der(0x02, serial),
    sha256WithRsa,
    name,
    sequence(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 24 * 3_600_000))),
    name,
    spki,
  )
  const signature = sign('sha256', tbs, privateKey)
  const certificate = sequence(tbs, sha256WithRsa, der(0x03, Buffer.from([0]), signature))
  const base64 = certificate.toString('base64').match(/.{1,64}/g) as string[]
  return `-----BEGIN CERTIFICATE-----\n${base64.join('\n')}\n-----END CERTIFICATE-----\n`
}
