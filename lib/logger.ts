/**
 * The default logger, made once per process.
 */
import { pino, type Logger } from 'pino'

let fallback: Logger | undefined

/**
 * pino at level `warn`, writing synchronously to stderr so nothing is lost at exit.
 * @internal
 */
export function defaultLogger (): Logger {
  fallback ??= pino({ name: 'audit-stream', level: 'warn' }, pino.destination({ dest: 2, sync: true }))
  return fallback
}
