// The error a call throws, of the type a test expects (anything else, or nothing, fails the test).
import { ConfigError } from '../../src/config/config-error.js'
import { OciError } from '../../src/oci/errors.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function thrown<T extends Error>(type: new (...args: any[]) => T, fn: () => unknown): T {
  try {
    fn()
  } catch (err) {
    if (err instanceof type) return err
    throw err
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`)
}

export const ociError = (fn: () => unknown): OciError => thrown(OciError, fn)
export const configError = (fn: () => unknown): ConfigError => thrown(ConfigError, fn)
