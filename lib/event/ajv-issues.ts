/**
 * ajv's errors in the words of a validation issue: a dotted path and a plain
 * message, for the explaining pass of a compiled event schema.
 */
import type { ErrorObject } from 'ajv'
import type { ValidationIssue } from '../errors.js'

function pointerToPath (pointer: string): string {
  if (pointer === '') return ''
  return pointer.slice(1).split('/').map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~')).join('.')
}

function join (path: string, key: unknown): string {
  return path === '' ? String(key) : `${path}.${String(key)}`
}

/**
 * One ajv error as a validation issue, with a dotted path; undefined for an
 * error that says nothing of its own.
 * @internal
 */
export function toIssue (error: ErrorObject): ValidationIssue | undefined {
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
