/** A configuration problem, always naming the key (as a dotted path) and the offending value. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly key: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${source}: ${key}: ${JSON.stringify(value)} is not valid (expected ${expected})`)
    this.name = 'ConfigError'
  }
}
