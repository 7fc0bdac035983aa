/**
 * The endpoints of ordered lanes (issue 15), behind the same bearer token as
 * the rest of the API:
 *
 * - `POST /api/v1/audit/checkpoints`: store signed checkpoints and skips
 *   (lane-notes.ts); 201 `{ stored }`.
 * - `GET /api/v1/audit/verify?producer_id=&lane=&from=&to=`: the server runs
 *   `verifyChain` over the lane's stored rows and notes. One request covers at
 *   most {@link MAX_VERIFY_SEQS} seqs: an explicit wider range is a 400; without
 *   `to`, the range ends there and the answer's `to` says where.
 * - `GET /api/v1/audit/lanes[?correlation_id=]`: the lanes and their last seq.
 * - `GET /api/v1/audit/chain?producer_id=&lane=&from=&to=&limit=`: the rows and
 *   notes of a lane, for a verifier that trusts nothing the server computes.
 */
import type { KeyObject } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parseNote } from '../chain/parse-note.js'
import { publicKeyOf } from '../chain/note-signature.js'
import type { ParsedNote } from '../chain/signed-note.js'
import { verifyChain } from '../chain/verify-chain.js'
import type { Database } from './database.js'
import { parseNotesRequest, storeNotes } from './lane-notes.js'
import type { LaneQueries, StoredNote } from './lane-queries.js'
import { HttpProblem, sendJson } from './problem.js'
import { readJsonBody } from './request-body.js'
import { CHAIN_PATH, CHECKPOINTS_PATH, INT32_MAX, LANES_PATH, UUID, VERIFY_PATH } from '../protocol/wire.js'

/** Most seqs one `GET /api/v1/audit/verify` covers: the rows are held in memory while verifying. @internal */
export const MAX_VERIFY_SEQS = 100_000
/** Default and largest `limit` of `GET /api/v1/audit/chain`. */
const CHAIN_LIMIT = 1_000
const MAX_CHAIN_LIMIT = 10_000
/** Most lanes `GET /api/v1/audit/lanes` lists. */
const MAX_LANES_LISTED = 10_000
const MAX_CORRELATION_ID = 1_024

const DIGITS = /^\d{1,16}$/

/** What the lane endpoints need from the server. @internal */
export interface LaneContext {
  readonly db: Database
  readonly queries: LaneQueries
  /** The server's trusted keys (`trailPublicKeys`); empty when none are configured. */
  readonly trusted: readonly KeyObject[]
  readonly bodyLimitBytes: number
}

/** Answers one lane request. @internal */
export type LaneRoute = (req: IncomingMessage, res: ServerResponse, search: URLSearchParams, context: LaneContext) => Promise<void>

function invalid (param: string, message: string): HttpProblem {
  return new HttpProblem(400, 'Bad Request', `invalid query parameter ${param}: ${message}`, { field_errors: { [param]: message } })
}

function single (search: URLSearchParams, name: string): string | undefined {
  const values = search.getAll(name)
  if (values.length > 1) throw invalid(name, 'given more than once')
  return values[0]
}

function producerParam (search: URLSearchParams): string {
  const value = single(search, 'producer_id')
  if (value === undefined) throw invalid('producer_id', 'required')
  if (!UUID.test(value)) throw invalid('producer_id', 'expected a UUID')
  return value.toLowerCase()
}

function integerParam (search: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const value = single(search, name)
  if (value === undefined) return undefined
  const n = Number(value)
  if (!DIGITS.test(value) || n < min || n > max) throw invalid(name, `expected an integer ${min} to ${max}`)
  return n
}

function laneParam (search: URLSearchParams): number {
  const lane = integerParam(search, 'lane', 0, INT32_MAX)
  if (lane === undefined) throw invalid('lane', 'required')
  return lane
}

// from (default 1) and to (optional), positive safe integers with from <= to.
function rangeParams (search: URLSearchParams): { from: number, to: number | undefined } {
  const from = integerParam(search, 'from', 1, Number.MAX_SAFE_INTEGER) ?? 1
  const to = integerParam(search, 'to', 1, Number.MAX_SAFE_INTEGER)
  if (to !== undefined && to < from) throw invalid('to', 'expected to >= from')
  return { from, to }
}

/**
 * The stored notes, parsed, and the lowest seq of a note whose text no
 * longer matches its row: stored notes were parsed when they came in, so a
 * text that does not parse, or that is a note of another position (an older
 * genuine checkpoint copied over a newer one), was edited in the database.
 * Such a note anchors nothing.
 */
function parsedNotes (stored: readonly StoredNote[]): { notes: ParsedNote[], replaced: number | undefined } {
  const notes: ParsedNote[] = []
  let replaced: number | undefined
  for (const row of stored) {
    let parsed: ParsedNote | undefined
    try {
      parsed = parseNote(row.text)
    } catch {
      parsed = undefined
    }
    const note = parsed?.note
    const matches = note !== undefined && note.kind === row.kind &&
      (note.kind === 'checkpoint' ? note.seq === row.seq : note.to === row.seq && note.from === row.from)
    if (matches) notes.push(parsed!)
    else replaced = Math.min(replaced ?? row.seq, row.seq)
  }
  return { notes, replaced }
}

const checkpoints: LaneRoute = async (req, res, _search, context) => {
  const { value } = await readJsonBody(req, context.bodyLimitBytes)
  const request = parseNotesRequest(value)
  const stored = await storeNotes(context.db, request, context.trusted)
  sendJson(res, 201, { stored })
}

const verify: LaneRoute = async (req, res, search, context) => {
  req.resume()
  const producerId = producerParam(search)
  const lane = laneParam(search)
  const { from, to: asked } = rangeParams(search)
  if (asked !== undefined && asked - from + 1 > MAX_VERIFY_SEQS) throw invalid('to', `one request verifies at most ${MAX_VERIFY_SEQS} seqs`)
  const to = asked ?? Math.max(from - 1, Math.min(await context.queries.highestSeq(producerId, lane), from + MAX_VERIFY_SEQS - 1))
  const rows = await context.queries.rows(producerId, lane, from, to, MAX_VERIFY_SEQS * 2)
  const { notes, replaced } = parsedNotes(await context.queries.notes(producerId, lane))
  const pinned = context.trusted.length > 0 ? undefined : await context.queries.pinnedKey(producerId)
  const publicKeys = context.trusted.length > 0 ? context.trusted : pinned === undefined ? undefined : [publicKeyOf(pinned)]
  const input = { producerId, lane, from, rows, notes, ...(publicKeys === undefined ? {} : { publicKeys }) }
  const result = verifyChain({ ...input, to })
  if (replaced === undefined || replaced < from || replaced > to || (result.first_bad_seq !== undefined && result.first_bad_seq < replaced)) {
    return sendJson(res, 200, result)
  }
  // A replaced note fails verification at its seq; nothing from there on counts as anchored.
  const before = replaced > from ? verifyChain({ ...input, to: replaced - 1 }).verified_through : from - 1
  sendJson(res, 200, {
    ...result,
    verified_through: Math.min(result.verified_through, before),
    first_bad_seq: replaced,
    reason: 'signature',
    detail: 'a stored note was replaced: its text is not the note stored at this seq (a replayed checkpoint)'
  })
}

const lanes: LaneRoute = async (req, res, search, context) => {
  req.resume()
  const correlationId = single(search, 'correlation_id')
  if (correlationId !== undefined && (correlationId === '' || correlationId.length > MAX_CORRELATION_ID)) {
    throw invalid('correlation_id', `expected 1 to ${MAX_CORRELATION_ID} characters`)
  }
  sendJson(res, 200, { lanes: await context.queries.lanes(correlationId, MAX_LANES_LISTED) })
}

const chain: LaneRoute = async (req, res, search, context) => {
  req.resume()
  const producerId = producerParam(search)
  const lane = laneParam(search)
  const { from, to } = rangeParams(search)
  const limit = integerParam(search, 'limit', 1, MAX_CHAIN_LIMIT) ?? CHAIN_LIMIT
  const rows = await context.queries.rows(producerId, lane, from, to ?? Number.MAX_SAFE_INTEGER, limit + 1)
  const more = rows.length > limit ? rows[limit] : undefined
  const notes = await context.queries.notes(producerId, lane)
  sendJson(res, 200, {
    events: more === undefined ? rows : rows.slice(0, limit),
    notes: notes.map((n) => n.text),
    ...(more === undefined ? {} : { next: more.seq })
  })
}

const ROUTES: ReadonlyMap<string, { readonly method: string, readonly route: LaneRoute }> = new Map([
  [CHECKPOINTS_PATH, { method: 'POST', route: checkpoints }],
  [VERIFY_PATH, { method: 'GET', route: verify }],
  [LANES_PATH, { method: 'GET', route: lanes }],
  [CHAIN_PATH, { method: 'GET', route: chain }]
])

/**
 * The lane endpoint at `pathname` and the one method it allows, or undefined when it is not one.
 * @internal
 */
export function laneRoute (pathname: string): { readonly method: string, readonly route: LaneRoute } | undefined {
  return ROUTES.get(pathname)
}
