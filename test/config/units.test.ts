import t from 'tap'
import { formatBytes, parseDurationMs, parseSizeBytes } from '../../src/config/units.js'

t.test('a duration with one unit converts to milliseconds', async (t) => {
  t.equal(parseDurationMs('250ms'), 250)
  t.equal(parseDurationMs('30s'), 30_000)
  t.equal(parseDurationMs('5m'), 300_000)
  t.equal(parseDurationMs('1h'), 3_600_000)
  t.equal(parseDurationMs('2d'), 172_800_000)
  t.equal(parseDurationMs('0s'), 0)
})

t.test('a duration with several units adds them up', async (t) => {
  t.equal(parseDurationMs('1h30m'), 5_400_000)
  t.equal(parseDurationMs('1m30s500ms'), 90_500)
  t.equal(parseDurationMs('1d1h1m1s1ms'), 90_061_001)
})

t.test('a fractional duration is rounded to whole milliseconds', async (t) => {
  t.equal(parseDurationMs('1.5s'), 1500)
  t.equal(parseDurationMs('0.25h'), 900_000)
  t.equal(parseDurationMs('1.4ms'), 1)
})

t.test('surrounding whitespace around a duration is ignored', async (t) => {
  t.equal(parseDurationMs('  30s\n'), 30_000)
})

t.test('a bare number is a duration in milliseconds', async (t) => {
  t.equal(parseDurationMs(1500), 1500)
  t.equal(parseDurationMs(0), 0)
})

t.test('unreadable durations are undefined', async (t) => {
  for (const value of ['', '30', '30 s', '5 m', '5min', '1H', 'm', '-5s', '1e3ms', 's30', '5m 30s', -1, Infinity, NaN, true, null, undefined, {}, ['5m']]) {
    t.equal(parseDurationMs(value), undefined, JSON.stringify(value) ?? String(value))
  }
})

t.test('a size with a decimal unit uses powers of ten', async (t) => {
  t.equal(parseSizeBytes('10k'), 10_000)
  t.equal(parseSizeBytes('10KB'), 10_000)
  t.equal(parseSizeBytes('500MB'), 500_000_000)
  t.equal(parseSizeBytes('2G'), 2_000_000_000)
  t.equal(parseSizeBytes('1.5T'), 1_500_000_000_000)
})

t.test('a size with a binary unit uses powers of two', async (t) => {
  t.equal(parseSizeBytes('1Ki'), 1024)
  t.equal(parseSizeBytes('1KiB'), 1024)
  t.equal(parseSizeBytes('500MiB'), 500 * 2 ** 20)
  t.equal(parseSizeBytes('50GiB'), 50 * 2 ** 30)
  t.equal(parseSizeBytes('2TiB'), 2 * 2 ** 40)
})

t.test('size units are case-insensitive and may follow a space', async (t) => {
  t.equal(parseSizeBytes('50 gib'), 50 * 2 ** 30)
  t.equal(parseSizeBytes(' 10 mb '), 10_000_000)
})

t.test('a size without a unit, or with B, is in bytes', async (t) => {
  t.equal(parseSizeBytes('4096'), 4096)
  t.equal(parseSizeBytes('4096B'), 4096)
  t.equal(parseSizeBytes(4096), 4096)
})

t.test('fractional sizes are rounded down to whole bytes', async (t) => {
  t.equal(parseSizeBytes('1.5KiB'), 1536)
  t.equal(parseSizeBytes('0.001k'), 1)
  t.equal(parseSizeBytes('1.9'), 1)
  t.equal(parseSizeBytes(10.7), 10)
})

t.test('unreadable sizes are undefined', async (t) => {
  for (const value of ['', 'GiB', '10XB', '10 G iB', '-1', '-1GiB', '1e3', 'ten', -1, Infinity, NaN, true, null, undefined, {}]) {
    t.equal(parseSizeBytes(value), undefined, JSON.stringify(value) ?? String(value))
  }
})

t.test('formatBytes prints bytes below 1 KiB as a whole number', async (t) => {
  t.equal(formatBytes(0), '0 B')
  t.equal(formatBytes(1023), '1023 B')
})

t.test('formatBytes prints larger sizes in binary units with one decimal', async (t) => {
  t.equal(formatBytes(1024), '1.0 KiB')
  t.equal(formatBytes(1536), '1.5 KiB')
  t.equal(formatBytes(500 * 2 ** 20), '500.0 MiB')
  t.equal(formatBytes(50 * 2 ** 30), '50.0 GiB')
  t.equal(formatBytes(3 * 2 ** 40), '3.0 TiB')
})

t.test('formatBytes stops at TiB', async (t) => {
  t.equal(formatBytes(2048 * 2 ** 40), '2048.0 TiB')
})
