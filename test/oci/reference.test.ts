import t from 'tap'
import { ociError } from '../support/thrown.js'
import { assertRepositoryName, assertTag } from '../../src/oci/reference.js'


t.test('valid repository names pass', async (t) => {
  for (const name of [
    'nginx',
    'library/nginx',
    'a/b/c/d',
    'my-org/my-image',
    'my--org/image',
    'org.name/image_name',
    'org/image__name',
    'kube-state-metrics/kube-state-metrics',
    '0/9',
  ]) {
    t.doesNotThrow(() => assertRepositoryName(name), name)
  }
})

t.test('invalid repository names are NAME_INVALID naming the name', async (t) => {
  for (const name of [
    '',
    'Nginx',
    'library/Nginx',
    '/nginx',
    'nginx/',
    'library//nginx',
    '-nginx',
    'nginx-',
    'ngi..nx',
    'ngi___nx',
    'ngi._nx',
    '.nginx',
    'ngi nx',
    'host:5000/nginx',
    'library/nginx:latest',
  ]) {
    const err = ociError(() => assertRepositoryName(name))
    t.equal(err.code, 'NAME_INVALID', JSON.stringify(name))
    t.equal(err.status, 400)
    t.equal(err.message, `invalid repository name: ${JSON.stringify(name)}`)
  }
})

t.test('a repository name of 255 characters passes and one of 256 does not', async (t) => {
  const name255 = `${'a'.repeat(127)}/${'b'.repeat(127)}`
  t.equal(name255.length, 255)
  t.doesNotThrow(() => assertRepositoryName(name255))
  const name256 = `${name255}c`
  t.equal(ociError(() => assertRepositoryName(name256)).code, 'NAME_INVALID')
})

t.test('valid tags pass', async (t) => {
  for (const tag of ['latest', 'v1.2.3', '1.25-alpine', '_private', 'A_B-c.d', 'x'.repeat(128)]) {
    t.doesNotThrow(() => assertTag(tag), tag)
  }
})

t.test('invalid tags are TAG_INVALID naming the tag', async (t) => {
  for (const tag of ['', '.hidden', '-dash', 'with space', 'a/b', 'a:b', 'x'.repeat(129)]) {
    const err = ociError(() => assertTag(tag))
    t.equal(err.code, 'TAG_INVALID', JSON.stringify(tag).slice(0, 40))
    t.equal(err.status, 400)
    t.equal(err.message, `invalid tag: ${JSON.stringify(tag)}`)
  }
})
