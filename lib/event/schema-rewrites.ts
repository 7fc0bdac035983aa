/**
 * The rewrites an event schema goes through before ajv compiles it, each a
 * pure function of a schema: a walk over every subschema ({@link mapSchema}),
 * nullable as a type array, string lengths counted cheaply, and PostgreSQL's
 * integer limits. None changes which events are valid, except the limits
 * that PostgreSQL's columns add.
 */
import { _, type Ajv, type KeywordCxt, type SchemaObject } from 'ajv'
import { INT32_MAX, INT32_MIN } from '../protocol/wire.js'

/** The columns PostgreSQL stores as integer (int32). @internal */
export const INTEGER_COLUMNS = ['duration_ms', 'retention_days'] as const

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

/**
 * For {@link mapSchema}: OpenAPI's nullable and an anyOf of T and null both
 * become type: [T, 'null'], which ajv checks in one test instead of an anyOf
 * that collects errors.
 * @internal
 */
export function nullableAsTypeArray (out: Record<string, unknown>): Record<string, unknown> {
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

/**
 * For {@link mapSchema}: minLength and maxLength become the keywords of
 * {@link addLengthKeywords}. ajv counts the code points of every string for
 * minLength/maxLength, a loop that cost 4x the rest of the hot path. These
 * keywords decide on .length (UTF-16 units, never fewer than code points)
 * and count code points only when that cannot decide.
 * @internal
 */
export function fastLengths (out: Record<string, unknown>): Record<string, unknown> {
  if (out.minLength === undefined && out.maxLength === undefined) return out
  const { minLength, maxLength, ...rest } = out
  return { ...rest, ...(minLength === undefined ? {} : { minCodePoints: minLength }), ...(maxLength === undefined ? {} : { maxCodePoints: maxLength }) }
}

function codePoints (value: string): number {
  let count = 0
  for (const _ of value) count++
  return count
}

/**
 * Defines the keywords {@link fastLengths} writes: minCodePoints and maxCodePoints.
 * @internal
 */
export function addLengthKeywords (ajv: Ajv): void {
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

/**
 * The schema with its integer columns limited to int32: PostgreSQL is
 * stricter than the API here.
 * @internal
 */
export function withColumnLimits (schema: SchemaObject): SchemaObject {
  const properties = { ...(schema.properties as Record<string, SchemaObject> | undefined) }
  for (const name of INTEGER_COLUMNS) {
    const field = properties[name]
    if (field !== undefined) properties[name] = { ...field, minimum: INT32_MIN, maximum: INT32_MAX }
  }
  return { ...schema, properties }
}
