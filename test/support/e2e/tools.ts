// The programs an end-to-end file needs, checked up front with the shared requireTool (in CI a missing one
// fails; elsewhere the file says what to install and is reported as not run).
import type { Test } from 'tap'
import { requireTool } from '../tools.js'

const install = 'apt-get install -y skopeo containerd docker-registry'

export async function requireTools(t: Test, commands: string[]): Promise<boolean> {
  let all = true
  for (const command of commands) {
    if (!(await requireTool(t, command, install))) all = false
  }
  return all
}

/** containerd mounts snapshots and changes file owners: it needs root. */
export function requireRoot(t: Test, why: string): boolean {
  if (process.getuid?.() === 0) return true
  if (process.env.CI) {
    t.fail(`${why} needs root (CI runs as root)`)
  } else {
    t.comment(`NOT RUN: ${why} needs root`)
    t.skip(`${why}: not root`, () => {})
  }
  return false
}
