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
import { FORMATS } from './schema-formats.js'
import { nestedQuantifier } from './nested-quantifier.js'
import { unsupported, type OpenApiDocument } from './openapi-document.js'

const SCHEMAS = '#/components/schemas/'
/** The name of a document's event schema. @internal */
export const EVENT_SCHEMA = 'AuditEventRequest'
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object'])
const ANNOTATIONS = new Set(['description', 'title', 'example', 'deprecated', 'readOnly', 'writeOnly', 'xml', 'externalDocs', 'default'])
const VALUES = new Set(['multipleOf', 'maximum', 'minimum', 'maxLength', 'minLength', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'required', 'enum'])
// Columns the reference server stores NOT NULL: a document must not make them optional.
const NOT_NULL = ['version', 'event_type', 'event_timestamp', 'event_category', 'event_action', 'event_outcome', 'correlation_id', 'event_data']

function escape (name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1')
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
