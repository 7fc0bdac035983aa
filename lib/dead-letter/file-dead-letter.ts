/**
 * A dead letter that appends JSONL to local files, one per process and day.
 */
import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import { DeadLetterError, InvalidOptionError } from '../errors.js'
import type { DeadLetter, DeadLetterEntry } from './dead-letter.js'

/**
 * Options of {@link FileDeadLetter}.
 *
 * @example
 * ```ts
 * new FileDeadLetter({ dir: '/var/lib/my-service/audit-dead-letter' })
 * ```
 */
export interface FileDeadLetterOptions {
  /** The directory for the files; created when missing. Required. */
  readonly dir: string
}

/**
 * The file name prefix every dead-letter file starts with.
 *
 * @example
 * ```ts
 * const files = (await readdir(dir)).filter((f) => f.startsWith(DEAD_LETTER_FILE_PREFIX))
 * ```
 */
export const DEAD_LETTER_FILE_PREFIX = 'audit-dead-letter-'

/**
 * Appends each entry as one JSON line, fsync'd before `write` resolves, to
 * `<dir>/audit-dead-letter-<YYYY-MM-DD>-<pid>.jsonl` (UTC day). Entries are
 * written one at a time, so lines never interleave.
 *
 * @example
 * ```ts
 * const store = createAuditStore({ sink, deadLetter: new FileDeadLetter({ dir: '/var/lib/app/audit-dlq' }) })
 * ```
 */
export class FileDeadLetter implements DeadLetter {
  /** The directory the files are written to. */
  readonly dir: string
  // Serializes appends: each write starts after the previous one settled.
  #tail: Promise<void> = Promise.resolve()
  #dirReady = false

  /**
   * @param options - `dir`, the target directory
   * @throws {@link InvalidOptionError} when `dir` is not a non-empty string
   */
  constructor (options: FileDeadLetterOptions) {
    const dir = (options as Partial<FileDeadLetterOptions> | undefined)?.dir
    if (typeof dir !== 'string' || dir === '') throw new InvalidOptionError('dir', 'a non-empty string', dir)
    this.dir = dir
  }

  /**
   * The file that entries written now go to.
   * @returns an absolute or `dir`-relative path
   */
  currentFile (): string {
    const day = new Date().toISOString().slice(0, 10)
    return join(this.dir, `${DEAD_LETTER_FILE_PREFIX}${day}-${process.pid}.jsonl`)
  }

  /**
   * Appends one entry and fsyncs it.
   * @param entry - the entry
   * @returns resolves once the line is on disk
   * @throws {@link DeadLetterError} (as a rejection) when the file cannot be written
   */
  write (entry: DeadLetterEntry): Promise<void> {
    const line = JSON.stringify(entry) + '\n'
    const result = this.#tail.then(() => this.#append(line))
    this.#tail = result.catch(() => {})
    return result
  }

  async #append (line: string): Promise<void> {
    const file = this.currentFile()
    try {
      if (!this.#dirReady) {
        await mkdir(this.dir, { recursive: true })
        this.#dirReady = true
      }
      const handle = await open(file, 'a')
      try {
        await handle.appendFile(line)
        await handle.datasync()
      } finally {
        await handle.close()
      }
    } catch (err) {
      this.#dirReady = false
      throw new DeadLetterError(`could not append to dead-letter file ${file}`, { cause: err })
    }
  }
}
