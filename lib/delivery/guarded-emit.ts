/**
 * The guard every event of a store or a sink goes through: each listener is
 * called on its own, so one that throws neither reaches the emitter's caller
 * nor keeps the listeners after it (the store's own, or a pipe's 'drain')
 * from running.
 */
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'

/**
 * Emits `event` to each listener in turn; a listener that throws is logged at
 * error level with the event's name and the next one still runs. `'error'`
 * goes through the emitter's own `emit` (no listener: it throws, as for any
 * emitter), with the same guard around it.
 *
 * @param emitter - the store or sink
 * @param superEmit - the emitter's inherited `emit`
 * @param log - where a listener's exception is logged
 * @internal
 */
export function guardedEmit (emitter: EventEmitter, superEmit: (event: string | symbol, ...args: unknown[]) => boolean, log: () => Logger, event: string | symbol, args: unknown[]): boolean {
  if (event === 'error') {
    try {
      return superEmit.call(emitter, event, ...args)
    } catch (err) {
      if (emitter.listenerCount('error') === 0) throw err
      log().error({ event: 'error', err }, 'listener threw')
      return true
    }
  }
  const listeners = emitter.rawListeners(event) as Array<(...a: unknown[]) => unknown>
  if (listeners.length === 0) return false
  for (const listener of listeners) {
    try {
      // A once() wrapper removes itself when called, as emit would have it.
      Reflect.apply(listener, emitter, args)
    } catch (err) {
      log().error({ event: String(event), err }, 'listener threw')
    }
  }
  return true
}
