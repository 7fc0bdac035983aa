/**
 * A directory's single-owner lock: a file holding the owner's pid, the
 * process's start time and a random token. The spool and the reference
 * server's PGlite directory each take one.
 *
 * # Order of operations
 *
 * Taking it:
 *   L1. write the content to `<name>.<token>.tmp` (created exclusively).
 *   L2. hard-link it to `<name>`. link() fails when the name exists, so a
 *       lock is never seen half-written, and of several processes only one
 *       creates it.
 *   L3. when it exists, judge the holder: alive when its pid runs and, where
 *       /proc tells, started when the lock says. Our own pid counts only
 *       when this process holds that very lock (a container restarted after
 *       a crash runs as pid 1 again). Alive: refused.
 *   L4. stale: hard-link the temp file to `<name>.takeover`. Whoever gets it
 *       reads `<name>` again and unlinks it only if it is still the stale
 *       lock it judged, then drops `<name>.takeover` and goes back to L2. Of
 *       several processes that found one stale lock, one replaces it; one
 *       that finds a live lock in its place is refused. A takeover file
 *       older than TAKEOVER_STALE_MS was left by a taker that died between
 *       two system calls: it is renamed aside and removed if it is still the
 *       file judged old (a fresh one moved by mistake is put back). What is
 *       left is a window of a few system calls in which two takers breaking
 *       one abandoned takeover file at the same moment could both proceed.
 *   L5. unlink the temp file.
 * Releasing: unlink `<name>` if it still holds our content.
 *
 * A lock is only ever read as a regular file, its first 4 KiB: a symlink, a
 * FIFO or a directory in its place is an error, never followed or waited on.
 * Locks of this process are told apart by thread: a worker's lock is live to
 * the main thread, and the reverse.
 */
import { randomUUID } from 'node:crypto'
import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { threadId } from 'node:worker_threads'

// Tokens of the locks this thread holds, shared by every copy of this module the thread loaded:
// a lock with our pid and thread and another token is stale.
const held: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('audit-stream.dir-lock.held')] ??= new Set<string>()) as Set<string>

// A lock file is a line of text: more than this is not one of ours.
const MAX_LOCK_BYTES = 4096

/** How old a takeover file must be to count as left by a dead taker. @internal */
export const TAKEOVER_STALE_MS = 10_000

/** A lock's holder, as its file says. @internal */
export interface LockHolder {
  readonly pid: number
  readonly token: string | undefined
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat), when known. */
  readonly startTime: string | undefined
  /** The holder's worker thread id (0: the main thread). */
  readonly threadId: number
}

/**
 * Takes the lock `name` in `dir` for this process.
 * @param refuse - makes the error thrown when a live process holds it
 * @returns a function that releases it (idempotent)
 * @throws what `refuse` returns, or the file system's error (EISDIR, EACCES, ...)
 * @internal
 */
export function acquireLock (dir: string, name: string, refuse: (holder: LockHolder | undefined) => Error): () => void {
  const path = join(dir, name)
  const token = randomUUID()
  const content = `${process.pid} ${token} ${startTimeOf(process.pid) ?? '-'} ${threadId}\n`
  const temp = join(dir, `${name}.${token}.tmp`)
  writeFileSync(temp, content, { flag: 'wx' }) // L1
  try {
    // Bounded: each turn either takes the lock, is refused, or saw it change hands.
    for (let turn = 0; turn < 200; turn++) {
      if (tryLink(temp, path)) { // L2
        held.add(token)
        return releaser(path, content, token)
      }
      const raw = readLock(path)
      if (raw === undefined) continue // released meanwhile
      const holder = parseLock(raw)
      if (holder !== undefined && isAlive(holder)) throw refuse(holder) // L3
      const takeover = `${path}.takeover`
      if (!tryLink(temp, takeover)) { // L4
        if (!breakStaleTakeover(takeover, token)) sleepSync(2)
        continue
      }
      try {
        if (readLock(path) === raw) unlinkQuiet(path)
      } finally {
        // Ours only: the one we linked, not one another taker made after a break.
        if (sameFile(takeover, temp)) unlinkQuiet(takeover)
      }
    }
    throw refuse(undefined)
  } finally {
    unlinkQuiet(temp) // L5
  }
}

/**
 * The holder named in a lock file, if it names one.
 * @internal
 */
export function lockHolder (path: string): LockHolder | undefined {
  try {
    const raw = readLock(path)
    return raw === undefined ? undefined : parseLock(raw)
  } catch {
    return undefined
  }
}

/**
 * Whether the holder of a lock still runs (see L3).
 * @internal
 */
export function isAlive (holder: LockHolder): boolean {
  if (holder.pid === process.pid) {
    // An earlier process that had our pid (pid 1 in a restarted container).
    const ours = startTimeOf(process.pid)
    if (holder.startTime !== undefined && ours !== undefined && holder.startTime !== ours) return false
    // This process: this thread knows what it holds; another thread's lock is taken to be live.
    if (holder.threadId !== threadId) return true
    return holder.token !== undefined && held.has(holder.token)
  }
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    // EPERM: it runs, as another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // A pid reused since: the process running under it started at another time.
  if (holder.startTime === undefined) return true
  const now = startTimeOf(holder.pid)
  return now === undefined || now === holder.startTime
}

function releaser (path: string, content: string, token: string): () => void {
  let released = false
  return () => {
    if (released) return
    released = true
    held.delete(token)
    try {
      if (readLock(path) === content) unlinkSync(path)
    } catch {
      // already gone
    }
  }
}

function parseLock (raw: string): LockHolder | undefined {
  const [pidText, token, start, thread] = raw.trim().split(/\s+/)
  const pid = Number(pidText)
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  const threadNumber = Number(thread ?? 0)
  return { pid, token, startTime: start === undefined || start === '-' ? undefined : start, threadId: Number.isSafeInteger(threadNumber) ? threadNumber : 0 }
}

// The lock's text; undefined when there is none. Only a regular file of the directory is read, and
// only its first bytes: a symlink (ELOOP), a FIFO (which would block) or anything else is refused.
function readLock (path: string): string | undefined {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) {
      const code = stat.isDirectory() ? 'EISDIR' : 'EINVAL'
      throw Object.assign(new Error(`${code}: ${path} is not a regular file, so not a lock`), { code })
    }
    const buffer = Buffer.alloc(MAX_LOCK_BYTES)
    return buffer.toString('latin1', 0, readSync(fd, buffer, 0, MAX_LOCK_BYTES, 0))
  } finally {
    closeSync(fd)
  }
}

// A takeover file older than TAKEOVER_STALE_MS (or dated in the future: a clock set back) was left
// by a taker that died. It is moved aside under our own name first and removed only if it is still
// the file judged old: of two takers breaking it at once, neither removes a fresh one.
// @returns whether one was broken
function breakStaleTakeover (takeover: string, token: string): boolean {
  let judged: { ino: number, mtimeMs: number }
  try {
    judged = lstatSync(takeover)
  } catch {
    return true // gone meanwhile: try again at once
  }
  if (Math.abs(Date.now() - judged.mtimeMs) <= TAKEOVER_STALE_MS) return false
  const aside = `${takeover}.${token}.stale`
  try {
    renameSync(takeover, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw err
  }
  const moved = lstatSync(aside)
  if (moved.ino === judged.ino && moved.mtimeMs === judged.mtimeMs) {
    unlinkQuiet(aside)
    return true
  }
  // A fresh one, made after ours was judged: put it back.
  tryLink(aside, takeover)
  unlinkQuiet(aside)
  return false
}

function sameFile (a: string, b: string): boolean {
  try {
    const x = lstatSync(a)
    const y = lstatSync(b)
    return x.ino === y.ino && x.dev === y.dev
  } catch {
    return false
  }
}

function tryLink (from: string, to: string): boolean {
  try {
    linkSync(from, to)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

function unlinkQuiet (path: string): void {
  try {
    unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

function sleepSync (ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

// Field 22 of /proc/<pid>/stat, after the command name (which may hold spaces and parentheses).
function startTimeOf (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}
