/**
 * Whether what a reader is served is what the producer sent: a stored
 * event's served form (as `GET /api/v1/audit/events` returns it) against
 * the exact bytes received. Verification covers the served form, so an SQL
 * edit of any column fails even when the raw bytes are still intact.
 */

// Timestamps come back from the database as instants, re-rendered by toISOString (millisecond precision).
const INSTANT_FIELDS: ReadonlySet<string> = new Set(['event_timestamp', 'parent_event_date'])
// The uuid column comes back in PostgreSQL's lowercase text form.
const UUID_FIELDS: ReadonlySet<string> = new Set(['parent_event_id'])
const EVENT_DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/

/**
 * Whether a served event matches the exact event JSON received. Every key of
 * `raw` is in `served` with an equal value (deep, key order ignored; a null
 * in raw may be absent from served, as the server omits nulls);
 * `event_timestamp` and `parent_event_date` compare as instants (to the
 * millisecond) and `parent_event_id` case-insensitively. A key served but not
 * in raw must be null, or one the server adds: `event_id` (a string) and
 * `event_date` (the UTC date of `event_timestamp`, `YYYY-MM-DD`).
 *
 * @param served - the event as the server serves it
 * @param raw - the exact event JSON the server received
 * @returns false for any difference, or when `raw` is not a JSON object
 * @example
 * ```ts
 * if (!servedMatchesRaw(row.event, row.raw)) console.error('stored columns differ from the bytes received')
 * ```
 */
export function servedMatchesRaw (served: Record<string, unknown>, raw: string): boolean {
  if (!isObject(served) || typeof raw !== 'string') return false
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return false
  }
  if (!isObject(parsed)) return false
  for (const key of Object.keys(parsed)) {
    const want = parsed[key]
    const got = Object.hasOwn(served, key) ? served[key] : undefined
    if (want === null) {
      if (got !== undefined && got !== null) return false
    } else if (!fieldEqual(key, want, got)) {
      return false
    }
  }
  for (const key of Object.keys(served)) {
    if (Object.hasOwn(parsed, key)) continue
    const got = served[key]
    if (got === null || got === undefined) continue
    if (key === 'event_id') {
      if (typeof got !== 'string') return false
    } else if (key === 'event_date') {
      if (!eventDateMatches(got, parsed.event_timestamp)) return false
    } else {
      return false
    }
  }
  return true
}

function fieldEqual (key: string, want: unknown, got: unknown): boolean {
  if (INSTANT_FIELDS.has(key) && typeof want === 'string' && typeof got === 'string') {
    const a = Date.parse(want)
    const b = Date.parse(got)
    return Number.isFinite(a) && Number.isFinite(b) ? a === b : want === got
  }
  if (UUID_FIELDS.has(key) && typeof want === 'string' && typeof got === 'string') return want.toLowerCase() === got.toLowerCase()
  return jsonEqual(want, got, 0)
}

// The server generates event_date from event_timestamp AT TIME ZONE 'UTC'.
function eventDateMatches (got: unknown, timestamp: unknown): boolean {
  if (typeof got !== 'string' || !EVENT_DATE.test(got)) return false
  const ms = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN
  return !Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) === got
}

// Depth is bounded by the parser that made `want`; the guard only keeps a hostile served object from recursing forever.
function jsonEqual (want: unknown, got: unknown, depth: number): boolean {
  if (depth > 1_000) return false
  if (want === got) return true
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return false
    for (let i = 0; i < want.length; i++) if (!jsonEqual(want[i], got[i], depth + 1)) return false
    return true
  }
  if (isObject(want)) {
    if (!isObject(got)) return false
    const keys = Object.keys(want)
    if (keys.length !== Object.keys(got).length) return false
    for (const key of keys) if (!Object.hasOwn(got, key) || !jsonEqual(want[key], got[key], depth + 1)) return false
    return true
  }
  return false
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
