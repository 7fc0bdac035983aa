/**
 * The generic checks every option group is resolved with: each returns the
 * value, or the fallback when the value is absent, or throws an
 * {@link InvalidOptionError} naming the option, what was expected and what
 * arrived. They only look at the value; nothing here builds anything.
 */
import type { Logger } from 'pino'
import { InvalidOptionError } from '../errors.js'

/**
 * setTimeout's longest delay: a longer one fires at once, so no option that
 * becomes a timer may exceed it.
 * @internal
 */
export const MAX_DELAY_MS = 2_147_483_647

/**
 * Checks that `value` is an integer within bounds, or absent.
 * @internal
 */
export function integerOption (name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`
    throw new InvalidOptionError(name, `an integer ${range}`, value)
  }
  return value
}

/**
 * Checks that `value` is a finite number within bounds, or absent.
 * @internal
 */
export function numberOption (name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `a number from ${min} to ${max}`, value)
  }
  return value
}

/**
 * Checks that `value` is a plain object (not an array), or absent: then `{}`.
 * @internal
 */
export function objectOption (name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(name, 'an object', value)
  }
  return value as Record<string, unknown>
}

/**
 * Checks that `value` is a boolean, or absent.
 * @internal
 */
export function booleanOption (name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, 'a boolean', value)
  return value
}

/**
 * Checks that `value` looks like a pino logger (it has `child` and `warn`), or is absent.
 * @internal
 */
export function loggerOption (name: string, value: unknown): Logger | undefined {
  if (value === undefined) return undefined
  const l = value as Partial<Logger> | null
  if (typeof l !== 'object' || l === null || typeof l.child !== 'function' || typeof l.warn !== 'function') {
    throw new InvalidOptionError(name, 'a pino logger', value)
  }
  return value as Logger
}

/**
 * Validates a per-call timeout.
 * @internal
 */
export function timeoutOption (name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  return integerOption(name, value, 0, 0, MAX_DELAY_MS)
}
