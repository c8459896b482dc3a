// Runs the built command line (dist/main.js) as a user would, capturing its output and exit code.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const mainJs = fileURLToPath(new URL('../../dist/main.js', import.meta.url))

export function dockside(args: string[], env: NodeJS.ProcessEnv = {}) {
  if (!existsSync(mainJs)) throw new Error('dist/main.js is missing: npm test builds it first (npm run build)')
  const child = spawn(process.execPath, [mainJs, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }))
  return { child, exited, output: () => stdout }
}
