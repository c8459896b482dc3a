// Reads one YAML mapping key by key, so that every error names its key and value and unknown keys are refused.
import { ConfigError } from './config-error.js'
import { parseDurationMs, parseSizeBytes } from './units.js'

export class ConfigReader {
  private readonly seen = new Set<string>()
  private readonly values: Record<string, unknown>

  constructor(
    private readonly source: string,
    value: unknown,
    private readonly prefix = '',
  ) {
    if (value === undefined || value === null) value = {}
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ConfigError(source, prefix.replace(/\.$/, '') || '(top level)', value, 'a mapping')
    }
    this.values = value as Record<string, unknown>
  }

  private take(key: string): unknown {
    this.seen.add(key)
    return this.values[key]
  }

  private fail(key: string, value: unknown, expected: string): never {
    throw new ConfigError(this.source, this.prefix + key, value, expected)
  }

  has(key: string): boolean {
    return this.values[key] !== undefined && this.values[key] !== null
  }

  string(key: string, fallback: string): string
  string(key: string, fallback?: undefined): string | undefined
  string(key: string, fallback?: string): string | undefined {
    const value = this.take(key)
    if (value === undefined || value === null) return fallback
    if (typeof value !== 'string' || value === '') this.fail(key, value, 'a non-empty string')
    return value
  }

  stringList(key: string): string[] {
    const value = this.take(key)
    if (value === undefined || value === null) return []
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
      this.fail(key, value, 'a list of strings')
    }
    return value as string[]
  }

  int(key: string, fallback: number, range: { min: number; max: number }): number {
    const value = this.take(key)
    if (value === undefined || value === null) return fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
      this.fail(key, value, `a whole number from ${range.min} to ${range.max}`)
    }
    return value
  }

  /** A duration; `minMs` refuses values that would disable a timeout or spin a timer (0 for a timeout, say). */
  durationMs(key: string, fallback: number, minMs?: number): number
  durationMs(key: string, fallback?: undefined, minMs?: number): number | undefined
  durationMs(key: string, fallback?: number, minMs = 0): number | undefined {
    const value = this.take(key)
    if (value === undefined || value === null) return fallback
    const ms = parseDurationMs(value)
    if (ms === undefined) this.fail(key, value, 'a duration such as "250ms", "30s", "5m" or "1h" (a bare number is milliseconds)')
    if (ms < minMs) this.fail(key, value, `a duration of at least ${minMs} ms`)
    return ms
  }

  sizeBytes(key: string, fallback: number): number {
    const value = this.take(key)
    if (value === undefined || value === null) return fallback
    const bytes = parseSizeBytes(value)
    if (bytes === undefined) this.fail(key, value, 'a size such as "500MiB" or "50GiB"')
    return bytes
  }

  /** A fraction from 0 to 1, written as 0.9 or "90%". */
  fraction(key: string, fallback: number): number {
    const value = this.take(key)
    if (value === undefined || value === null) return fallback
    const number = typeof value === 'number' ? value : typeof value === 'string' && /^\d+(\.\d+)?%$/.test(value.trim()) ? Number(value.trim().slice(0, -1)) / 100 : NaN
    if (!(number > 0 && number <= 1)) this.fail(key, value, 'a fraction above 0 and at most 1, such as 0.9 or "90%"')
    return number
  }

  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.take(key)
    if (value === undefined || value === null) return fallback
    if (typeof value !== 'string' || !allowed.includes(value as T)) this.fail(key, value, `one of ${allowed.join(', ')}`)
    return value as T
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.take(key)
    if (value === undefined || value === null) return fallback
    if (typeof value !== 'boolean') this.fail(key, value, 'true or false')
    return value
  }

  child(key: string): ConfigReader {
    return new ConfigReader(this.source, this.take(key), `${this.prefix}${key}.`)
  }

  /** Refuses keys nobody asked for: a misspelt option must not be silently ignored. */
  finish(): void {
    for (const key of Object.keys(this.values)) {
      if (!this.seen.has(key)) this.fail(key, this.values[key], `a known key (no option "${this.prefix}${key}" exists)`)
    }
  }
}
