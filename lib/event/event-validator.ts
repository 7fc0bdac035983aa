/**
 * A compiled event schema: ajv for the JSON Schema (the generic one or one
 * taken from an OpenAPI document), then the checks of what PostgreSQL can
 * store. The client and the reference server compile the same schema; they
 * differ in one thing only, unknown top-level keys (see `allowUnknownKeys`).
 */
import { _, Ajv, type ErrorObject, type KeywordCxt, type SchemaObject, type ValidateFunction } from 'ajv'
import { isIP } from 'node:net'
import { isDateTime } from './date-time.js'
import type { ValidationIssue } from '../errors.js'
import type { AuditEvent, AuditEventInit } from './event.js'
import { unstorableEscape, unstorableString, unstorableValue } from './storable-json.js'
import { INT32_MAX, INT32_MIN, UUID } from '../protocol/wire.js'

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const EMAIL = /^[^\s@]+@[^\s@]+$/
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i
const INT32 = { minimum: INT32_MIN, maximum: INT32_MAX }

/**
 * The formats an event schema may use: JSON Schema's and OpenAPI 3.0's.
 * Any other format is refused when the schema is compiled.
 * @internal
 */
export const FORMATS: Readonly<Record<string, { type: 'string', validate: (s: string) => boolean } | { type: 'number', validate: (n: number) => boolean }>> = {
  'date-time': { type: 'string', validate: isDateTime },
  date: {
    type: 'string',
    validate: (s) => {
      const m = DATE.exec(s)
      return m !== null && Number(m[1]) >= 1 && isDateTime(`${s}T00:00:00Z`)
    }
  },
  uuid: { type: 'string', validate: (s) => UUID.test(s) },
  email: { type: 'string', validate: (s) => EMAIL.test(s) },
  hostname: { type: 'string', validate: (s) => HOSTNAME.test(s) },
  ipv4: { type: 'string', validate: (s) => isIP(s) === 4 },
  ipv6: { type: 'string', validate: (s) => isIP(s) === 6 },
  uri: { type: 'string', validate: (s) => URL.canParse(s) },
  byte: { type: 'string', validate: (s) => BASE64.test(s) },
  binary: { type: 'string', validate: () => true },
  password: { type: 'string', validate: () => true },
  int32: { type: 'number', validate: (n) => Number.isInteger(n) && n >= INT32.minimum && n <= INT32.maximum },
  int64: { type: 'number', validate: (n) => Number.isInteger(n) },
  float: { type: 'number', validate: (n) => Number.isFinite(n) },
  double: { type: 'number', validate: (n) => Number.isFinite(n) }
}

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

/** The columns PostgreSQL stores as integer (int32). @internal */
export const INTEGER_COLUMNS = ['duration_ms', 'retention_days'] as const

type KeyRules = (value: object, hasOwn: (o: object, key: string) => boolean) => boolean

/**
 * An event schema compiled for one side: `check` is the hot path (a boolean,
 * strings left to the serialized text), `issues` explains a failure.
 * @internal
 */
export class CompiledEventSchema {
  // ajv, stopping at the first error, without the top-level key rules: the hot path.
  readonly #check: ValidateFunction
  // The top-level key rules as generated code: own required keys, no unknown own key (client).
  readonly #keys: KeyRules
  // A discriminated event_data, dispatched in one Map lookup by its tag instead
  // of ajv's if-chain over every mapped value (142 for kubernaut): tag value -> payload check.
  readonly #tag: string | undefined
  readonly #payloads: ReadonlyMap<string, ValidateFunction>
  // ajv collecting every error, key rules included; compiled on the first invalid event.
  #explain: ValidateFunction | undefined
  readonly #schema: SchemaObject
  readonly #allowUnknownKeys: boolean
  // Top-level property names: the strings the validator checks for NUL characters.
  readonly #names: readonly string[]
  /** Whether this schema came from an OpenAPI document (so `event_data` has no default). */
  readonly fromDocument: boolean

  constructor (schema: SchemaObject, options: { allowUnknownKeys: boolean, fromDocument: boolean }) {
    this.#schema = withColumnLimits(mapSchema(schema, nullableAsTypeArray) as SchemaObject)
    this.#allowUnknownKeys = options.allowUnknownKeys
    this.#names = Object.keys((this.#schema.properties ?? {}) as object)
    this.fromDocument = options.fromDocument
    const { additionalProperties: _ignored, ...lax } = mapSchema(this.#schema, fastLengths) as SchemaObject
    const fast = newAjv({ allErrors: false, ownProperties: false })
    addLengthKeywords(fast)
    const split = splitDiscriminator(lax, fast)
    this.#check = fast.compile(split.schema)
    this.#tag = split.tag
    this.#payloads = split.payloads
    this.#keys = keyRules(this.#names, (this.#schema.required ?? []) as string[], options.allowUnknownKeys)
    // A document's schema takes a while to compile: not in the middle of traffic.
    if (options.fromDocument) this.#explainer()
  }

  #explainer (): ValidateFunction {
    this.#explain ??= newAjv({ allErrors: true, ownProperties: true }).compile({ ...this.#schema, additionalProperties: this.#allowUnknownKeys })
    return this.#explain
  }

  /** Whether `value` is a valid event, except for its strings: see {@link unstorableEscape}. */
  check (value: unknown): boolean {
    if (!this.#check(value)) return false
    const event = value as Record<string, unknown>
    if (this.#tag !== undefined) {
      const data = event.event_data as Record<string, unknown>
      const payload = this.#payloads.get(data[this.#tag] as string)
      if (payload === undefined || !payload(data)) return false
    }
    if (!this.#keys(event, Object.hasOwn)) return false
    if (!pairedParent(event)) return false
    return unstorableValue(event.event_data, 1, false) === undefined
  }

  /** Every problem of `value`, each once per path; never empty when {@link check} fails. */
  issues (value: unknown): ValidationIssue[] {
    const explain = this.#explainer()
    const issues: ValidationIssue[] = []
    const seen = new Set<string>()
    const add = (path: string, message: string): void => {
      if (seen.has(path)) return
      seen.add(path)
      issues.push({ path, message })
    }
    if (!explain(value)) {
      for (const error of explain.errors ?? []) {
        const issue = toIssue(error)
        if (issue !== undefined) add(issue.path, issue.message)
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return issues
    const event = value as Record<string, unknown>
    if (typeof event.toJSON === 'function') add('', 'the event has a toJSON() method: pass the plain data it returns')
    if (!pairedParent(event)) {
      add(event.parent_event_date == null ? 'parent_event_date' : 'parent_event_id', 'required together with parent_event_id / parent_event_date')
    }
    this.#stringIssues(event, add)
    if (issues.length === 0 && !this.check(value)) add('', 'not a valid audit event')
    return issues
  }

  /**
   * Every problem of `value`, found the way `record()` finds them: an empty
   * list when the event can be sent and stored.
   */
  validate (value: unknown): ValidationIssue[] {
    if (!this.check(value)) return this.issues(value)
    const issues: ValidationIssue[] = []
    this.#stringIssues(value as Record<string, unknown>, (path, message) => issues.push({ path, message }))
    return issues
  }

  // Strings and keys of the known fields that PostgreSQL cannot store. Unknown
  // fields are refused (client) or ignored and never stored (server).
  #stringIssues (event: Record<string, unknown>, add: (path: string, message: string) => void): void {
    for (const name of this.#names) {
      if (!Object.hasOwn(event, name)) continue
      const field = event[name]
      if (name === 'event_data') {
        const issue = unstorableValue(field, 1, true)
        if (issue !== undefined) add(issue.path === '' ? 'event_data' : `event_data.${issue.path}`, issue.message)
      } else if (typeof field === 'string') {
        const message = unstorableString(field)
        if (message !== undefined) add(name, message)
      }
    }
  }

  /**
   * Why the serialized event `json` cannot be stored, as issues; undefined
   * when it can. Called after {@link check} passed and the event was serialized.
   */
  textIssues (value: unknown, json: string): ValidationIssue[] | undefined {
    const message = unstorableEscape(json)
    if (message === undefined) return undefined
    const issues = this.issues(value)
    // A NUL in an unknown key that the server would ignore still cannot be sent.
    return issues.length > 0 ? issues : [{ path: '', message }]
  }
}

const DOCUMENT_ID = 'audit-stream:event-schema'

/**
 * For the hot path: takes a discriminated `event_data` out of `schema` (it
 * becomes `{ type: 'object' }`) and compiles each branch on its own, keyed by
 * the tag values that pick it. The shared definitions are added to `ajv` once.
 */
function splitDiscriminator (schema: SchemaObject, ajv: Ajv): { schema: SchemaObject, tag: string | undefined, payloads: Map<string, ValidateFunction> } {
  const properties = schema.properties as Record<string, SchemaObject> | undefined
  const data = properties?.event_data
  const tag = (data?.discriminator as { propertyName?: unknown } | undefined)?.propertyName
  const payloads = new Map<string, ValidateFunction>()
  if (data === undefined || typeof tag !== 'string' || !Array.isArray(data.oneOf)) return { schema, tag: undefined, payloads }
  const { definitions, ...rest } = schema
  ajv.addSchema({ $id: DOCUMENT_ID, definitions: definitions ?? {} })
  // Refs now point into the added document.
  const rebase = (node: unknown): unknown => mapSchema(node, (sub) => typeof sub.$ref === 'string' && sub.$ref.startsWith('#/') ? { ...sub, $ref: `${DOCUMENT_ID}${sub.$ref}` } : sub)
  for (const branch of data.oneOf as SchemaObject[]) {
    const values = ((branch.properties as Record<string, { enum?: unknown[] }> | undefined)?.[tag]?.enum ?? []) as string[]
    const validate = ajv.compile(rebase(branch) as SchemaObject)
    for (const value of values) payloads.set(value, validate)
  }
  const { discriminator: _d, oneOf: _o, ...dataRest } = data
  return { schema: { ...rest, properties: { ...properties, event_data: { ...dataRest, type: 'object' } } }, tag, payloads }
}

// parent_event_id and parent_event_date come together or not at all (both may be null).
function pairedParent (event: Record<string, unknown>): boolean {
  return (event.parent_event_id == null) === (event.parent_event_date == null)
}

// Generated like TypeBox's checks: a switch over the names, ~3x a Set lookup.
// Only own keys count, since JSON.stringify sends only those; a plain
// object's enumerable keys are all its own, so hasOwn runs only for others.
function keyRules (names: readonly string[], required: readonly string[], allowUnknownKeys: boolean): KeyRules {
  const optional = names.filter((name) => !required.includes(name))
  const cases = (list: readonly string[]): string => list.map((name) => `case ${JSON.stringify(name)}:`).join(' ')
  return new Function('value', 'hasOwn', `
    const proto = Object.getPrototypeOf(value)
    const plain = proto === Object.prototype || proto === null
    if (!plain && typeof value.toJSON === 'function') return false
    let own = 0
    for (const key in value) {
      switch (key) {
        ${required.length > 0 ? `${cases(required)} if (plain || hasOwn(value, key)) own++; continue` : ''}
        ${optional.length > 0 ? `${cases(optional)} continue` : ''}
        default:
          if (key === 'toJSON' || (${allowUnknownKeys ? 'false' : 'true'} && (plain || hasOwn(value, key)))) return false
      }
    }
    return own === ${required.length}`) as KeyRules
}

const SCHEMA_MAPS = new Set(['properties', 'definitions', '$defs', 'patternProperties'])
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'items'])
const SCHEMAS = new Set(['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames'])

/**
 * A copy of a JSON Schema with `fn` applied to each subschema, innermost
 * first. Only keywords that hold schemas are entered, so a property named
 * like a keyword is never mistaken for one.
 * @internal
 */
export function mapSchema (schema: unknown, fn: (schema: Record<string, unknown>) => Record<string, unknown>): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) {
    if (SCHEMA_MAPS.has(key) && typeof value === 'object' && value !== null) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, mapSchema(sub, fn)]))
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map((sub) => mapSchema(sub, fn))
    } else if (SCHEMAS.has(key)) {
      out[key] = mapSchema(value, fn)
    } else {
      out[key] = value
    }
  }
  return fn(out)
}

// OpenAPI's nullable and an anyOf of T and null both become type: [T, 'null'],
// which ajv checks in one test instead of an anyOf that collects errors.
function nullableAsTypeArray (out: Record<string, unknown>): Record<string, unknown> {
  const anyOf = out.anyOf
  if (Array.isArray(anyOf) && anyOf.length === 2) {
    const nullAt = anyOf.findIndex(isOnlyNull)
    const other = anyOf[1 - nullAt] as Record<string, unknown> | undefined
    if (nullAt !== -1 && other !== undefined && typeof other.type === 'string' && other.enum === undefined) {
      const { anyOf: _replaced, ...rest } = out
      return { ...rest, ...other, type: [other.type, 'null'] }
    }
  }
  return out
}

// ajv counts the code points of every string for minLength/maxLength, a
// loop that cost 4x the rest of the hot path. These keywords decide on
// .length (UTF-16 units, never fewer than code points) and count code
// points only when that cannot decide.
function fastLengths (out: Record<string, unknown>): Record<string, unknown> {
  if (out.minLength === undefined && out.maxLength === undefined) return out
  const { minLength, maxLength, ...rest } = out
  return { ...rest, ...(minLength === undefined ? {} : { minCodePoints: minLength }), ...(maxLength === undefined ? {} : { maxCodePoints: maxLength }) }
}

function codePoints (value: string): number {
  let count = 0
  for (const _ of value) count++
  return count
}

function addLengthKeywords (ajv: Ajv): void {
  ajv.addKeyword({
    keyword: 'maxCodePoints',
    type: 'string',
    schemaType: 'number',
    code (cxt: KeywordCxt) {
      const count = cxt.gen.scopeValue('func', { ref: codePoints })
      cxt.fail(_`${cxt.data}.length > ${cxt.schema} && ${count}(${cxt.data}) > ${cxt.schema}`)
    }
  })
  ajv.addKeyword({
    keyword: 'minCodePoints',
    type: 'string',
    schemaType: 'number',
    code (cxt: KeywordCxt) {
      const count = cxt.gen.scopeValue('func', { ref: codePoints })
      // A string has at least half as many code points as UTF-16 units.
      cxt.fail(_`${cxt.data}.length < ${cxt.schema} || (${cxt.data}.length < 2 * ${cxt.schema} && ${count}(${cxt.data}) < ${cxt.schema})`)
    }
  })
}

function isOnlyNull (schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && Object.keys(schema).length === 1 && (schema as { type?: unknown }).type === 'null'
}

// PostgreSQL is stricter than the API here: its integer columns hold int32.
function withColumnLimits (schema: SchemaObject): SchemaObject {
  const properties = { ...(schema.properties as Record<string, SchemaObject> | undefined) }
  for (const name of INTEGER_COLUMNS) {
    const field = properties[name]
    if (field !== undefined) properties[name] = { ...field, ...INT32 }
  }
  return { ...schema, properties }
}

function newAjv ({ allErrors, ownProperties }: { allErrors: boolean, ownProperties: boolean }): Ajv {
  const ajv = new Ajv({
    allErrors,
    // Only own properties are serialized; the hot path checks that itself (keyRules, storable-json.ts).
    ownProperties,
    // NaN and Infinity are not JSON numbers.
    strictNumbers: true,
    discriminator: true,
    allowUnionTypes: true,
    // Each referenced schema compiled once, as its own function: 2-3x faster to compile.
    inlineRefs: false,
    // The explaining variant runs only for invalid events.
    code: { optimize: !allErrors },
    // Documents are checked keyword by keyword when converted (openapi-schema.ts).
    strict: false
  })
  for (const [name, format] of Object.entries(FORMATS)) ajv.addFormat(name, format as never)
  return ajv
}

function pointerToPath (pointer: string): string {
  if (pointer === '') return ''
  return pointer.slice(1).split('/').map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~')).join('.')
}

function join (path: string, key: unknown): string {
  return path === '' ? String(key) : `${path}.${String(key)}`
}

function toIssue (error: ErrorObject): ValidationIssue | undefined {
  const path = pointerToPath(error.instancePath)
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      return { path: join(path, params.missingProperty), message: 'required' }
    case 'additionalProperties':
      return { path: join(path, params.additionalProperty), message: 'unknown field' }
    case 'discriminator':
      return {
        path: join(path, params.tag),
        message: params.tagValue === undefined
          ? 'required'
          : typeof params.tagValue === 'string'
            ? `${JSON.stringify(params.tagValue)} is not a value the document maps to a schema`
            : 'must be a string'
      }
    case 'anyOf':
    case 'oneOf':
      return { path, message: 'matches none of the allowed schemas' }
    case 'enum':
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` }
    default:
      return { path, message: error.message ?? `fails ${error.keyword}` }
  }
}
