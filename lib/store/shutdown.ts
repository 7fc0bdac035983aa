/**
 * Graceful shutdown for services: on a signal, deliver what the stores hold,
 * then exit with a code that says whether anything was lost.
 */
import { AuditStore } from './store.js'
import { defaultLogger } from '../logger.js'
import { InvalidOptionError } from '../errors.js'
import { resolveShutdownOptions, type ShutdownOptions } from '../options/shutdown.js'

// Past the close timeout, a dead letter that never answers must not keep a dying process up.
const HARD_EXIT_GRACE_MS = 5_000

/**
 * Installs signal and `beforeExit` handlers for one or more stores.
 *
 * - On the first signal it closes every store (readiness fails at once, as
 *   `store.health()` is never ready once close has begun, so that a load
 *   balancer probing {@link readinessHandler} stops sending traffic; then flush, then finish) within
 *   `timeoutMs`, then exits with 0, or 1 when anything was dropped, lost or
 *   timed out (unsent events are then in the dead letter).
 * - A second signal exits at once with 1, logging what was still pending.
 * - On `beforeExit` (the event loop ran dry) it flushes stores that still
 *   hold events, so a script that forgot to flush still delivers.
 *
 * @param stores - a store or a list of stores
 * @param options - see {@link ShutdownOptions}
 * @returns a function that removes the handlers
 * @throws {@link InvalidOptionError} for a bad option or something that is not a store
 * @example
 * ```ts
 * const store = createAuditStore({ sink })
 * installShutdownHandler(store, { timeoutMs: 10_000 })
 * ```
 */
export function installShutdownHandler (stores: AuditStore | readonly AuditStore[], options: ShutdownOptions = {}): () => void {
  const list = Array.isArray(stores) ? [...stores as readonly AuditStore[]] : [stores as AuditStore]
  if (list.length === 0 || !list.every((s) => s instanceof AuditStore)) throw new InvalidOptionError('stores', 'an AuditStore or a non-empty array of them', stores)
  const o = resolveShutdownOptions(options)
  const log = (o.logger ?? defaultLogger()).child({ component: 'shutdown' })
  let shuttingDown = false

  const finish = (code: number): void => {
    if (o.exit) process.exit(code)
    else process.exitCode = code
  }

  const onSignal = (signal: NodeJS.Signals): void => {
    const pending = list.reduce((sum, s) => sum + s.stats().pending, 0)
    if (shuttingDown) {
      log.error({ signal, pending }, 'second signal: exiting without waiting')
      finish(1)
      return
    }
    shuttingDown = true
    log.info({ signal, stores: list.length, pending, timeoutMs: o.timeoutMs }, 'shutdown started')
    if (o.exit) setTimeout(() => {
      log.error({ pending: list.reduce((sum, s) => sum + s.stats().pending, 0) }, 'shutdown did not finish: exiting')
      process.exit(1)
    }, o.timeoutMs + HARD_EXIT_GRACE_MS).unref()
    void Promise.allSettled(list.map((s) => s.close({ timeoutMs: o.timeoutMs }))).then((results) => {
      const failed = results.filter((r) => r.status === 'rejected')
      for (const r of failed) log.error({ err: (r as PromiseRejectedResult).reason as unknown }, 'store closed with losses')
      const stats = list.map((s) => s.stats())
      const written = stats.reduce((sum, s) => sum + s.written, 0)
      const deadLettered = stats.reduce((sum, s) => sum + s.deadLettered, 0)
      const lost = stats.reduce((sum, s) => sum + s.lost + s.dropped, 0)
      log.info({ written, deadLettered, lost, failed: failed.length }, 'shutdown finished')
      finish(failed.length === 0 ? 0 : 1)
    })
  }

  const onBeforeExit = (): void => {
    if (shuttingDown) return
    for (const store of list) {
      // Only a store that still holds events: flushing keeps the loop alive, and beforeExit comes again after.
      if (store.writableEnded || store.stats().pending === 0) continue
      store.flush().catch((err: unknown) => log.error({ err }, 'flush at exit incomplete'))
    }
  }

  for (const signal of o.signals) process.on(signal, onSignal)
  process.on('beforeExit', onBeforeExit)
  return () => {
    for (const signal of o.signals) process.off(signal, onSignal)
    process.off('beforeExit', onBeforeExit)
  }
}
