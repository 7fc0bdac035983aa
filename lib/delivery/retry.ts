/**
 * Backoff arithmetic and an abortable sleep for the sink's retry loop.
 */
import type { ResolvedRetryOptions } from '../options/retry.js'

/**
 * The wait before the next attempt: exponential in the failed attempts, with
 * jitter, capped at `maxDelayMs`. A server's `Retry-After` wins over the
 * computed wait, also capped at `maxDelayMs`.
 *
 * @internal
 * @param policy - the retry policy
 * @param failedAttempts - attempts made so far, >= 1
 * @param retryAfterMs - the server's requested wait, if any
 * @param random - a source of numbers in [0, 1)
 */
export function backoffDelay (policy: ResolvedRetryOptions, failedAttempts: number, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, policy.maxDelayMs)
  const exponential = policy.baseDelayMs * policy.multiplier ** (failedAttempts - 1)
  const spread = 1 + policy.jitter * (2 * random() - 1)
  return Math.round(Math.min(policy.maxDelayMs, Math.max(0, exponential * spread)))
}

/**
 * Waits `ms`, or less when `signal` aborts. Never rejects; the timer is unref'd.
 *
 * @internal
 */
export function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted === true) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    timer.unref()
    signal?.addEventListener('abort', done, { once: true })
  })
}
