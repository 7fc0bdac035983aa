/**
 * The retry policy of delivery, wrapped around any transport: what a
 * failure means (its classification, and the HTTP status table of the
 * DataStorage API), how long to wait before the next attempt (backoff), and
 * the one attempt loop that batches and lane skip notes both go through.
 *
 * Policy wraps mechanism: a transport only attempts and throws; it decides
 * nothing. The loop knows no HTTP and no lanes: what an item is, and what a
 * sequence gap waits for, come from its {@link RetryTarget}, built once per
 * sink, so a run of attempts allocates nothing per item beyond its own
 * promise and what a failure needs.
 *
 * Invariants of {@link runAttempts}: an attempt is counted when made, except
 * one refused for a sequence gap that the lane's order then resolved; the
 * loop never makes an attempt once the target's signal has aborted, and never
 * rejects.
 */
import { SinkError, type ProblemDocument } from '../errors.js'
import type { ResolvedRetryOptions } from '../options/retry.js'
import { SEQUENCE_GAP } from '../protocol/wire.js'

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

// A 409 whose problem type says the lane expects an earlier seq first.
function isSequenceGap (statusCode: number | undefined, problem: ProblemDocument | undefined): boolean {
  return statusCode === 409 && problem?.type === SEQUENCE_GAP
}

// Worth another attempt: timeouts, too early, too many, the credentials (a token may be renewed), and 5xx but 501 and 505.
function isRetryableStatus (status: number): boolean {
  if (status === 408 || status === 425 || status === 429 || status === 401 || status === 403) return true
  return status >= 500 && status <= 599 && status !== 501 && status !== 505
}

/**
 * The failure of an HTTP answer outside 2xx, by status: 400, 422 and 413
 * split the batch (only the events the server refuses reach the dead
 * letter); a 409 sequence gap, 408, 425, 429, 401, 403 and 5xx but 501 and
 * 505 are retried, honouring `Retry-After`; any other status refuses the
 * batch. The message is `HTTP <status>` and the problem's title (or detail).
 *
 * @param status - the answer's status
 * @param problem - its problem document, when it had one
 * @param retryAfterMs - its `Retry-After`, in milliseconds, when it had one
 * @internal
 */
export function statusError (status: number, problem: ProblemDocument | undefined, retryAfterMs: number | undefined): SinkError {
  const title = problem?.title ?? problem?.detail
  const message = `HTTP ${status}${title === undefined ? '' : ` ${title}`}`
  const base = { statusCode: status, ...(problem === undefined ? {} : { problem }), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }
  if (status === 400 || status === 422 || status === 413) return new SinkError(message, { ...base, retryable: false, split: true })
  // Ahead of an earlier batch of its lane: worth sending again (the loop first waits for that one).
  if (isSequenceGap(status, problem)) return new SinkError(message, { ...base, retryable: true })
  if (isRetryableStatus(status)) return new SinkError(message, { ...base, retryable: true })
  return new SinkError(message, { ...base, retryable: false })
}

/** What a failed attempt means for the next one. @internal */
export interface Failure {
  /** Whether another attempt may succeed. */
  readonly retryable: boolean
  /** Whether the item should be split and its pieces sent on their own. */
  readonly split: boolean
  /** A lane's sequence gap: the item is ahead of an earlier one of its lane. */
  readonly gap: boolean
  readonly statusCode: number | undefined
  readonly retryAfterMs: number | undefined
  readonly error: Error
}

/**
 * Classifies what an attempt threw: a {@link SinkError} says itself what it
 * means; any other error is retryable.
 * @internal
 */
export function classifyFailure (err: unknown): Failure {
  const error = err instanceof Error ? err : new Error(String(err))
  if (error instanceof SinkError) {
    return { retryable: error.retryable, split: error.split, gap: isSequenceGap(error.statusCode, error.problem), statusCode: error.statusCode, retryAfterMs: error.retryAfterMs, error }
  }
  return { retryable: true, split: false, gap: false, statusCode: undefined, retryAfterMs: undefined, error }
}

/**
 * What {@link runAttempts} attempts, and the hooks it asks: built once per
 * sink, so that a run allocates no closure.
 * @internal
 */
export interface RetryTarget<T> {
  /** The retry options: `maxAttempts` and the backoff. */
  readonly retry: ResolvedRetryOptions
  /** Aborted when delivery stops: no attempt is made after it, and a wait ends. */
  readonly signal: AbortSignal
  /** Whether a failure that asks for a split ends the attempts (the caller then splits the item). */
  readonly splittable: boolean
  /** One attempt: resolves once the item is stored, throws otherwise. */
  attempt (item: T, attempt: number): Promise<unknown>
  /** For a sequence gap: the settlements of the earlier items of the item's lane, to wait for; empty when none is open. */
  earlier (item: T): ReadonlyArray<Promise<void>>
  /**
   * For a sequence gap with nothing earlier open: resolves true when the
   * lane's missing range was filled meanwhile (its skip notes posted again);
   * undefined when the item has no lane to fill.
   */
  fillsGap (item: T): Promise<boolean> | undefined
  /** Called before the wait of each retry. */
  retrying? (item: T, failure: Failure, attempt: number, delayMs: number): void
}

/**
 * Why {@link runAttempts} gave up: the failure refused the item (not
 * retryable, or a split for a splittable target), the attempts ran out, or
 * the target's signal aborted.
 * @internal
 */
export type Stopped =
  | { readonly why: 'refused' | 'exhausted', readonly attempts: number, readonly failure: Failure }
  | { readonly why: 'aborted', readonly attempts: number }

/**
 * Attempts `item` until an attempt succeeds, the policy gives up or the
 * target's signal aborts. A sequence gap waits for the earlier items of the
 * item's lane, or for its missing range to be filled, and is then attempted
 * again without counting the refused attempt.
 *
 * @param target - the attempt and its hooks
 * @param item - what to attempt
 * @returns the attempts it took once one succeeded, or why it stopped; never rejects
 * @internal
 */
export async function runAttempts<T> (target: RetryTarget<T>, item: T): Promise<number | Stopped> {
  const { retry, signal } = target
  let attempt = 0
  while (!signal.aborted) {
    attempt++
    try {
      await target.attempt(item, attempt)
      return attempt
    } catch (err) {
      const failure = classifyFailure(err)
      if (signal.aborted) break
      if (failure.gap) {
        // Ahead of an earlier item of its lane: attempted again once that one settles, not counted as a retry.
        const earlier = target.earlier(item)
        if (earlier.length > 0) {
          attempt--
          await Promise.all(earlier)
          continue
        }
        const filling = target.fillsGap(item)
        if (filling !== undefined && await filling) {
          attempt--
          continue
        }
      }
      if (!failure.retryable || (target.splittable && failure.split)) return { why: 'refused', attempts: attempt, failure }
      if (attempt >= retry.maxAttempts) return { why: 'exhausted', attempts: attempt, failure }
      const delayMs = backoffDelay(retry, attempt, failure.retryAfterMs)
      target.retrying?.(item, failure, attempt, delayMs)
      await sleep(delayMs, signal)
    }
  }
  return { why: 'aborted', attempts: attempt }
}
