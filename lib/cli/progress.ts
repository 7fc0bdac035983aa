/**
 * A one-line progress display for the CLI: redrawn in place on a TTY,
 * silent otherwise (the caller prints a summary line instead).
 */

/** @internal */
export class Progress {
  readonly #stream: NodeJS.WriteStream
  readonly #enabled: boolean
  #last = 0

  constructor (stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream
    this.#enabled = stream.isTTY === true
  }

  /** Redraws the line, at most every 100 ms. */
  update (text: string): void {
    if (!this.#enabled) return
    const now = Date.now()
    if (now - this.#last < 100) return
    this.#last = now
    this.#stream.write(`\r\x1b[K${text}`)
  }

  /** Clears the line. */
  done (): void {
    if (this.#enabled) this.#stream.write('\r\x1b[K')
  }
}
