/**
 * Bounding a wait (not the work behind it) by a timeout and an AbortSignal.
 */
import { AbortError, TimeoutError } from '../errors.js'

/**
 * Resolves or rejects like `promise`, unless `timeoutMs` passes first
 * ({@link TimeoutError}) or `signal` aborts ({@link AbortError} with the
 * signal's reason as `cause`). The work behind `promise` goes on either way.
 * The timer is unref'd and the abort listener removed when done.
 * @internal
 */
export function withDeadline<T> (promise: Promise<T>, what: string, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<T> {
  if (timeoutMs === undefined && signal === undefined) return promise
  if (signal?.aborted === true) return Promise.reject(new AbortError(`${what} aborted`, { cause: signal.reason }))
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const onAbort = (): void => {
      cleanup()
      reject(new AbortError(`${what} aborted`, { cause: signal?.reason }))
    }
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        cleanup()
        reject(new TimeoutError(`${what} did not settle within ${timeoutMs} ms; its events are still in flight`))
      }, timeoutMs)
      timer.unref()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    promise.then((value) => { cleanup(); resolve(value) }, (err: unknown) => { cleanup(); reject(err as Error) })
  })
}
