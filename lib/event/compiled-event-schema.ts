/**
 * A compiled event schema: ajv for the JSON Schema (the generic one or one
 * taken from an OpenAPI document), then the checks of what PostgreSQL can
 * store. The client and the reference server compile the same schema; they
 * differ in one thing only, unknown top-level keys (see `allowUnknownKeys`).
 *
 * Two ajv variants per schema: a fast one for the hot path (a boolean,
 * stopping at the first error, with a discriminated payload dispatched by
 * its tag and the key rules generated), and an explaining one, compiled the
 * first time an event fails, that names every problem.
 */
import { Ajv, type SchemaObject, type ValidateFunction } from 'ajv'
import type { ValidationIssue } from '../errors.js'
import { toIssue } from './ajv-issues.js'
import { keyRules, type KeyRules } from './key-rules.js'
import { FORMATS } from './schema-formats.js'
import { addLengthKeywords, fastLengths, mapSchema, nullableAsTypeArray, withColumnLimits } from './schema-rewrites.js'
import { unstorableEscape, unstorableString, unstorableValue } from './storable-json.js'

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
