// External clients the end-to-end tests drive. In CI a missing one fails the run; elsewhere the test says
// what to install and is reported as not run (never as passed).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Test } from 'tap'

export async function requireTool(t: Test, command: string, install: string): Promise<boolean> {
  try {
    await promisify(execFile)(command, ['--version'])
    return true
  } catch {
    if (process.env.CI) {
      t.fail(`${command} is not installed (CI must install it: ${install})`)
    } else {
      t.comment(`NOT RUN: ${command} is not installed; install it with: ${install}`)
      t.skip(`${command} missing`, () => {})
    }
    return false
  }
}
