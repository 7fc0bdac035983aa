/**
 * A child that races for a directory lock when its parent says: waits until
 * the given moment, tries acquireLock, reports whether it got the lock, and
 * holds it until the next message.
 */
import { acquireLock } from '../../lib/files/dir-lock.js'

let release: (() => void) | undefined
process.on('message', (m: { dir?: string, at?: number, exit?: boolean }) => {
  release?.()
  release = undefined
  if (m.exit === true || m.dir === undefined) process.exit(0)
  while (Date.now() < (m.at ?? 0)) { /* spin to the start line, so that the racers collide */ }
  let got = false
  try {
    release = acquireLock(m.dir, 'lock', () => new Error('held'))
    got = true
  } catch {
    got = false
  }
  process.send!({ got })
})
process.send!({ ready: true })
