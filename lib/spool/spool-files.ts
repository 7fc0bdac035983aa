/**
 * The spool's file layer: every file operation the spool's writer makes,
 * behind one interface, so that tests can inject disk errors (ENOSPC, EIO)
 * or stop the world right after any step. Production uses {@link nodeSpoolFiles}.
 */
import { promises as fsp } from 'node:fs'

/** An open file. @internal */
export interface SpoolFile {
  /** Writes every buffer, in order, at the end of the file; loops over short writes. */
  writev (buffers: readonly Buffer[]): Promise<void>
  /** fdatasync(2). */
  datasync (): Promise<void>
  /** fsync(2). */
  sync (): Promise<void>
  close (): Promise<void>
}

/**
 * The operations the spool's writer needs. Each one is a step named in the
 * order of operations at the top of lib/spool/spool.ts.
 * @internal
 */
export interface SpoolFiles {
  /** Creates a new file that must not exist yet (O_CREAT | O_EXCL), for appending. */
  create (path: string): Promise<SpoolFile>
  /** Writes `data` to a file made anew (whatever was at `path` is removed first), fsyncs it and closes it. */
  writeSynced (path: string, data: Buffer): Promise<void>
  rename (from: string, to: string): Promise<void>
  unlink (path: string): Promise<void>
  /** fsync(2) of a directory, so that creations, renames and unlinks in it are durable. */
  syncDir (dir: string): Promise<void>
}

class NodeSpoolFile implements SpoolFile {
  readonly #handle: fsp.FileHandle
  constructor (handle: fsp.FileHandle) {
    this.#handle = handle
  }

  async writev (buffers: readonly Buffer[]): Promise<void> {
    const rest = buffers.filter((b) => b.length > 0)
    while (rest.length > 0) {
      const { bytesWritten } = await this.#handle.writev(rest)
      let n = bytesWritten
      // A short write: drop what went through and write the rest again.
      while (rest.length > 0 && n >= rest[0]!.length) n -= rest.shift()!.length
      if (n > 0) rest[0] = rest[0]!.subarray(n)
    }
  }

  datasync (): Promise<void> {
    return this.#handle.datasync()
  }

  sync (): Promise<void> {
    return this.#handle.sync()
  }

  close (): Promise<void> {
    return this.#handle.close()
  }
}

/**
 * The real file layer, over node:fs.
 * @internal
 */
export const nodeSpoolFiles: SpoolFiles = Object.freeze({
  async create (path: string): Promise<SpoolFile> {
    return new NodeSpoolFile(await fsp.open(path, 'ax'))
  },
  async writeSynced (path: string, data: Buffer): Promise<void> {
    // Removed and created anew (O_EXCL), never opened through whatever stands at the path: a
    // symlink left there is not followed.
    await fsp.unlink(path).catch(ignoreMissing)
    const handle = await fsp.open(path, 'wx')
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
  },
  rename: (from: string, to: string) => fsp.rename(from, to),
  unlink: (path: string) => fsp.unlink(path),
  async syncDir (dir: string): Promise<void> {
    const handle = await fsp.open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
})

/**
 * For `.catch()` after an unlink of a file that may not exist: a missing
 * file is fine, any other error is thrown again.
 * @internal
 */
export function ignoreMissing (err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err
}

/**
 * The test seam: a store created with `{ ...options, [kSpoolFiles]: files }`
 * uses `files` as its spool's file layer. Not exported from the package.
 * @internal
 */
export const kSpoolFiles = Symbol('audit-stream.spoolFiles')
