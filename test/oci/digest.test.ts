import { createHash } from 'node:crypto'
import t from 'tap'
import { ociError } from '../support/thrown.js'
import { digestOf, isDigest, newHash, parseDigest } from '../../src/oci/digest.js'

const emptySha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
const emptySha512 =
  'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e'


t.test('a sha256 digest parses into algorithm, hex and canonical value', async (t) => {
  t.strictSame(parseDigest(`sha256:${emptySha256}`), { algorithm: 'sha256', hex: emptySha256, value: `sha256:${emptySha256}` })
})

t.test('a sha512 digest parses too', async (t) => {
  t.strictSame(parseDigest(`sha512:${emptySha512}`), { algorithm: 'sha512', hex: emptySha512, value: `sha512:${emptySha512}` })
})

t.test('text outside the digest grammar is DIGEST_INVALID', async (t) => {
  for (const text of ['', 'latest', `sha256${emptySha256}`, `:${emptySha256}`, 'sha256:', `SHA256:${emptySha256}`, `sha256:${emptySha256} `]) {
    const err = ociError(() => parseDigest(text))
    t.equal(err.code, 'DIGEST_INVALID', JSON.stringify(text))
    t.equal(err.status, 400)
    t.equal(err.message, `invalid digest: ${JSON.stringify(text)}`)
  }
})

t.test('an algorithm other than sha256 or sha512 is refused by name', async (t) => {
  const err = ociError(() => parseDigest(`md5:${'a'.repeat(32)}`))
  t.equal(err.code, 'DIGEST_INVALID')
  t.equal(err.message, 'unsupported digest algorithm: md5')
  t.equal(ociError(() => parseDigest(`sha384:${'a'.repeat(96)}`)).message, 'unsupported digest algorithm: sha384')
})

t.test('a hex part of the wrong length is refused', async (t) => {
  for (const text of [`sha256:${emptySha256.slice(1)}`, `sha256:${emptySha256}0`, `sha512:${emptySha256}`, `sha256:${emptySha512}`]) {
    const err = ociError(() => parseDigest(text))
    t.equal(err.code, 'DIGEST_INVALID', text)
    t.match(err.message, /^invalid sha(256|512) digest: /)
  }
})

t.test('upper-case or non-hex characters in the hex part are refused', async (t) => {
  const upper = `sha256:${emptySha256.toUpperCase()}`
  t.equal(ociError(() => parseDigest(upper)).message, `invalid sha256 digest: ${JSON.stringify(upper)}`)
  const nonHex = `sha256:${'g'.repeat(64)}`
  t.equal(ociError(() => parseDigest(nonHex)).message, `invalid sha256 digest: ${JSON.stringify(nonHex)}`)
})

t.test('isDigest tells a digest reference from a tag by its colon', async (t) => {
  t.equal(isDigest(`sha256:${emptySha256}`), true)
  t.equal(isDigest('sha256:nothex'), true)
  t.equal(isDigest('latest'), false)
  t.equal(isDigest('v1.2.3-alpine_3'), false)
})

t.test('digestOf hashes bytes with sha256 by default', async (t) => {
  t.equal(digestOf(new Uint8Array()), `sha256:${emptySha256}`)
  t.equal(digestOf(Buffer.from('hello')), 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824')
})

t.test('digestOf hashes with sha512 when asked', async (t) => {
  t.equal(digestOf(new Uint8Array(), 'sha512'), `sha512:${emptySha512}`)
})

t.test('digestOf output parses back with parseDigest', async (t) => {
  const digest = digestOf(Buffer.from('some layer bytes'))
  t.equal(parseDigest(digest).value, digest)
})

t.test('newHash gives an incremental hash of the named algorithm', async (t) => {
  const hash = newHash('sha256')
  hash.update('hel')
  hash.update('lo')
  t.equal(hash.digest('hex'), createHash('sha256').update('hello').digest('hex'))
  t.equal(newHash('sha512').update('').digest('hex'), emptySha512)
})
