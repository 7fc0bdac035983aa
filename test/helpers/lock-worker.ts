/** A worker thread that tries the lock its parent names and says whether it got it. */
import { parentPort, workerData } from 'node:worker_threads'
import { acquireLock } from '../../lib/files/dir-lock.js'

const { dir } = workerData as { dir: string }
try {
  const release = acquireLock(dir, 'lock', () => new Error('held'))
  parentPort!.postMessage({ got: true })
  parentPort!.once('message', () => { release(); parentPort!.postMessage({ released: true }) })
} catch (err) {
  parentPort!.postMessage({ got: false, message: (err as Error).message })
}
