/**
 * The spool's single-writer lock: a file holding the owner's pid, created
 * exclusively. A lock whose pid no longer runs is stale (its owner was
 * killed) and is taken over. A pid reused by an unrelated process since
 * then is taken for the owner: the second store is refused, never the data
 * shared.
 */
import { randomUUID } from 'node:crypto'
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidOptionError } from '../errors.js'

/** The lock's file name in the spool directory. @internal */
export const LOCK_FILE = 'lock'

/**
 * Takes the lock on `dir` for this process.
 * @returns a function that releases it
 * @throws {@link InvalidOptionError} (option `spool.dir`) naming the pid that holds it
 * @internal
 */
export function acquireLock (dir: string): () => void {
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number
    try {
      fd = openSync(path, 'wx')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = lockOwner(path)
      if (owner !== undefined && isRunning(owner)) {
        throw new InvalidOptionError('spool.dir', `a directory no other store uses (locked by pid ${owner})`, dir)
      }
      // Stale, or half-written by an owner killed between create and write: take it over.
      try {
        unlinkSync(path)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      }
      continue
    }
    // The token tells this lock from a later one of the same process (another store, after a crash was simulated).
    const content = `${process.pid} ${randomUUID()}\n`
    try {
      writeSync(fd, content)
    } finally {
      closeSync(fd)
    }
    let released = false
    return () => {
      if (released) return
      released = true
      try {
        if (readFileSync(path, 'utf8') === content) unlinkSync(path)
      } catch {
        // already gone
      }
    }
  }
  throw new InvalidOptionError('spool.dir', 'a directory whose lock can be taken', dir)
}

/**
 * The pid in a lock file, if it has one.
 * @internal
 */
export function lockOwner (path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
