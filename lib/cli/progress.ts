/**
 * Progress display for the CLI and the quickstart: redrawn in place on a
 * TTY; otherwise silent for free text (the caller prints a summary line) and
 * a plain line per 10 % for counted work, so logs stay readable.
 */

const BAR_WIDTH = 30

/** @internal */
export class Progress {
  readonly #stream: NodeJS.WriteStream
  readonly #enabled: boolean
  // When the line was last redrawn; redraws are at most every 100 ms.
  #last = 0
  // The last tenth reported on a non-TTY stream by advance(); -1 before any.
  #tenth = -1
  // Whether the TTY line holds something that done() must end.
  #drawn = false

  constructor (stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream
    this.#enabled = stream.isTTY === true
  }

  /** Redraws the line, at most every 100 ms; nothing off a TTY. */
  update (text: string): void {
    if (!this.#enabled) return
    const now = Date.now()
    if (now - this.#last < 100) return
    this.#last = now
    this.#draw(text)
  }

  /**
   * Reports `done` of `total`: a bar on a TTY, otherwise one plain line each
   * time another 10 % is reached (the highest one reached, when several are).
   */
  advance (done: number, total: number, unit: string): void {
    const fraction = total <= 0 ? 1 : Math.min(1, done / total)
    const percent = Math.floor(fraction * 100)
    const counts = `${percent}% (${done}/${total} ${unit})`
    if (this.#enabled) {
      const filled = Math.round(fraction * BAR_WIDTH)
      const now = Date.now()
      if (now - this.#last < 100 && fraction < 1) return
      this.#last = now
      this.#draw(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${counts}`)
      return
    }
    const tenth = Math.floor(fraction * 10)
    if (tenth <= this.#tenth) return
    this.#tenth = tenth
    this.#stream.write(`${counts}\n`)
  }

  /** Ends the display: a finished bar stays on its line, free text is cleared. */
  done (keep = false): void {
    if (!this.#enabled || !this.#drawn) return
    this.#stream.write(keep ? '\n' : '\r\x1b[K')
    this.#drawn = false
  }

  #draw (text: string): void {
    this.#stream.write(`\r\x1b[K${text}`)
    this.#drawn = true
  }
}
