/**
 * The audit event: one schema gives both the static type and the compiled
 * validator, and the reference server validates with the same schema.
 */
import { FormatRegistry, Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { AuditValidationError, type ValidationIssue } from './errors.js'
import type { EventRun } from './event-run.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

// The decimal number in value[at, at + count), or -1 if any of it is not a digit.
function digitsAt (value: string, at: number, count: number): number {
  let result = 0
  for (let i = at; i < at + count; i++) {
    const c = value.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    result = result * 10 + c
  }
  return result
}

/**
 * Whether `value` is an RFC 3339 date-time, as `event_timestamp` must be:
 * `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then `Z` or `±HH:MM`, with
 * real calendar dates. Read character by character: it runs on every
 * recorded event, where a regex plus `Date.parse` cost more than the rest of
 * the validation together.
 * @internal
 */
export function isDateTime (value: string): boolean {
  const n = value.length
  if (n < 20) return false
  // '-' 45, ':' 58, 'T' 84, 't' 116, '.' 46, 'Z' 90, 'z' 122, '+' 43
  if (value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45 || (value.charCodeAt(10) !== 84 && value.charCodeAt(10) !== 116) || value.charCodeAt(13) !== 58 || value.charCodeAt(16) !== 58) return false
  const year = digitsAt(value, 0, 4)
  const month = digitsAt(value, 5, 2)
  const day = digitsAt(value, 8, 2)
  const hour = digitsAt(value, 11, 2)
  const minute = digitsAt(value, 14, 2)
  const second = digitsAt(value, 17, 2)
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return false
  let i = 19
  if (value.charCodeAt(i) === 46) {
    i++
    const start = i
    while (i < n && value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) i++
    if (i === start) return false
  }
  if (i === n - 1) return value.charCodeAt(i) === 90 || value.charCodeAt(i) === 122
  if (i !== n - 6 || (value.charCodeAt(i) !== 43 && value.charCodeAt(i) !== 45) || value.charCodeAt(i + 3) !== 58) return false
  const offsetHour = digitsAt(value, i + 1, 2)
  const offsetMinute = digitsAt(value, i + 4, 2)
  return offsetHour >= 0 && offsetHour <= 23 && offsetMinute >= 0 && offsetMinute <= 59
}

// FormatRegistry is process-wide; leave a host application's own definitions alone.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', isDateTime)
}
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => UUID.test(value))

/**
 * The schema of an audit event, mirroring the DataStorage API's
 * `AuditEventRequest`. Unknown fields are rejected so that a typo fails
 * at `record()` rather than at the server.
 *
 * @example
 * ```ts
 * import { TypeCompiler } from '@sinclair/typebox/compiler'
 * const check = TypeCompiler.Compile(AuditEventSchema)
 * check.Check(input) // true for a valid event
 * ```
 */
export const AuditEventSchema = Type.Object(
  {
    /** Version of the event schema the producer writes, 1-20 characters. */
    version: Type.String({ minLength: 1, maxLength: 20 }),
    /** What happened, e.g. `user.login`; 1-100 characters. */
    event_type: Type.String({ minLength: 1, maxLength: 100 }),
    /** When it happened: an RFC 3339 date-time string. */
    event_timestamp: Type.String({ format: 'date-time' }),
    /** The area it belongs to, e.g. `auth`; 1-50 characters. */
    event_category: Type.String({ minLength: 1, maxLength: 50 }),
    /** The verb, e.g. `login`; 1-50 characters. */
    event_action: Type.String({ minLength: 1, maxLength: 50 }),
    /** `success`, `failure` or `pending`. */
    event_outcome: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('pending')]),
    /** Ties the events of one request or job together; 1-255 characters. */
    correlation_id: Type.String({ minLength: 1, maxLength: 255 }),
    /** Event-specific details: a JSON object. */
    // Any JSON object: a Record schema would test every key against a pattern on every event.
    event_data: Type.Unsafe<Record<string, unknown>>(Type.Object({})),
    /** Who acted: `user`, `service`, ... */
    actor_type: Type.Optional(Type.String()),
    /** The actor's id. */
    actor_id: Type.Optional(Type.String()),
    /** The actor's IP address, at most 45 characters. */
    actor_ip: Type.Optional(Type.String({ maxLength: 45 })),
    /** The kind of thing acted on. */
    resource_type: Type.Optional(Type.String()),
    /** The id of the thing acted on. */
    resource_id: Type.Optional(Type.String()),
    /** The UUID of the event this one follows from, or null. */
    parent_event_id: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
    /** The namespace the event comes from. */
    namespace: Type.Optional(Type.String()),
    /** The cluster the event comes from. */
    cluster_id: Type.Optional(Type.String()),
    /** The event's severity, e.g. `info`. */
    severity: Type.Optional(Type.String()),
    /** How long the action took, in whole milliseconds. */
    duration_ms: Type.Optional(Type.Integer()),
    /** The error code, for a failure. */
    error_code: Type.Optional(Type.String()),
    /** The error message, for a failure. */
    error_message: Type.Optional(Type.String()),
    /** How many days to keep the event, a whole number. */
    retention_days: Type.Optional(Type.Integer()),
    /** Whether the event holds sensitive data. */
    is_sensitive: Type.Optional(Type.Boolean())
  },
  { additionalProperties: false }
)

/**
 * An audit event, as the DataStorage API's `AuditEventRequest` defines it.
 *
 * @example
 * ```ts
 * const event: AuditEvent = {
 *   version: '1.0', event_type: 'user.login', event_timestamp: new Date().toISOString(),
 *   event_category: 'auth', event_action: 'login', event_outcome: 'success',
 *   correlation_id: requestId, event_data: { method: 'password' }
 * }
 * ```
 */
export type AuditEvent = Static<typeof AuditEventSchema>

/**
 * The fields {@link newAuditEvent} fills in when they are absent.
 *
 * @example
 * ```ts
 * type Filled = Pick<AuditEvent, AuditEventDefaults> // version, event_timestamp, event_data
 * ```
 */
export type AuditEventDefaults = 'version' | 'event_timestamp' | 'event_data'

/**
 * What {@link newAuditEvent} takes: an event whose defaulted fields may be left out.
 *
 * @example
 * ```ts
 * const init: AuditEventInit = { event_type: 'user.login', event_category: 'auth', event_action: 'login', event_outcome: 'success', correlation_id: 'req-1' }
 * store.record(newAuditEvent(init))
 * ```
 */
export type AuditEventInit = Omit<AuditEvent, AuditEventDefaults> & Partial<Pick<AuditEvent, AuditEventDefaults>>

const check = TypeCompiler.Compile(AuditEventSchema)
// The hot path: the same schema without additionalProperties, whose generated
// code allocates a key list per call, plus a key check generated (like
// TypeBox's own code) from the schema's field names: a switch, 3x a Set lookup.
const openCheck = TypeCompiler.Compile(Type.Object(AuditEventSchema.properties))
const hasOnlyKnownKeys = new Function('value', 'hasOwn', `
  for (const key in value) {
    switch (key) {
      ${Object.keys(AuditEventSchema.properties).map((name) => `case ${JSON.stringify(name)}:`).join('\n      ')}
        continue
      default:
        // Inherited keys are not serialized, so only own ones count.
        if (hasOwn(value, key)) return false
    }
  }
  return true`) as (value: object, hasOwn: (o: object, key: string) => boolean) => boolean

function isAuditEvent (value: unknown): boolean {
  return openCheck.Check(value) && hasOnlyKnownKeys(value as object, Object.hasOwn)
}

/**
 * Builds an event, filling `version: "1.0"`, `event_timestamp: now` and
 * `event_data: {}` when they are absent. It does not validate.
 *
 * @param fields - the event's fields
 * @returns a new event object
 * @example
 * ```ts
 * store.record(newAuditEvent({
 *   event_type: 'user.login', event_category: 'auth', event_action: 'login',
 *   event_outcome: 'success', correlation_id: requestId
 * }))
 * ```
 */
export function newAuditEvent (fields: AuditEventInit): AuditEvent {
  // Defaults first and fields spread over them: overriding properties after a
  // spread leaves V8 with a slow object shape that costs ~5x in validation.
  const event: AuditEvent = {
    version: '1.0',
    event_timestamp: fields.event_timestamp ?? new Date().toISOString(),
    event_data: {},
    ...fields
  }
  // Only a JavaScript caller passing explicit undefined gets here.
  if (event.version === undefined) event.version = '1.0'
  if (event.event_timestamp === undefined) event.event_timestamp = new Date().toISOString()
  if (event.event_data === undefined) event.event_data = {}
  return event
}

/**
 * Checks a value against {@link AuditEventSchema}.
 *
 * @param value - anything
 * @returns every problem found, one per field; an empty list for a valid event
 * @example
 * ```ts
 * const issues = validateAuditEvent(input)
 * if (issues.length > 0) console.error(issues.map((i) => `${i.path}: ${i.message}`))
 * ```
 */
export function validateAuditEvent (value: unknown): ValidationIssue[] {
  if (isAuditEvent(value)) return []
  const issues: ValidationIssue[] = []
  const seen = new Set<string>()
  for (const error of check.Errors(value)) {
    const path = error.path.split('/').filter(Boolean).join('.')
    // A union reports once per branch; one issue per field reads better.
    if (seen.has(path)) continue
    seen.add(path)
    issues.push({ path, message: error.message })
  }
  return issues
}

/**
 * Validates and serializes an event in one step and appends it to `run`.
 * The JSON text is the snapshot that gets stored, so later mutation of
 * `value` changes nothing.
 *
 * @internal
 * @throws {@link AuditValidationError} for an invalid, unserializable or oversized event
 */
export function encodeAuditEvent (value: unknown, maxEventBytes: number, run: EventRun): void {
  if (!isAuditEvent(value)) throw new AuditValidationError(validateAuditEvent(value))
  let json: string
  try {
    json = JSON.stringify(value)
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new AuditValidationError([{ path: '', message: `event is not serializable: ${reason}` }])
  }
  const bytes = Buffer.byteLength(json)
  if (bytes > maxEventBytes) {
    throw new AuditValidationError([
      { path: '', message: `event is ${bytes} bytes serialized, over maxEventBytes (${maxEventBytes})` }
    ])
  }
  run.push(json, bytes)
}
