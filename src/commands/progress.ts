// A one-line progress bar on stderr, redrawn in place on a terminal and silent elsewhere (logs, CI).
import { formatBytes } from '../config/units.js'

export class Progress {
  private lastDrawMs = 0
  private readonly tty: boolean

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit: 'bytes' | 'items',
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = out.isTTY === true
  }

  update(done: number, force = false): void {
    const now = Date.now()
    if (!this.tty || (!force && now - this.lastDrawMs < 100)) return
    this.lastDrawMs = now
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1
    const width = 30
    const filled = Math.round(fraction * width)
    const amount = this.unit === 'bytes' ? `${formatBytes(done)} / ${formatBytes(this.total)}` : `${done} / ${this.total}`
    this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${amount}`)
  }

  finish(done: number): void {
    this.update(done, true)
    if (this.tty) this.out.write('\n')
  }
}
