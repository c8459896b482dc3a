import { createHash } from 'node:crypto'
import t from 'tap'
import { schema1PayloadDigest } from '../../src/oci/schema1.js'

/** A signed schema1 manifest the way libtrust lays it out: payload, then "signatures" spliced before the end. */
function signedManifest(payload: string): Buffer {
  const formatLength = payload.lastIndexOf('\n}')
  const formatTail = Buffer.from(payload.slice(formatLength)).toString('base64url')
  const protectedHeader = Buffer.from(JSON.stringify({ formatLength, formatTail, time: '2026-11-23T00:00:00Z' })).toString('base64url')
  const signatures = `,\n   "signatures": [{"header": {"alg": "ES256"}, "signature": "c2ln", "protected": "${protectedHeader}"}]\n}`
  return Buffer.from(payload.slice(0, formatLength) + signatures)
}

t.test('the digest of a signed schema1 manifest is that of its payload without the signatures', async (t) => {
  const payload = '{\n   "schemaVersion": 1,\n   "name": "library/app",\n   "tag": "v1",\n   "fsLayers": []\n}'
  const signed = signedManifest(payload)
  const expected = `sha256:${createHash('sha256').update(payload).digest('hex')}`
  t.equal(schema1PayloadDigest(signed, 'sha256'), expected)
  t.not(`sha256:${createHash('sha256').update(signed).digest('hex')}`, expected, 'the whole body hashes to something else')
})

t.test('bytes that are no signed schema1 manifest have no payload digest', async (t) => {
  t.equal(schema1PayloadDigest(Buffer.from('{"schemaVersion":2}'), 'sha256'), undefined)
  t.equal(schema1PayloadDigest(Buffer.from('not json'), 'sha256'), undefined)
  t.equal(schema1PayloadDigest(Buffer.from('{"signatures":[{"protected":"e30"}]}'), 'sha256'), undefined, 'no formatLength')
})
