/**
 * Reading a DataStorage answer outside 2xx: its body, cut at 64 KiB; the
 * problem document in it (RFC 9457 fields, plus `field_errors` and
 * `expected_seq`); and its `Retry-After`. What the answer means for the
 * next attempt is the retry policy's (`statusError`); this only reads it.
 */
import type { Dispatcher } from 'undici'
import type { ProblemDocument } from '../errors.js'

// Error bodies are read for their problem document; a larger one is cut.
const MAX_ERROR_BODY_CHARS = 64 * 1024

/**
 * The body as text, cut at 64 Ki characters; the rest is read and dropped.
 * @internal
 */
export async function readLimited (body: Dispatcher.ResponseData['body']): Promise<string> {
  let text = ''
  for await (const chunk of body) {
    if (text.length < MAX_ERROR_BODY_CHARS) text += (chunk as Buffer).toString('utf8')
  }
  return text.slice(0, MAX_ERROR_BODY_CHARS)
}

/**
 * The problem document in a body: its fields of the expected types; undefined
 * when the body is no JSON object or has none of them.
 * @internal
 */
export function parseProblem (text: string): ProblemDocument | undefined {
  if (text === '') return undefined
  try {
    const value = JSON.parse(text) as unknown
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
    const v = value as Record<string, unknown>
    const problem: { -readonly [K in keyof ProblemDocument]: ProblemDocument[K] } = {}
    if (typeof v.type === 'string') problem.type = v.type
    if (typeof v.title === 'string') problem.title = v.title
    if (typeof v.status === 'number') problem.status = v.status
    if (typeof v.detail === 'string') problem.detail = v.detail
    if (typeof v.field_errors === 'object' && v.field_errors !== null) problem.field_errors = v.field_errors as Record<string, string>
    if (Number.isSafeInteger(v.expected_seq)) problem.expected_seq = v.expected_seq as number
    return Object.keys(problem).length === 0 ? undefined : problem
  } catch {
    return undefined
  }
}

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP-date.
 * @internal
 */
export function parseRetryAfter (value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (raw === undefined || raw.trim() === '') return undefined
  const trimmed = raw.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
