/**
 * What PostgreSQL can store. The reference server keeps every event in
 * PostgreSQL (text, integer, timestamptz and jsonb columns, all passed in as
 * one jsonb parameter), so whatever those types refuse is refused before an
 * event leaves the client, by the same code in the client and the server:
 *
 * - no NUL character (U+0000) in any string or key: text and jsonb refuse it;
 * - no lone surrogate (half of a UTF-16 pair): jsonb refuses the `\udXXX`
 *   escape that JSON.stringify writes for one;
 * - `event_data` nested at most {@link MAX_EVENT_DATA_DEPTH} levels: deeper
 *   JSON exhausts the stack of PostgreSQL's jsonb parser (and of a naive walk);
 * - only JSON data in `event_data`: plain objects and arrays (no class
 *   instances, no `toJSON()`: what is validated must be what JSON.stringify
 *   sends), finite numbers, nothing JSON turns into null.
 *
 * Integer columns (int32) and timestamps from year 0001 are checked by the
 * schema itself (see event-validator.ts and date-time.ts).
 */
import type { ValidationIssue } from '../errors.js'

/**
 * How deep `event_data` may nest objects and arrays: `event_data` itself is
 * level 1, so `{ a: { b: 1 } }` is 2 levels deep. The client and the
 * reference server enforce the same limit.
 *
 * @example
 * ```ts
 * console.log(MAX_EVENT_DATA_DEPTH) // 64
 * ```
 */
export const MAX_EVENT_DATA_DEPTH = 64

const NUL_MESSAGE = 'contains a NUL character (\\u0000), which PostgreSQL cannot store'
const SURROGATE_MESSAGE = 'contains a lone surrogate (half of a UTF-16 pair), which PostgreSQL cannot store'

const isWellFormed = String.prototype as unknown as { isWellFormed?: () => boolean }
// Node 20 has String.prototype.isWellFormed; the regex is the fallback.
const wellFormed: (value: string) => boolean = typeof isWellFormed.isWellFormed === 'function'
  ? (value) => (value as unknown as { isWellFormed: () => boolean }).isWellFormed()
  : (value) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)

/**
 * Why PostgreSQL cannot store `value` as text, or undefined when it can.
 * @internal
 */
export function unstorableString (value: string): string | undefined {
  if (value.indexOf('\u0000') !== -1) return NUL_MESSAGE
  if (!wellFormed(value)) return SURROGATE_MESSAGE
  return undefined
}

function join (key: string | number, sub: string): string {
  return sub === '' ? String(key) : `${key}.${sub}`
}

const NOT_PLAIN = 'is not plain JSON data (a class instance, Map, Date, ...): pass plain objects, arrays, strings, numbers, booleans and null'

/**
 * The first value under `value` that JSON cannot carry faithfully or
 * PostgreSQL cannot store, as an issue whose path is relative to `value`; or
 * undefined. `depth` is the level of `value` itself. With `strings` false,
 * strings and keys are left to {@link unstorableEscape} on the serialized
 * text, which is cheaper on the hot path. Recursion stops past the depth
 * limit, so no input can overflow the stack.
 *
 * Objects must be plain (their prototype Object.prototype or null) or
 * arrays: then only own enumerable keys exist, which is what JSON.stringify
 * sends, and no inherited `toJSON()` can change what is sent.
 * @internal
 */
export function unstorableValue (value: unknown, depth: number, strings: boolean): ValidationIssue | undefined {
  switch (typeof value) {
    case 'object':
      return value === null ? undefined : unstorableObject(value, depth, strings)
    case 'string': {
      const message = strings ? unstorableString(value) : undefined
      return message === undefined ? undefined : { path: '', message }
    }
    case 'number':
      return Number.isFinite(value) ? undefined : { path: '', message: `${value} is not a finite number: JSON would send null` }
    case 'bigint':
      return { path: '', message: 'not serializable: JSON has no BigInt' }
    default:
      return undefined
  }
}

function unstorableObject (value: object, depth: number, strings: boolean): ValidationIssue | undefined {
  if (depth > MAX_EVENT_DATA_DEPTH) return { path: '', message: `nested deeper than ${MAX_EVENT_DATA_DEPTH} levels, or circular` }
  if (Array.isArray(value)) {
    // An Array subclass or an array with its own toJSON() would be sent as something else than its items.
    if (Object.getPrototypeOf(value) !== Array.prototype) return { path: '', message: NOT_PLAIN }
    if (Object.hasOwn(value, 'toJSON')) return { path: '', message: 'has a toJSON() method: pass the plain data it returns' }
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      // Only objects, odd numbers and (when asked) strings need a look.
      if (typeof item === 'boolean' || (typeof item === 'string' && !strings) || (typeof item === 'number' && Number.isFinite(item)) || item === null) continue
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') return { path: String(i), message: 'JSON would send null in place of this item' }
      const issue = unstorableValue(item, depth + 1, strings)
      if (issue !== undefined) return { path: join(i, issue.path), message: issue.message }
    }
    return undefined
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return { path: '', message: NOT_PLAIN }
  // A plain object's enumerable keys are its own ones (short of a polluted Object.prototype).
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key]
    if (strings) {
      const message = unstorableString(key)
      if (message !== undefined) return { path: key, message: `key ${message}` }
    }
    if (typeof item === 'boolean' || (typeof item === 'string' && !strings) || (typeof item === 'number' && Number.isFinite(item)) || item === null || item === undefined) continue
    if (key === 'toJSON' && typeof item === 'function') return { path: '', message: 'has a toJSON() method: pass the plain data it returns' }
    const issue = unstorableValue(item, depth + 1, strings)
    if (issue !== undefined) return { path: join(key, issue.path), message: issue.message }
  }
  return undefined
}

/**
 * Why PostgreSQL cannot store the serialized event `json`, or undefined.
 * JSON.stringify writes a NUL as `\u0000` and a lone surrogate as `\udXXX`
 * (and other escapes only for control characters), so one search for `\u`,
 * usually finding nothing, checks every string and key of the event at once.
 * @internal
 */
export function unstorableEscape (json: string): string | undefined {
  let at = json.indexOf('\\u')
  while (at !== -1) {
    // An odd run of backslashes before it makes this backslash literal text.
    let slashes = 0
    for (let i = at - 1; i >= 0 && json.charCodeAt(i) === 92; i--) slashes++
    if (slashes % 2 === 0) {
      if (json.startsWith('0000', at + 2)) return NUL_MESSAGE
      const c = json.charCodeAt(at + 2)
      if (c === 100 || c === 68) return SURROGATE_MESSAGE // 'd' or 'D'
    }
    at = json.indexOf('\\u', at + 2)
  }
  return undefined
}
