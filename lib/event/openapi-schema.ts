/**
 * An OpenAPI 3.0 document as the event schema: its `AuditEventRequest`, with
 * every schema it references, becomes one JSON Schema (draft-07) for ajv.
 *
 * - `nullable: true` becomes `type: [T, 'null']` (and null joins an `enum`).
 * - A `discriminator` over a `oneOf` of `$ref`s becomes ajv's discriminator:
 *   each branch gets `properties.<tag>.enum` with the values its `mapping`
 *   gives it (or, without a mapping entry, its schema name) and requires the
 *   tag, so ajv validates the one branch the value picks. kubernaut maps
 *   several values to one payload, and not every payload declares the tag.
 * - Annotations (`example`, `deprecated`, `readOnly`, `xml`, `x-...`) are dropped.
 * - Anything else, such as an external `$ref`, an unknown keyword or format,
 *   fails with an {@link InvalidOptionError} naming the JSON pointer.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { InvalidOptionError, type ValidationIssue } from '../errors.js'
import { AuditEventSchema, genericEventSchema, newAuditEvent, type AuditEvent, type AuditEventInit } from './event.js'
import { CompiledEventSchema, FORMATS, type EventValidator } from './event-validator.js'

/**
 * An OpenAPI 3.0 document, parsed. Only `components.schemas` is read.
 *
 * @example
 * ```ts
 * const doc: OpenApiDocument = { openapi: '3.0.3', components: { schemas: { AuditEventRequest: { type: 'object' } } } }
 * ```
 */
export type OpenApiDocument = Readonly<Record<string, unknown>>

const SCHEMAS = '#/components/schemas/'
const EVENT_SCHEMA = 'AuditEventRequest'
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object'])
const ANNOTATIONS = new Set(['description', 'title', 'example', 'deprecated', 'readOnly', 'writeOnly', 'xml', 'externalDocs', 'default'])
const VALUES = new Set(['multipleOf', 'maximum', 'minimum', 'maxLength', 'minLength', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'required', 'enum'])
// Columns the reference server stores NOT NULL: a document must not make them optional.
const NOT_NULL = ['version', 'event_type', 'event_timestamp', 'event_category', 'event_action', 'event_outcome', 'correlation_id', 'event_data']

function unsupported (pointer: string, what: string, value: unknown): InvalidOptionError {
  return new InvalidOptionError('openapi', `a supported OpenAPI 3.0 document (${what} at ${pointer})`, value)
}

function escape (name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1')
}

/**
 * Reads `input`: a parsed document, or the path of a `.yaml`, `.yml` or `.json` file.
 * @internal
 * @throws {@link InvalidOptionError} when it cannot be read or parsed
 */
export function loadOpenApiDocument (input: unknown): OpenApiDocument {
  if (typeof input === 'string') {
    let text: string
    try {
      text = readFileSync(input, 'utf8')
    } catch (err) {
      throw new InvalidOptionError('openapi', `a readable OpenAPI file (${(err as Error).message})`, input)
    }
    let parsed: unknown
    try {
      parsed = /\.json$/i.test(input) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 })
    } catch (err) {
      throw new InvalidOptionError('openapi', `a parseable OpenAPI file (${(err as Error).message})`, input)
    }
    // Never read as a path again: a file holding a string is not a document (and must not lead to another file).
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidOptionError('openapi', 'a file holding an OpenAPI 3.0 document (a mapping)', input)
    return checkOpenApiDocument(parsed)
  }
  return checkOpenApiDocument(input)
}

function checkOpenApiDocument (input: unknown): OpenApiDocument {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidOptionError('openapi', 'an OpenAPI 3.0 document or the path of one', input)
  const version = (input as { openapi?: unknown }).openapi
  if (typeof version !== 'string' || !version.startsWith('3.0.')) throw unsupported('#/openapi', `openapi version ${String(version)}, expected 3.0.x`, input)
  return input as OpenApiDocument
}

/**
 * The event schema of `doc`: its `AuditEventRequest` as JSON Schema, with
 * every referenced schema under `definitions`.
 * @internal
 * @throws {@link InvalidOptionError} naming the JSON pointer of an unsupported construct
 */
export function eventSchemaFromOpenApi (doc: OpenApiDocument): Record<string, unknown> {
  const components = (doc.components as { schemas?: Record<string, unknown> } | undefined)?.schemas
  if (typeof components !== 'object' || components === null || !(EVENT_SCHEMA in components)) {
    throw unsupported(`${SCHEMAS}${EVENT_SCHEMA}`, 'no AuditEventRequest schema', doc)
  }
  const definitions: Record<string, unknown> = {}
  const queue: string[] = []
  const refer = (ref: unknown, pointer: string): string => {
    if (typeof ref !== 'string' || !ref.startsWith(SCHEMAS) || ref.slice(SCHEMAS.length).includes('/')) {
      throw unsupported(pointer, `$ref ${JSON.stringify(ref)}: only local refs to ${SCHEMAS}<name> are supported`, ref)
    }
    const name = ref.slice(SCHEMAS.length).replace(/~1/g, '/').replace(/~0/g, '~')
    if (!Object.hasOwn(components, name)) throw unsupported(pointer, `$ref ${JSON.stringify(ref)} to a schema that does not exist`, ref)
    if (!(name in definitions) && !queue.includes(name)) queue.push(name)
    return name
  }
  const root = convert(components[EVENT_SCHEMA], `${SCHEMAS}${EVENT_SCHEMA}`, refer)
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    definitions[name] = null // claimed before converting, so cycles terminate
    definitions[name] = convert(components[name], `${SCHEMAS}${escape(name)}`, refer)
  }
  if (root.type !== 'object' || typeof root.properties !== 'object') throw unsupported(`${SCHEMAS}${EVENT_SCHEMA}`, 'an AuditEventRequest that is not an object with properties', root)
  // PostgreSQL is stricter than a document may be: these columns are NOT NULL.
  const required = new Set([...(root.required as string[] | undefined ?? []), ...NOT_NULL])
  return { ...root, required: [...required], definitions }
}

type Refer = (ref: unknown, pointer: string) => string

function convert (schema: unknown, pointer: string, refer: Refer): Record<string, unknown> {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw unsupported(pointer, 'a schema that is not an object', schema)
  const source = schema as Record<string, unknown>
  // OpenAPI 3.0 ignores the siblings of a $ref.
  if ('$ref' in source) return { $ref: `#/definitions/${escape(refer(source.$ref, `${pointer}/$ref`))}` }
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(source)) {
    const at = `${pointer}/${escape(key)}`
    if (ANNOTATIONS.has(key) || key.startsWith('x-') || key === 'nullable' || key === 'discriminator') continue
    if (VALUES.has(key)) out[key] = value
    else if (key === 'type') {
      if (typeof value !== 'string' || !TYPES.has(value)) throw unsupported(at, `type ${JSON.stringify(value)}`, value)
      out.type = value
    } else if (key === 'format') {
      if (typeof value !== 'string' || !(value in FORMATS)) throw unsupported(at, `format ${JSON.stringify(value)}`, value)
      out.format = value
    } else if (key === 'pattern') {
      try {
        new RegExp(String(value), 'u')
      } catch {
        throw unsupported(at, `pattern ${JSON.stringify(value)} that is not a valid regular expression`, value)
      }
      if (nestedQuantifier(String(value))) throw unsupported(at, `pattern ${JSON.stringify(value)} with a quantified group that itself holds a quantifier (catastrophic backtracking: one event could hold the event loop for minutes)`, value)
      out.pattern = value
    } else if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') {
      // OpenAPI 3.0 (like draft-04) makes them booleans beside minimum/maximum; see below.
      if (typeof value !== 'boolean') throw unsupported(at, `${key} that is not a boolean`, value)
    } else if (key === 'properties') {
      if (typeof value !== 'object' || value === null) throw unsupported(at, 'properties that are not an object', value)
      out.properties = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, convert(sub, `${at}/${escape(name)}`, refer)]))
    } else if (key === 'items' || key === 'not') {
      out[key] = convert(value, at, refer)
    } else if (key === 'additionalProperties') {
      out[key] = typeof value === 'boolean' ? value : convert(value, at, refer)
    } else if (key === 'allOf' || key === 'anyOf' || key === 'oneOf') {
      if (!Array.isArray(value) || value.length === 0) throw unsupported(at, `${key} that is not a non-empty array`, value)
      out[key] = value.map((sub, i) => convert(sub, `${at}/${i}`, refer))
    } else {
      throw unsupported(at, `keyword ${JSON.stringify(key)}`, value)
    }
  }
  for (const [exclusive, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (source[exclusive] !== true) continue
    if (typeof out[bound] !== 'number') throw unsupported(`${pointer}/${exclusive}`, `${exclusive} without ${bound}`, source)
    out[exclusive] = out[bound]
    delete out[bound]
  }
  if ('discriminator' in source) discriminate(source, out, pointer, refer)
  if (source.nullable === true) return nullable(out)
  if (source.nullable !== undefined && source.nullable !== false) throw unsupported(`${pointer}/nullable`, 'nullable that is not a boolean', source.nullable)
  return out
}

/**
 * Whether `pattern` repeats a group that itself repeats, like `(a+)+` or
 * `(\\w+\\s?)*`: the shape whose backtracking is exponential in the input's
 * length. A heuristic, not a proof of safety: it does not catch overlapping
 * alternatives such as `(a|a)*`.
 * @internal
 */
export function nestedQuantifier (pattern: string): boolean {
  // Per open group: whether something quantified is inside it.
  const groups: boolean[] = []
  // Whether the atom just closed can take a quantifier, and whether it holds one.
  let lastHolds = false
  let lastIsAtom = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    const quantifier = c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i)))
    if (quantifier) {
      const repeats = c === '*' || c === '+' || (c === '{' && !/^\{(\d+)(,\1)?\}|^\{[01](,1)?\}/.test(pattern.slice(i)))
      if (lastIsAtom && repeats && lastHolds) return true
      if (lastIsAtom && repeats && groups.length > 0) groups[groups.length - 1] = true
      if (c === '{') i = pattern.indexOf('}', i)
      if (pattern[i + 1] === '?') i++
      lastIsAtom = false
      continue
    }
    lastHolds = false
    lastIsAtom = true
    if (c === '\\') {
      i++
    } else if (c === '[') {
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++
    } else if (c === '(') {
      groups.push(false)
      lastIsAtom = false
    } else if (c === ')') {
      lastHolds = groups.pop() ?? false
      if (lastHolds && groups.length > 0) groups[groups.length - 1] = true
    } else if (c === '|' || c === '^' || c === '$') {
      lastIsAtom = false
    }
  }
  return false
}

function nullable (out: Record<string, unknown>): Record<string, unknown> {
  const withNullEnum = Array.isArray(out.enum) && !out.enum.includes(null) ? { ...out, enum: [...(out.enum as unknown[]), null] } : out
  if (typeof out.type === 'string') return { ...withNullEnum, type: [out.type, 'null'] }
  return { anyOf: [{ type: 'null' }, withNullEnum] }
}

// Rewrites a discriminated oneOf into the shape ajv's discriminator requires.
function discriminate (source: Record<string, unknown>, out: Record<string, unknown>, pointer: string, refer: Refer): void {
  const at = `${pointer}/discriminator`
  const discriminator = source.discriminator as { propertyName?: unknown, mapping?: unknown } | null
  if (typeof discriminator !== 'object' || discriminator === null || typeof discriminator.propertyName !== 'string') {
    throw unsupported(at, 'a discriminator without propertyName', discriminator)
  }
  const tag = discriminator.propertyName
  const branches = source.oneOf
  if (!Array.isArray(branches)) throw unsupported(at, 'a discriminator without oneOf (anyOf and allOf are not supported)', discriminator)
  const names = branches.map((branch, i) => {
    const ref = (branch as { $ref?: unknown } | null)?.$ref
    if (ref === undefined) throw unsupported(`${pointer}/oneOf/${i}`, 'a discriminated oneOf branch that is not a $ref', branch)
    return refer(ref, `${pointer}/oneOf/${i}/$ref`)
  })
  const values = new Map<string, string[]>(names.map((name) => [name, []]))
  const mapping = discriminator.mapping ?? {}
  if (typeof mapping !== 'object' || mapping === null) throw unsupported(`${at}/mapping`, 'a mapping that is not an object', mapping)
  for (const [value, target] of Object.entries(mapping)) {
    const ref = typeof target === 'string' && !target.startsWith('#') ? `${SCHEMAS}${target}` : target
    const name = refer(ref, `${at}/mapping/${escape(value)}`)
    const list = values.get(name)
    if (list === undefined) throw unsupported(`${at}/mapping/${escape(value)}`, `a mapping to ${name}, which is not in the oneOf`, target)
    list.push(value)
  }
  out.type ??= 'object'
  out.required = [...new Set([...(out.required as string[] | undefined ?? []), tag])]
  out.discriminator = { propertyName: tag }
  // Without a mapping entry, the schema's name is its value (OpenAPI 3.0).
  out.oneOf = names.map((name) => {
    const list = values.get(name)!
    return { allOf: [{ $ref: `#/definitions/${escape(name)}` }], properties: { [tag]: { enum: list.length > 0 ? list : [name] } }, required: [tag] }
  })
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
