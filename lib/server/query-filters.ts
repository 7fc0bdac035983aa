/**
 * Parsing and checking the query string of `GET /api/v1/audit/events`.
 */
import { isDateTime } from '../event.js'
import type { EventFilters } from './audit-repository.js'
import { HttpProblem } from './problem.js'

const TEXT_FILTERS = ['event_type', 'event_category', 'event_outcome', 'severity', 'correlation_id'] as const
// Filters the trail browser needs beyond kubernaut's spec; each is the column of the same name.
const TRAIL_FILTERS = ['actor_type', 'actor_id', 'resource_type', 'resource_id', 'namespace'] as const
const KNOWN = new Set<string>([...TEXT_FILTERS, 'since', 'until', 'limit', 'offset'])
for (const name of [...TRAIL_FILTERS, 'order']) KNOWN.add(name)
const OUTCOMES = new Set(['success', 'failure', 'pending'])
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Default and maximum page size. @internal */
export const PAGE = Object.freeze({ defaultLimit: 50, maxLimit: 1000 })

function invalid (param: string, message: string): HttpProblem {
  return new HttpProblem(400, 'Bad Request', `invalid query parameter ${param}: ${message}`, { field_errors: { [param]: message } })
}

function instant (param: string, value: string, now: number): Date {
  const relative = /^(\d{1,9})([smhd])$/.exec(value)
  if (relative !== null) return new Date(now - Number(relative[1]) * UNIT_MS[relative[2]!]!)
  // An unencoded '+' in a query string arrives as a space: '...T10:00:00 02:00'.
  const repaired = value.replace(/ (\d{2}:\d{2})$/, '+$1')
  if (isDateTime(repaired)) return new Date(repaired)
  throw invalid(param, 'expected a duration such as 24h, 30m or 7d, or an RFC 3339 date-time')
}

function integer (param: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > max) throw invalid(param, `expected an integer from ${min} to ${max}`)
  return Number(value)
}

/**
 * Turns a query string into filters.
 * @internal
 * @throws {@link HttpProblem} 400 naming the offending parameter
 */
export function parseFilters (search: URLSearchParams, now = Date.now()): EventFilters {
  const values: Record<string, string> = {}
  for (const key of search.keys()) {
    if (!KNOWN.has(key)) throw invalid(key, 'unknown parameter')
    const all = search.getAll(key)
    if (all.length > 1) throw invalid(key, 'given more than once')
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
  if (filters.since !== undefined && filters.until !== undefined && filters.since > filters.until) throw invalid('since', 'after until')
  return filters
}
