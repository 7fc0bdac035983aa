/**
 * Whether what a reader is served is what the store sent: the stored
 * columns of an event, as the server serves them, against the exact bytes
 * it received.
 */

// Fields the server adds to what it was sent.
const SERVER_FIELDS = new Set(['event_id', 'event_date'])
// Fields compared as instants: the server serves them in its own notation.
const DATE_TIME_FIELDS = new Set(['event_timestamp', 'parent_event_date'])

/**
 * True when the served form of an event says exactly what its received
 * bytes say: every field of the bytes is served with an equal value (objects
 * compared deeply, key order ignored; `event_timestamp` and
 * `parent_event_date` compared as instants), and every other served field is
 * one the server adds (`event_id`, `event_date`) or null. Bytes that are not
 * a JSON object never match.
 *
 * @param served - the event as `GET /api/v1/audit/events` serves it
 * @param raw - the event's exact JSON as received
 * @returns whether they agree
 * @example
 * ```ts
 * servedMatchesRaw(row.event, row.raw) // false once event_data was edited in the database
 * ```
 */
export function servedMatchesRaw (served: Record<string, unknown>, raw: string): boolean {
  let sent: unknown
  try {
    sent = JSON.parse(raw)
  } catch {
    return false
  }
  if (!isObject(sent) || !isObject(served)) return false
  for (const [key, value] of Object.entries(sent)) {
    if (!Object.hasOwn(served, key)) {
      if (value === null) continue
      return false
    }
    const other = served[key]
    if (DATE_TIME_FIELDS.has(key) && typeof value === 'string' && typeof other === 'string') {
      const a = Date.parse(value)
      if (Number.isNaN(a) || a !== Date.parse(other)) return false
    } else if (!deepEqual(value, other)) return false
  }
  for (const [key, value] of Object.entries(served)) {
    if (!Object.hasOwn(sent, key) && value !== null && !SERVER_FIELDS.has(key)) return false
  }
  return true
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    if (keys.length !== Object.keys(b).length) return false
    return keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}
