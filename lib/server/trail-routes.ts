/**
 * The read endpoints the trail browser calls, beyond kubernaut's
 * `GET /api/v1/audit/events`; each takes that endpoint's filters, checked by
 * the same `parseFilters`, and the same bearer token:
 *
 * - `GET /api/v1/audit/events/{event_id}`: one event, 404 when absent;
 * - `GET /api/v1/audit/events/export`: every matching event as JSON Lines
 *   (`application/x-ndjson`), streamed from the database in keyset pages;
 *   `limit` and `offset` are ignored;
 * - `GET /api/v1/audit/events/histogram`: counts per time bucket and outcome.
 */
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { HttpProblem, sendJson } from './problem.js'
import { parseFilters } from './query-filters.js'
import type { TrailQueries } from './trail-queries.js'
import { EVENTS_PATH, UUID } from '../protocol/wire.js'

/** Answers one trail request. @internal */
export type TrailRoute = (res: ServerResponse, search: URLSearchParams, queries: TrailQueries) => Promise<void>

const PREFIX = `${EVENTS_PATH}/`

const exportEvents: TrailRoute = async (res, search, queries) => {
  const filters = parseFilters(search)
  res.writeHead(200, {
    'content-type': 'application/x-ndjson; charset=utf-8',
    'content-disposition': 'attachment; filename="audit-events.jsonl"',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store'
  })
  // pipeline() waits for the client to read each line (backpressure) and stops the query loop when it goes away.
  await pipeline(Readable.from(lines(queries.stream(filters))), res)
}

async function * lines (events: AsyncIterable<Record<string, unknown>>): AsyncGenerator<string> {
  for await (const event of events) yield JSON.stringify(event) + '\n'
}

const histogram: TrailRoute = async (res, search, queries) => {
  sendJson(res, 200, await queries.histogram(parseFilters(search)))
}

function eventById (eventId: string): TrailRoute {
  return async (res, _search, queries) => {
    if (!UUID.test(eventId)) {
      throw new HttpProblem(400, 'Bad Request', 'invalid path parameter event_id: expected a UUID', { field_errors: { event_id: 'expected a UUID' } })
    }
    const event = await queries.get(eventId.toLowerCase())
    if (event === undefined) throw new HttpProblem(404, 'Not Found', `no audit event ${eventId}`)
    sendJson(res, 200, event)
  }
}

/**
 * The trail endpoint for `pathname`, or undefined when it is not one. The
 * batch endpoint (`/api/v1/audit/events/batch`) is not: it is matched first.
 * @internal
 */
export function trailRoute (pathname: string): TrailRoute | undefined {
  if (!pathname.startsWith(PREFIX)) return undefined
  const rest = pathname.slice(PREFIX.length)
  if (rest === 'export') return exportEvents
  if (rest === 'histogram') return histogram
  if (rest !== '' && !rest.includes('/')) return eventById(rest)
  return undefined
}
