/**
 * The event validator: the schema an `openapi` option stands for, compiled
 * once, for a store, a server, or the caller of {@link createEventValidator}.
 * Without a document it is the generic schema; with one, the document's
 * `AuditEventRequest` (lib/event/openapi-schema.ts).
 */
import { InvalidOptionError, type ValidationIssue } from '../errors.js'
import { CompiledEventSchema } from './compiled-event-schema.js'
import { AuditEventSchema, genericEventSchema, newAuditEvent, type AuditEvent, type AuditEventInit } from './event.js'
import { loadOpenApiDocument, type OpenApiDocument } from './openapi-document.js'
import { EVENT_SCHEMA, eventSchemaFromOpenApi } from './openapi-schema.js'

/**
 * Checks an audit event and names every problem found, like
 * {@link validateAuditEvent}; made by {@link createEventValidator}. An empty
 * list means the event is valid.
 *
 * @example
 * ```ts
 * const validate: EventValidator = createEventValidator('./data-storage-v1.yaml')
 * const issues = validate(event) // [{ path: 'event_data.fingerprint', message: 'required' }]
 * ```
 */
export interface EventValidator {
  (event: unknown): ValidationIssue[]
  /**
   * Builds an event like {@link newAuditEvent}, filling `version` and
   * `event_timestamp`. With an OpenAPI document it never fills `event_data`:
   * a document's payloads have no valid empty default, so leaving it out
   * gets `event_data: required` at `record()`.
   */
  newEvent (fields: AuditEventInit): AuditEvent
}

/**
 * Options of {@link createEventValidator}.
 *
 * @example
 * ```ts
 * const serverSide = createEventValidator(doc, { allowUnknownKeys: true })
 * ```
 */
export interface EventValidatorOptions {
  /**
   * Whether unknown top-level fields are accepted (and ignored), as the
   * DataStorage service does. The client refuses them, so that a typo fails
   * at `record()` instead of vanishing on the server.
   * @default false
   */
  readonly allowUnknownKeys?: boolean
}

/**
 * Compiles the event schema of `openapi` (a document or a path), or the
 * generic schema when it is undefined.
 * @internal
 * @throws {@link InvalidOptionError} for a document that cannot be read or has an unsupported construct
 */
export function compileEventSchema (openapi: unknown, allowUnknownKeys: boolean): CompiledEventSchema {
  if (openapi === undefined) {
    return allowUnknownKeys ? new CompiledEventSchema(AuditEventSchema, { allowUnknownKeys, fromDocument: false }) : genericEventSchema()
  }
  const document = loadOpenApiDocument(openapi)
  let schema: Record<string, unknown>
  try {
    schema = eventSchemaFromOpenApi(document)
  } catch (err) {
    // Converting recurses once per level of nesting.
    if (err instanceof RangeError) throw new InvalidOptionError('openapi', `a document whose ${EVENT_SCHEMA} is not nested this deeply (${err.message})`, openapi)
    throw err
  }
  try {
    return new CompiledEventSchema(schema, { allowUnknownKeys, fromDocument: true })
  } catch (err) {
    throw new InvalidOptionError('openapi', `a document whose ${EVENT_SCHEMA} compiles (${(err as Error).message})`, openapi)
  }
}

/**
 * Compiles an event validator from an OpenAPI 3.0 document: its
 * `AuditEventRequest`, with everything it references, becomes the event
 * schema, including a discriminated `oneOf` of typed `event_data` payloads.
 * The result checks events exactly as a store or server given the same
 * `openapi` option does, including what PostgreSQL can store.
 *
 * @param openapi - a parsed document, or the path of a `.yaml`/`.yml`/`.json` file;
 *   undefined for the generic schema ({@link AuditEventSchema})
 * @param options - see {@link EventValidatorOptions}
 * @returns `(event) => ValidationIssue[]`, like {@link validateAuditEvent}, with a `newEvent` factory
 * @throws {@link InvalidOptionError} for a document that cannot be read, or one with an
 *   unsupported construct (the message names its JSON pointer)
 * @example
 * ```ts
 * const validate = createEventValidator('./data-storage-v1.yaml')
 * validate({ ...event, event_data: { event_type: 'gateway.signal.received' } })
 * // [{ path: 'event_data.signal_type', message: 'required' }, ...]
 * ```
 */
export function createEventValidator (openapi?: OpenApiDocument | string, options: EventValidatorOptions = {}): EventValidator {
  const compiled = compileEventSchema(openapi, options.allowUnknownKeys === true)
  const validate = (event: unknown): ValidationIssue[] => compiled.validate(event)
  return Object.assign(validate, {
    newEvent: (fields: AuditEventInit): AuditEvent => compiled.fromDocument ? newDocumentEvent(fields) : newAuditEvent(fields)
  })
}

// Like newAuditEvent, but event_data has no default: a document's payloads have no valid empty one.
function newDocumentEvent (fields: AuditEventInit): AuditEvent {
  return { version: '1.0', ...fields, event_timestamp: fields.event_timestamp ?? new Date().toISOString() } as AuditEvent
}
