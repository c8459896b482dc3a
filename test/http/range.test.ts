import t from 'tap'
import { ociError } from '../support/thrown.js'
import { parseRange } from '../../src/http/range.js'


t.test('no Range header means the whole body', async (t) => {
  t.equal(parseRange(undefined, 1000), undefined)
})

t.test('a closed range is served as asked, end inclusive', async (t) => {
  t.strictSame(parseRange('bytes=0-99', 1000), { start: 0, end: 99 })
  t.strictSame(parseRange('bytes=100-100', 1000), { start: 100, end: 100 })
  t.strictSame(parseRange('bytes=0-999', 1000), { start: 0, end: 999 })
})

t.test('an end past the last byte is cut to the last byte', async (t) => {
  t.strictSame(parseRange('bytes=500-5000', 1000), { start: 500, end: 999 })
})

t.test('an open range runs to the last byte', async (t) => {
  t.strictSame(parseRange('bytes=500-', 1000), { start: 500, end: 999 })
  t.strictSame(parseRange('bytes=0-', 1000), { start: 0, end: 999 })
})

t.test('a suffix range is the last n bytes', async (t) => {
  t.strictSame(parseRange('bytes=-100', 1000), { start: 900, end: 999 })
})

t.test('a suffix longer than the body is the whole body', async (t) => {
  t.strictSame(parseRange('bytes=-5000', 1000), { start: 0, end: 999 })
})

t.test('surrounding whitespace is ignored', async (t) => {
  t.strictSame(parseRange('  bytes=1-2 ', 10), { start: 1, end: 2 })
})

t.test('a range starting at or past the end is a 416 with the size in Content-Range', async (t) => {
  for (const header of ['bytes=1000-', 'bytes=1000-2000', 'bytes=5000-']) {
    const err = ociError(() => parseRange(header, 1000))
    t.equal(err.code, 'RANGE_INVALID', header)
    t.equal(err.status, 416)
    t.strictSame(err.headers, { 'content-range': 'bytes */1000' })
    t.equal(err.message, 'requested range not satisfiable (blob is 1000 bytes)')
  }
})

t.test('a zero-length suffix is a 416', async (t) => {
  const err = ociError(() => parseRange('bytes=-0', 1000))
  t.equal(err.code, 'RANGE_INVALID')
  t.strictSame(err.headers, { 'content-range': 'bytes */1000' })
})

t.test('any range of an empty body is a 416', async (t) => {
  for (const header of ['bytes=0-', 'bytes=0-10', 'bytes=-5']) {
    const err = ociError(() => parseRange(header, 0))
    t.equal(err.code, 'RANGE_INVALID', header)
    t.strictSame(err.headers, { 'content-range': 'bytes */0' })
  }
})

t.test('a range whose end is before its start is ignored', async (t) => {
  t.equal(parseRange('bytes=10-5', 1000), undefined)
})

t.test('several ranges are ignored and the whole body served', async (t) => {
  t.equal(parseRange('bytes=0-1,5-6', 1000), undefined)
  t.equal(parseRange('bytes=0-1, 5-6', 1000), undefined)
})

t.test('malformed or foreign-unit ranges are ignored', async (t) => {
  for (const header of ['', 'bytes=', 'bytes=-', 'bytes=a-b', 'bytes 0-1', 'items=0-1', 'bytes=0-1-2', 'bytes=1.5-2', 'bytes=-1-']) {
    t.equal(parseRange(header, 1000), undefined, JSON.stringify(header))
  }
})
