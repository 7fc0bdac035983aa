/**
 * Parsing and checking the query string of `GET /api/v1/audit/events`, as
 * kubernaut's DataStorage OpenAPI document gives it: unknown parameters are
 * ignored, as the real service ignores them.
 */
import { isDateTime } from '../event/date-time.js'
import type { EventFilters } from './audit-repository.js'
import { HttpProblem } from './problem.js'

const TEXT_FILTERS = ['event_type', 'event_category', 'event_outcome', 'severity', 'correlation_id'] as const
// Filters the trail browser needs beyond kubernaut's spec; each is the column of the same name.
const TRAIL_FILTERS = ['actor_type', 'actor_id', 'resource_type', 'resource_id', 'namespace'] as const
const KNOWN = new Set<string>([...TEXT_FILTERS, 'since', 'until', 'limit', 'offset', 'detail_key', 'detail_value'])
for (const name of [...TRAIL_FILTERS, 'order']) KNOWN.add(name)
const OUTCOMES = new Set(['success', 'failure', 'pending'])
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
// The spec's pattern for detail_key: it names a top-level field of event_data.
const DETAIL_KEY = /^[a-zA-Z0-9_]+$/
// RFC 3339's years 0001 to 9999: inside both a JavaScript Date and PostgreSQL's timestamptz.
const MIN_MS = new Date('0001-01-01T00:00:00Z').getTime()
const MAX_MS = new Date('9999-12-31T23:59:59.999Z').getTime()

/** Default and maximum page size. @internal */
export const PAGE = Object.freeze({ defaultLimit: 50, maxLimit: 1000 })

function invalid (param: string, message: string): HttpProblem {
  return new HttpProblem(400, 'Bad Request', `invalid query parameter ${param}: ${message}`, { field_errors: { [param]: message } })
}

function instant (param: string, value: string, now: number): Date {
  const relative = /^(\d{1,9})([smhd])$/.exec(value)
  if (relative !== null) {
    // 99999999d would reach year -271000: outside a Date (NaN) and outside PostgreSQL.
    const ms = now - Number(relative[1]) * UNIT_MS[relative[2]!]!
    if (ms < MIN_MS) throw invalid(param, 'the duration reaches back before year 0001')
    return new Date(ms)
  }
  // An unencoded '+' in a query string arrives as a space: '...T10:00:00 02:00'.
  const repaired = value.replace(/ (\d{2}:\d{2})$/, '+$1')
  if (isDateTime(repaired)) {
    const date = new Date(repaired)
    if (date.getTime() >= MIN_MS && date.getTime() <= MAX_MS) return date
  }
  throw invalid(param, 'expected a duration such as 24h, 30m or 7d, or an RFC 3339 date-time')
}

function integer (param: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > max) throw invalid(param, `expected an integer from ${min} to ${max}`)
  return Number(value)
}

/**
 * Turns a query string into filters. Unknown parameters are ignored; a known
 * one given twice is refused, since it is unclear which value was meant.
 * `since` later than `until` is not an error: it matches no events.
 * @internal
 * @throws {@link HttpProblem} 400 naming the offending parameter
 */
export function parseFilters (search: URLSearchParams, now = Date.now()): EventFilters {
  const values: Record<string, string> = {}
  for (const key of new Set(search.keys())) {
    if (!KNOWN.has(key)) continue
    const all = search.getAll(key)
    if (all.length > 1) throw invalid(key, 'given more than once')
    // PostgreSQL text cannot hold NUL: no stored value can match one.
    if (all[0]!.includes('\u0000')) throw invalid(key, 'contains a NUL character')
    values[key] = all[0]!
  }
  const filters: { -readonly [K in keyof EventFilters]: EventFilters[K] } = {
    limit: integer('limit', values.limit, PAGE.defaultLimit, 1, PAGE.maxLimit),
    offset: integer('offset', values.offset, 0, 0, 1_000_000_000)
  }
  for (const name of [...TEXT_FILTERS, ...TRAIL_FILTERS]) {
    const value = values[name]
    if (value === undefined) continue
    if (value === '' || value.length > 255) throw invalid(name, 'expected 1 to 255 characters')
    filters[name] = value
  }
  if (filters.event_outcome !== undefined && !OUTCOMES.has(filters.event_outcome)) throw invalid('event_outcome', 'expected success, failure or pending')
  const order = values.order
  if (order !== undefined && order !== 'asc' && order !== 'desc') throw invalid('order', 'expected asc or desc')
  if (order !== undefined) filters.order = order
  if (values.since !== undefined) filters.since = instant('since', values.since, now)
  if (values.until !== undefined) filters.until = instant('until', values.until, now)
  const { detail_key: key, detail_value: value } = values
  if (key !== undefined || value !== undefined) {
    if (key === undefined || key === '') throw invalid('detail_key', 'required with detail_value')
    if (value === undefined || value === '') throw invalid('detail_value', 'required with detail_key')
    if (key.length > 255 || !DETAIL_KEY.test(key)) throw invalid('detail_key', 'expected 1 to 255 letters, digits or underscores')
    if (value.length > 4096) throw invalid('detail_value', 'expected at most 4096 characters')
    filters.detail = { key, value }
  }
  return filters
}
