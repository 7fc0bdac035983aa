/**
 * Shutdown options: the signals, the time limit and the exit of a graceful
 * shutdown, and their resolver. A resolved shutdown listens to at least one
 * signal.
 */
import type { Logger } from 'pino'
import { InvalidOptionError } from '../errors.js'
import { MAX_DELAY_MS, integerOption, loggerOption, objectOption } from './checks.js'
import { DEFAULTS } from './defaults.js'

/**
 * Options of {@link installShutdownHandler}.
 *
 * @example
 * ```ts
 * installShutdownHandler([ordersStore, authStore], { signals: ['SIGTERM'], timeoutMs: 10_000 })
 * ```
 */
export interface ShutdownOptions {
  /**
   * Signals that start a graceful shutdown. A second one exits at once.
   * @default ['SIGTERM', 'SIGINT']
   */
  readonly signals?: readonly NodeJS.Signals[]
  /**
   * Time the stores get to deliver everything, in milliseconds; then sends are aborted and the rest dead-lettered.
   * @default 30000
   * Range: integer >= 1.
   */
  readonly timeoutMs?: number
  /**
   * Whether to call `process.exit` when done (0 when nothing was lost, 1 otherwise). With `false` only `process.exitCode` is set.
   * @default true
   */
  readonly exit?: boolean
  /**
   * The logger.
   * @default pino at level `warn` on stderr
   */
  readonly logger?: Logger
}

/** Shutdown options with every default applied. @internal */
export interface ResolvedShutdownOptions {
  readonly signals: readonly NodeJS.Signals[]
  readonly timeoutMs: number
  readonly exit: boolean
  readonly logger: Logger | undefined
}

/**
 * Applies the shutdown defaults and validates.
 * @internal
 * @throws {@link InvalidOptionError} naming the first bad option
 */
export function resolveShutdownOptions (input: unknown): ResolvedShutdownOptions {
  const o = objectOption('options', input)
  const d = DEFAULTS.shutdown
  const signals = o.signals ?? d.signals
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every((s) => typeof s === 'string' && s.startsWith('SIG'))) {
    throw new InvalidOptionError('signals', 'a non-empty array of signal names', signals)
  }
  const exit = o.exit ?? d.exit
  if (typeof exit !== 'boolean') throw new InvalidOptionError('exit', 'a boolean', exit)
  return {
    signals: signals as NodeJS.Signals[],
    timeoutMs: integerOption('timeoutMs', o.timeoutMs, d.timeoutMs, 1, MAX_DELAY_MS),
    exit,
    logger: loggerOption('logger', o.logger)
  }
}
