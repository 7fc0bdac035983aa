/**
 * Retry options: the backoff policy a sink applies to a failed batch, and
 * its resolver. `maxDelayMs` is checked against `baseDelayMs`, so a resolved
 * policy always has `baseDelayMs <= maxDelayMs`.
 */
import { InvalidOptionError } from '../errors.js'
import { integerOption, numberOption, objectOption } from './checks.js'
import { DEFAULTS } from './defaults.js'

/**
 * How a sink retries a failed batch: exponential backoff with jitter.
 *
 * @example
 * ```ts
 * const retry: RetryOptions = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 10_000, multiplier: 2, jitter: 0.2 }
 * ```
 */
export interface RetryOptions {
  /**
   * Attempts per batch, the first included. After the last one the batch goes to the dead letter.
   * @default 3
   * Range: integer >= 1.
   */
  readonly maxAttempts?: number
  /**
   * Wait before the second attempt, in milliseconds.
   * @default 1000
   * Range: integer >= 0.
   */
  readonly baseDelayMs?: number
  /**
   * Upper bound of any wait, including a server's `Retry-After`, in milliseconds.
   * @default 30000
   * Range: integer >= baseDelayMs.
   */
  readonly maxDelayMs?: number
  /**
   * Factor applied to the wait after each failed attempt.
   * @default 2
   * Range: number >= 1.
   */
  readonly multiplier?: number
  /**
   * Random spread of each wait, as a fraction of it: 0.1 means ±10 %.
   * @default 0.1
   * Range: 0 to 1.
   */
  readonly jitter?: number
}

/** Retry options with every default applied. @internal */
export type ResolvedRetryOptions = Required<RetryOptions>

/**
 * Applies the retry defaults and validates.
 * @internal
 */
export function resolveRetryOptions (input: unknown): ResolvedRetryOptions {
  const o = objectOption('retry', input)
  const d = DEFAULTS.retry
  const baseDelayMs = integerOption('retry.baseDelayMs', o.baseDelayMs, d.baseDelayMs, 0)
  const maxDelayMs = integerOption('retry.maxDelayMs', o.maxDelayMs, Math.max(d.maxDelayMs, baseDelayMs), 0)
  if (maxDelayMs < baseDelayMs) {
    throw new InvalidOptionError('retry.maxDelayMs', `an integer >= retry.baseDelayMs (${baseDelayMs})`, maxDelayMs)
  }
  return {
    maxAttempts: integerOption('retry.maxAttempts', o.maxAttempts, d.maxAttempts, 1),
    baseDelayMs,
    maxDelayMs,
    multiplier: numberOption('retry.multiplier', o.multiplier, d.multiplier, 1, 100),
    jitter: numberOption('retry.jitter', o.jitter, d.jitter, 0, 1)
  }
}
