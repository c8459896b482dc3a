#!/usr/bin/env node
// Entry point: runs the command line and turns configuration errors into one clear line and exit code 2.
import { main } from './cli.js'
import { ConfigError } from './config/config-error.js'

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`dockside: ${(err as Error).message}\n`)
      process.exit(2)
    }
    process.stderr.write(`dockside: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
