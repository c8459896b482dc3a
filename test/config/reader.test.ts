import t from 'tap'
import { configError } from '../support/thrown.js'
import { ConfigError } from '../../src/config/config-error.js'
import { ConfigReader } from '../../src/config/reader.js'

const source = '/etc/dockside/config.yaml'


t.test('a ConfigError message names the file, the key and the value', async (t) => {
  const err = new ConfigError(source, 'upstream.retries', 11, 'a whole number from 0 to 10')
  t.equal(err.name, 'ConfigError')
  t.ok(err instanceof Error)
  t.equal(err.message, `${source}: upstream.retries: 11 is not valid (expected a whole number from 0 to 10)`)
  t.equal(err.source, source)
  t.equal(err.key, 'upstream.retries')
  t.equal(err.value, 11)
  t.equal(err.expected, 'a whole number from 0 to 10')
})

t.test('an absent or null mapping reads as empty, so every key takes its fallback', async (t) => {
  for (const value of [undefined, null]) {
    const r = new ConfigReader(source, value)
    t.equal(r.string('host', 'localhost'), 'localhost')
    t.equal(r.int('port', 5000, { min: 0, max: 65535 }), 5000)
    t.equal(r.durationMs('ttl', 1000), 1000)
    t.equal(r.sizeBytes('max', 42), 42)
    t.equal(r.oneOf('level', 'info', ['info', 'debug']), 'info')
    t.equal(r.boolean('on', true), true)
    t.strictSame(r.stringList('aliases'), [])
    t.equal(r.string('optional'), undefined)
    t.equal(r.durationMs('optionalTtl'), undefined)
    t.doesNotThrow(() => r.finish())
  }
})

t.test('a top level that is not a mapping is refused', async (t) => {
  for (const value of ['text', 5, ['a']]) {
    const err = configError(() => new ConfigReader(source, value))
    t.equal(err.key, '(top level)')
    t.strictSame(err.value, value)
    t.equal(err.message, `${source}: (top level): ${JSON.stringify(value)} is not valid (expected a mapping)`)
  }
})

t.test('a key given as null takes its fallback', async (t) => {
  const r = new ConfigReader(source, { host: null, port: null })
  t.equal(r.string('host', 'h'), 'h')
  t.equal(r.int('port', 1, { min: 0, max: 2 }), 1)
  t.doesNotThrow(() => r.finish())
})

t.test('string reads a non-empty string and refuses anything else', async (t) => {
  t.equal(new ConfigReader(source, { host: '127.0.0.1' }).string('host', 'x'), '127.0.0.1')
  for (const value of ['', 5000, true, ['a'], { a: 1 }]) {
    const err = configError(() => new ConfigReader(source, { host: value }).string('host', 'x'))
    t.equal(err.key, 'host')
    t.strictSame(err.value, value)
    t.equal(err.message, `${source}: host: ${JSON.stringify(value)} is not valid (expected a non-empty string)`)
  }
})

t.test('stringList reads a list of non-empty strings and refuses anything else', async (t) => {
  t.strictSame(new ConfigReader(source, { aliases: ['a', 'b'] }).stringList('aliases'), ['a', 'b'])
  t.strictSame(new ConfigReader(source, { aliases: [] }).stringList('aliases'), [])
  for (const value of ['a', ['a', ''], ['a', 1], [null]]) {
    const err = configError(() => new ConfigReader(source, { aliases: value }).stringList('aliases'))
    t.equal(err.key, 'aliases')
    t.equal(err.message, `${source}: aliases: ${JSON.stringify(value)} is not valid (expected a list of strings)`)
  }
})

t.test('int reads a whole number inside its range, bounds included', async (t) => {
  const range = { min: 0, max: 10 }
  t.equal(new ConfigReader(source, { n: 0 }).int('n', 5, range), 0)
  t.equal(new ConfigReader(source, { n: 10 }).int('n', 5, range), 10)
})

t.test('int refuses numbers out of range, fractions and strings', async (t) => {
  for (const value of [-1, 11, 1.5, '3', NaN]) {
    const err = configError(() => new ConfigReader(source, { n: value }).int('n', 5, { min: 0, max: 10 }))
    t.equal(err.key, 'n')
    t.strictSame(err.value, value)
    t.equal(err.expected, 'a whole number from 0 to 10')
  }
})

t.test('durationMs reads a duration string or a number of milliseconds', async (t) => {
  t.equal(new ConfigReader(source, { ttl: '5m' }).durationMs('ttl', 1), 300_000)
  t.equal(new ConfigReader(source, { ttl: 250 }).durationMs('ttl', 1), 250)
})

t.test('durationMs refuses an unreadable duration, naming it', async (t) => {
  const err = configError(() => new ConfigReader(source, { ttl: '5 minutes' }).durationMs('ttl', 1))
  t.equal(err.message, `${source}: ttl: "5 minutes" is not valid (expected a duration such as "250ms", "30s", "5m" or "1h" (a bare number is milliseconds))`)
})

t.test('durationMs refuses a duration below its minimum (a timeout of 0 would disable it)', async (t) => {
  const err = configError(() => new ConfigReader(source, { timeout: 0 }).durationMs('timeout', 1000, 1))
  t.equal(err.key, 'timeout')
  t.equal(err.message, `${source}: timeout: 0 is not valid (expected a duration of at least 1 ms)`)
  t.equal(new ConfigReader(source, { ttl: 0 }).durationMs('ttl', 1000), 0, 'where 0 makes sense it is allowed')
})

t.test('sizeBytes reads a size and refuses an unreadable one', async (t) => {
  t.equal(new ConfigReader(source, { max: '50GiB' }).sizeBytes('max', 1), 50 * 2 ** 30)
  const err = configError(() => new ConfigReader(source, { max: '50 gigs' }).sizeBytes('max', 1))
  t.equal(err.message, `${source}: max: "50 gigs" is not valid (expected a size such as "500MiB" or "50GiB")`)
})

t.test('oneOf reads an allowed value and refuses others, listing the allowed ones', async (t) => {
  const allowed = ['debug', 'info', 'warn'] as const
  t.equal(new ConfigReader(source, { level: 'warn' }).oneOf('level', 'info', allowed), 'warn')
  const err = configError(() => new ConfigReader(source, { level: 'WARN' }).oneOf('level', 'info', allowed))
  t.equal(err.message, `${source}: level: "WARN" is not valid (expected one of debug, info, warn)`)
})

t.test('boolean reads true or false and refuses strings', async (t) => {
  t.equal(new ConfigReader(source, { on: false }).boolean('on', true), false)
  const err = configError(() => new ConfigReader(source, { on: 'yes' }).boolean('on', true))
  t.equal(err.message, `${source}: on: "yes" is not valid (expected true or false)`)
})

t.test('has is true only for a key with a non-null value', async (t) => {
  const r = new ConfigReader(source, { a: 1, b: null, c: false })
  t.equal(r.has('a'), true)
  t.equal(r.has('b'), false)
  t.equal(r.has('c'), true)
  t.equal(r.has('d'), false)
})

t.test('errors in a child mapping name the dotted key', async (t) => {
  const r = new ConfigReader(source, { upstream: { retries: 11 } })
  const err = configError(() => r.child('upstream').int('retries', 2, { min: 0, max: 10 }))
  t.equal(err.key, 'upstream.retries')
  t.equal(err.message, `${source}: upstream.retries: 11 is not valid (expected a whole number from 0 to 10)`)
})

t.test('grandchild keys are dotted all the way down', async (t) => {
  const r = new ConfigReader(source, { a: { b: { c: 'x' } } })
  const err = configError(() => r.child('a').child('b').int('c', 0, { min: 0, max: 1 }))
  t.equal(err.key, 'a.b.c')
})

t.test('a child that is not a mapping is refused, naming its key without a trailing dot', async (t) => {
  const err = configError(() => new ConfigReader(source, { listen: 5000 }).child('listen'))
  t.equal(err.value, 5000)
  t.equal(err.key, 'listen')
  t.equal(err.message, `${source}: listen: 5000 is not valid (expected a mapping)`)
})

t.test('finish refuses an unknown key, naming it and its value', async (t) => {
  const r = new ConfigReader(source, { upstream: {}, upstrem: { retries: 3 } })
  r.child('upstream').finish()
  const err = configError(() => r.finish())
  t.equal(err.key, 'upstrem')
  t.strictSame(err.value, { retries: 3 })
  t.equal(err.message, `${source}: upstrem: {"retries":3} is not valid (expected a known key (no option "upstrem" exists))`)
})

t.test('finish refuses an unknown key in a child by its dotted name', async (t) => {
  const child = new ConfigReader(source, { listen: { host: 'h', prot: 80 } }).child('listen')
  child.string('host', 'x')
  const err = configError(() => child.finish())
  t.equal(err.key, 'listen.prot')
  t.equal(err.message, `${source}: listen.prot: 80 is not valid (expected a known key (no option "listen.prot" exists))`)
})

t.test('finish accepts keys that were read, even when they held null', async (t) => {
  const r = new ConfigReader(source, { host: 'h', port: null })
  r.string('host', 'x')
  r.int('port', 1, { min: 0, max: 2 })
  t.doesNotThrow(() => r.finish())
})

t.test('has does not count as reading a key', async (t) => {
  const r = new ConfigReader(source, { extra: 1 })
  r.has('extra')
  t.equal(configError(() => r.finish()).key, 'extra')
})
