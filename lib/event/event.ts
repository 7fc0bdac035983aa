/**
 * The audit event: one schema gives both the static type and the compiled
 * validator, and the reference server validates with the same schema.
 */
import { AuditValidationError, type ValidationIssue } from '../errors.js'
import type { EventRun } from '../batching/event-run.js'
import { CompiledEventSchema } from './compiled-event-schema.js'
import { INT32_MAX, INT32_MIN } from '../protocol/wire.js'

/**
 * The generic schema of an audit event (a JSON Schema object),
 * mirroring the DataStorage API's `AuditEventRequest` with a free-form
 * `event_data`: any category, any JSON object. It is the default when no
 * OpenAPI document is given. Unknown fields are rejected so that a typo
 * fails at `record()` rather than at the server. On top of it, every
 * validator checks what PostgreSQL can store (see the README).
 *
 * @example
 * ```ts
 * import { Ajv } from 'ajv'
 * const check = new Ajv({ formats: { 'date-time': true, uuid: true } }).compile(AuditEventSchema)
 * check(input) // true for a valid event
 * ```
 */
export const AuditEventSchema: Readonly<Record<string, unknown>> = {
  type: 'object',
  required: ['version', 'event_type', 'event_timestamp', 'event_category', 'event_action', 'event_outcome', 'correlation_id', 'event_data'],
  additionalProperties: false,
  properties: {
    version: { type: 'string', minLength: 1, maxLength: 20 },
    event_type: { type: 'string', minLength: 1, maxLength: 100 },
    event_timestamp: { type: 'string', format: 'date-time' },
    event_category: { type: 'string', minLength: 1, maxLength: 50 },
    event_action: { type: 'string', minLength: 1, maxLength: 50 },
    event_outcome: { type: 'string', enum: ['success', 'failure', 'pending'] },
    correlation_id: { type: 'string', minLength: 1, maxLength: 255 },
    // Any JSON object: a pattern on every key would cost on every event.
    event_data: { type: 'object' },
    actor_type: { type: 'string' },
    actor_id: { type: 'string' },
    actor_ip: { type: 'string', maxLength: 45 },
    resource_type: { type: 'string' },
    resource_id: { type: 'string' },
    parent_event_id: { type: ['string', 'null'], format: 'uuid' },
    parent_event_date: { type: ['string', 'null'], format: 'date-time' },
    namespace: { type: ['string', 'null'] },
    cluster_id: { type: ['string', 'null'] },
    severity: { type: ['string', 'null'] },
    // int32: PostgreSQL's integer columns.
    duration_ms: { type: ['integer', 'null'], minimum: INT32_MIN, maximum: INT32_MAX },
    error_code: { type: ['string', 'null'] },
    error_message: { type: ['string', 'null'] },
    retention_days: { type: ['integer', 'null'], minimum: INT32_MIN, maximum: INT32_MAX },
    is_sensitive: { type: ['boolean', 'null'] }
  }
}

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
export type AuditEvent = {
  /** Version of the event schema the producer writes, 1-20 characters. */
  version: string
  /** What happened, e.g. `user.login`; 1-100 characters. */
  event_type: string
  /** When it happened: an RFC 3339 date-time string with an offset. */
  event_timestamp: string
  /** The area it belongs to, e.g. `auth`; 1-50 characters. */
  event_category: string
  /** The verb, e.g. `login`; 1-50 characters. */
  event_action: string
  /** `success`, `failure` or `pending`. */
  event_outcome: 'success' | 'failure' | 'pending'
  /** Ties the events of one request or job together; 1-255 characters. */
  correlation_id: string
  /** Event-specific details: a JSON object. */
  event_data: Record<string, unknown>
  /** Who acted: `user`, `service`, ... */
  actor_type?: string
  /** The actor's id. */
  actor_id?: string
  /** The actor's IP address, at most 45 characters. */
  actor_ip?: string
  /** The kind of thing acted on. */
  resource_type?: string
  /** The id of the thing acted on. */
  resource_id?: string
  /** The UUID of the event this one follows from, or null. Comes with `parent_event_date`. */
  parent_event_id?: string | null
  /** The parent event's `event_timestamp` (RFC 3339), or null; required together with `parent_event_id`. */
  parent_event_date?: string | null
  /** The namespace the event comes from, or null. */
  namespace?: string | null
  /** The cluster the event comes from, or null. */
  cluster_id?: string | null
  /** The event's severity, e.g. `info`, or null. */
  severity?: string | null
  /** How long the action took, in whole milliseconds (int32: PostgreSQL's integer column), or null. */
  duration_ms?: number | null
  /** The error code, for a failure, or null. */
  error_code?: string | null
  /** The error message, for a failure, or null. */
  error_message?: string | null
  /** How many days to keep the event, a whole number (int32), or null. */
  retention_days?: number | null
  /** Whether the event holds sensitive data, or null. */
  is_sensitive?: boolean | null
}

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

// The generic schema as the client applies it (unknown keys refused).
const GENERIC = new CompiledEventSchema(AuditEventSchema, { allowUnknownKeys: false, fromDocument: false })

/** The generic schema compiled for the client. @internal */
export function genericEventSchema (): CompiledEventSchema {
  return GENERIC
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
 * Checks a value against {@link AuditEventSchema} and against what
 * PostgreSQL can store: no NUL character or lone surrogate in any string,
 * integers within int32, timestamps from year 0001, `event_data` nested at
 * most `MAX_EVENT_DATA_DEPTH` (64) levels, no `toJSON()` and no inherited
 * fields (only what JSON.stringify sends counts).
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
  return GENERIC.validate(value)
}

/**
 * Validates and serializes an event in one step and appends it to `run`.
 * The JSON text is the snapshot that gets stored, so later mutation of
 * `value` changes nothing.
 *
 * @internal
 * @throws {@link AuditValidationError} for an invalid, unserializable or oversized event
 */
export function encodeAuditEvent (value: unknown, maxEventBytes: number, run: EventRun, schema: CompiledEventSchema = GENERIC): void {
  try {
    if (!schema.check(value)) throw new AuditValidationError(schema.issues(value))
  } catch (err) {
    if (err instanceof AuditValidationError) throw err
    // A getter or a Proxy trap that throws: the event cannot be read, which is the caller's input at fault.
    const reason = err instanceof Error ? err.message : String(err)
    throw new AuditValidationError([{ path: '', message: `event could not be read: ${reason}` }])
  }
  let json: string
  try {
    json = JSON.stringify(value)
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new AuditValidationError([{ path: '', message: `event is not serializable: ${reason}` }])
  }
  // Strings and keys are checked once, on the text (see storable-json.ts).
  const textIssues = schema.textIssues(value, json)
  if (textIssues !== undefined) throw new AuditValidationError(textIssues)
  const bytes = Buffer.byteLength(json)
  if (bytes > maxEventBytes) {
    throw new AuditValidationError([
      { path: '', message: `event is ${bytes} bytes serialized, over maxEventBytes (${maxEventBytes})` }
    ])
  }
  run.push(json, bytes, correlationIdOf(value))
}

// The lane key. Validation read it as a string a moment ago; a getter that now throws or
// answers otherwise only moves the event to another lane: the bytes stored are still `json`.
function correlationIdOf (value: unknown): string {
  try {
    const id = (value as { correlation_id?: unknown }).correlation_id
    return typeof id === 'string' ? id : ''
  } catch {
    return ''
  }
}
