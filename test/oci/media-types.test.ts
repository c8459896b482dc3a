import t from 'tap'
import { acceptKey, accepts, allManifestTypes, mediaTypes, parseAccept, upstreamAccept } from '../../src/oci/media-types.js'

const { ociManifest, ociIndex, dockerManifest, dockerManifestList, dockerSchema1Signed, dockerSchema1 } = mediaTypes
const everyType = [ociManifest, ociIndex, dockerManifest, dockerManifestList, dockerSchema1Signed, dockerSchema1]
const everyTypeKey = everyType.join(',')

t.test('no Accept header is absent with no ranges', async (t) => {
  t.strictSame(parseAccept(undefined), { ranges: [], refused: [], absent: true })
  t.strictSame(parseAccept([]), { ranges: [], refused: [], absent: true })
  t.strictSame(parseAccept(''), { ranges: [], refused: [], absent: true })
})

t.test('one Accept line lists its media ranges in order, lower-cased, parameters dropped', async (t) => {
  t.strictSame(parseAccept(`${ociIndex}, Application/VND.Docker.Distribution.Manifest.V2+JSON;q=0.9 ; charset=utf-8`), {
    ranges: [ociIndex, dockerManifest],
    refused: [],
    absent: false,
  })
})

t.test('several Accept lines given as an array are merged in order', async (t) => {
  t.strictSame(parseAccept([ociIndex, `${ociManifest}, ${dockerManifestList}`, dockerManifest]), {
    ranges: [ociIndex, ociManifest, dockerManifestList, dockerManifest],
    refused: [],
    absent: false,
  })
})

t.test('several Accept lines joined by Node with ", " give the same list as the array', async (t) => {
  const lines = [`${ociIndex};q=0.5`, `${ociManifest}, ${dockerManifestList}`, dockerManifest]
  t.strictSame(parseAccept(lines.join(', ')), parseAccept(lines))
  t.strictSame(parseAccept(lines.join(', ')).ranges, [ociIndex, ociManifest, dockerManifestList, dockerManifest])
})

t.test('a range repeated across lines is listed once', async (t) => {
  t.strictSame(parseAccept([ociManifest, `${ociManifest.toUpperCase()}, ${ociManifest}`]).ranges, [ociManifest])
})

t.test('empty list elements are skipped', async (t) => {
  t.strictSame(parseAccept(` , ${ociManifest},, `).ranges, [ociManifest])
})

t.test('a range with q=0 is excluded, in every spelling of zero', async (t) => {
  const accept = parseAccept([`${ociIndex};q=0`, `${dockerManifestList}; q=0.000`, `${ociManifest};q=0.1`, dockerManifest])
  t.strictSame(accept, { ranges: [ociManifest, dockerManifest], refused: [ociIndex, dockerManifestList], absent: false })
  t.equal(accepts(accept, ociIndex), false)
  t.equal(accepts(accept, dockerManifestList), false)
  t.equal(accepts(accept, ociManifest), true)
})

t.test('a client that sent only q=0 ranges is not treated as having sent no Accept', async (t) => {
  const accept = parseAccept(`${ociIndex};q=0, ${dockerManifestList};q=0`)
  t.equal(accept.absent, false, 'the client did send an Accept')
  t.equal(accepts(accept, ociIndex), false, 'q=0 means not acceptable')
  t.equal(accepts(accept, dockerManifestList), false, 'q=0 means not acceptable')
})

t.test('an absent Accept accepts every media type', async (t) => {
  const accept = parseAccept(undefined)
  for (const type of [...everyType, 'text/plain']) t.equal(accepts(accept, type), true, type)
})

t.test('an explicit list accepts only its own types, case-insensitively', async (t) => {
  const accept = parseAccept(`${ociManifest}, ${dockerManifest}`)
  t.equal(accepts(accept, ociManifest), true)
  t.equal(accepts(accept, dockerManifest.toUpperCase()), true)
  t.equal(accepts(accept, ociIndex), false)
  t.equal(accepts(accept, dockerManifestList), false)
  t.equal(accepts(accept, 'application/json'), false)
})

t.test('*/* accepts every media type', async (t) => {
  const accept = parseAccept('*/*')
  for (const type of [...everyType, 'text/plain']) t.equal(accepts(accept, type), true, type)
})

t.test('a type/* wildcard accepts only that top-level type', async (t) => {
  const accept = parseAccept('application/*')
  t.equal(accepts(accept, ociIndex), true)
  t.equal(accepts(accept, dockerSchema1), true)
  t.equal(accepts(accept, 'text/plain'), false)
})

t.test('a q=0 type is not accepted even when a wildcard is also listed', async (t) => {
  const accept = parseAccept(`*/*, ${ociIndex};q=0`)
  t.equal(accepts(accept, ociManifest), true)
  t.equal(accepts(accept, ociIndex), false, 'the more specific q=0 overrides */*')
})

t.test('acceptKey lists the manifest types a client accepts, in table order', async (t) => {
  t.equal(acceptKey(parseAccept(undefined)), everyTypeKey)
  t.equal(acceptKey(parseAccept(`${dockerManifest}, ${ociManifest}`)), `${ociManifest},${dockerManifest}`)
  t.equal(acceptKey(parseAccept('application/json')), '')
})

t.test('acceptKey is the same for equivalent Accepts', async (t) => {
  const all = [undefined, '*/*', 'application/*', [...everyType].reverse().join(', '), everyType.map((m) => m.toUpperCase())]
  for (const header of all) t.equal(acceptKey(parseAccept(header)), everyTypeKey, JSON.stringify(header))
  const a = acceptKey(parseAccept([ociManifest, dockerManifest]))
  const b = acceptKey(parseAccept(`${dockerManifest};q=0.5, ${ociManifest}, text/html`))
  const c = acceptKey(parseAccept(`${ociManifest}, ${dockerManifest}, ${ociIndex};q=0`))
  t.equal(a, `${ociManifest},${dockerManifest}`)
  t.equal(b, a)
  t.equal(c, a)
})

t.test('acceptKey differs for a client that excludes the index types', async (t) => {
  const full = acceptKey(parseAccept(allManifestTypes.join(', ')))
  const noIndex = acceptKey(parseAccept(`${ociManifest}, ${dockerManifest}`))
  t.not(noIndex, full)
  t.notMatch(noIndex, ociIndex)
  t.notMatch(noIndex, dockerManifestList)
  t.match(full, ociIndex)
  t.match(full, dockerManifestList)
})

t.test('acceptKey differs from */* for a client that excludes the index types with q=0 beside a wildcard', async (t) => {
  const noIndex = acceptKey(parseAccept(`*/*, ${ociIndex};q=0, ${dockerManifestList};q=0`))
  t.not(noIndex, acceptKey(parseAccept('*/*')))
  t.equal(noIndex, [ociManifest, dockerManifest, dockerSchema1Signed, dockerSchema1].join(','))
})

t.test('upstreamAccept asks for every manifest type when the client sent no Accept', async (t) => {
  t.equal(upstreamAccept(parseAccept(undefined)), `${ociIndex}, ${ociManifest}, ${dockerManifestList}, ${dockerManifest}`)
})

t.test('upstreamAccept puts every manifest type before a client wildcard', async (t) => {
  t.equal(upstreamAccept(parseAccept('*/*')), `${ociIndex}, ${ociManifest}, ${dockerManifestList}, ${dockerManifest}, */*`)
  t.equal(
    upstreamAccept(parseAccept(`${dockerManifest}, application/*, ${dockerSchema1Signed}`)),
    `${ociIndex}, ${ociManifest}, ${dockerManifestList}, ${dockerManifest}, application/*, ${dockerSchema1Signed}`,
  )
})

t.test('upstreamAccept passes an explicit list through in order, without parameters or q=0 ranges', async (t) => {
  t.equal(upstreamAccept(parseAccept(`${ociManifest};q=0.9, ${dockerManifest}`)), `${ociManifest}, ${dockerManifest}`)
  t.equal(upstreamAccept(parseAccept(`${dockerManifest}, ${ociIndex};q=0, ${ociManifest}`)), `${dockerManifest}, ${ociManifest}`)
  t.equal(upstreamAccept(parseAccept([dockerSchema1Signed])), dockerSchema1Signed)
})
