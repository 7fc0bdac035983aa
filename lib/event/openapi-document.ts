/**
 * An OpenAPI 3.0 document as the `openapi` option gives it: parsed already,
 * or the path of a `.yaml`, `.yml` or `.json` file, read and parsed here.
 * Only the version is checked here; lib/event/openapi-schema.ts reads the
 * schemas.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { InvalidOptionError } from '../errors.js'

/**
 * An OpenAPI 3.0 document, parsed. Only `components.schemas` is read.
 *
 * @example
 * ```ts
 * const doc: OpenApiDocument = { openapi: '3.0.3', components: { schemas: { AuditEventRequest: { type: 'object' } } } }
 * ```
 */
export type OpenApiDocument = Readonly<Record<string, unknown>>

/**
 * The error for a construct of a document that is not supported, at JSON pointer `pointer`.
 * @internal
 */
export function unsupported (pointer: string, what: string, value: unknown): InvalidOptionError {
  return new InvalidOptionError('openapi', `a supported OpenAPI 3.0 document (${what} at ${pointer})`, value)
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
