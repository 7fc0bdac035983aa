/**
 * The reference DataStorage server: a small, real implementation of the
 * audit subset of the DataStorage API, for local development, examples and
 * integration tests.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AuditEvent } from '../event/event.js'
import { defaultLogger } from '../logger.js'
import { resolveServerOptions, type DataStorageServerOptions } from './server-options.js'
import { AuditRepository, type StoredResponse } from './audit-repository.js'
import { answerClientError } from './client-error.js'
import { DatabaseUnavailableError } from './database.js'
import { openDatabase } from './open-database.js'
import { checkBatch, checkEvent } from './field-errors.js'
import { HEALTH_PATHS, health } from './health.js'
import { laneBatch, type LaneBatch } from './lane-batch.js'
import { LaneQueries } from './lane-queries.js'
import { laneRoute, type LaneContext } from './lane-routes.js'
import { migrate } from './migrations.js'
import { maintainPartitions } from './partitions.js'
import { HttpProblem, sendJson, sendProblem } from './problem.js'
import { parseFilters } from './query-filters.js'
import { readJsonBody } from './request-body.js'
import { TrailQueries } from './trail-queries.js'
import { trailRoute } from './trail-routes.js'
import { isUiPath, loadUiAssets, serveUi } from './ui/ui-routes.js'
import { BATCH_PATH, EVENTS_PATH, LANE_HEADERS } from '../protocol/wire.js'

/**
 * A running reference server.
 *
 * @example
 * ```ts
 * const server: DataStorageServer = await startDataStorageServer()
 * console.log(server.url, server.engine)
 * await server.close()
 * ```
 */
export interface DataStorageServer {
  /** The base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string
  /** The trail browser's address (`<url>/ui`), or undefined with `ui: false`. */
  readonly uiUrl: string | undefined
  /** `pglite` or `postgres`. */
  readonly engine: 'pglite' | 'postgres'
  /**
   * Fails readiness at once, keeps serving for `drainDelayMs`, then stops
   * accepting, finishes the requests in flight and closes the database.
   * Idempotent: every call returns the same promise.
   */
  close (): Promise<void>
}

const KEY_PURGE_MS = 60 * 60 * 1000
const PARTITION_MAINTENANCE_MS = 24 * 60 * 60 * 1000
/** Longest `idempotency-key` header accepted, in characters. */
const MAX_KEY_LENGTH = 255
/** What a 503 asks the client to wait, in seconds. */
const RETRY_AFTER_S = 2

// PostgreSQL data exceptions (class 22: out-of-range integers, NUL characters, ...) and
// program limits (class 54: nesting past max_stack_depth) are the client's input at fault.
function isInputFault (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('54'))
}

/**
 * Starts the reference DataStorage server: `POST /api/v1/audit/events/batch`,
 * `POST /api/v1/audit/events`, `GET /api/v1/audit/events`, the trail
 * browser's read endpoints (one event by id, a JSONL export, a histogram),
 * ordered lanes (batches with the `audit-stream-*` headers, `POST
 * /api/v1/audit/checkpoints`, `GET /api/v1/audit/verify`, `/lanes`, `/chain`),
 * the trail browser page itself at `/ui`, and `GET /health/ready`,
 * `/health/live` and `/health`, on PGlite (in memory or in a directory) or
 * PostgreSQL, with idempotency keys, body and batch limits, gzip and bearer auth.
 *
 * @param options - see {@link DataStorageServerOptions}
 * @returns the running server's URL and `close()`
 * @throws {@link InvalidOptionError} for a bad option
 * @throws {@link MissingPeerError} when the database's driver (`@electric-sql/pglite` or `pg`, optional peers) is not installed
 * @example
 * ```ts
 * const server = await startDataStorageServer()               // PGlite in memory, a free port
 * const sink = new DataStorageSink({ url: server.url })
 * // ...
 * await server.close()
 * ```
 */
export async function startDataStorageServer (options: DataStorageServerOptions = {}): Promise<DataStorageServer> {
  const o = resolveServerOptions(options)
  const log = (o.logger ?? defaultLogger()).child({ component: 'datastorage-server' })
  const ui = o.ui ? await loadUiAssets() : undefined
  const db = await openDatabase(o.database)
  // droppedPartitions counts the partitions retention dropped since start.
  let droppedPartitions = 0
  const maintain = async (): Promise<void> => {
    const done = await maintainPartitions(db, new Date(), o.retentionMonths)
    if (done.created.length > 0) log.info({ partitions: done.created }, 'partitions created')
    if (done.dropped.length > 0 || done.deletedRows > 0) {
      droppedPartitions += done.dropped.length
      log.info({ partitions: done.dropped, deletedRows: done.deletedRows, droppedPartitions, retentionMonths: o.retentionMonths }, 'partitions dropped by retention')
    }
  }
  try {
    await migrate(db)
    await maintain()
  } catch (err) {
    await db.close().catch(() => {})
    throw err
  }
  const repository = new AuditRepository(db)
  const trails = new TrailQueries(db)
  const lanes: LaneContext = { db, queries: new LaneQueries(db), trusted: o.trailPublicKeys, bodyLimitBytes: o.bodyLimitBytes }
  const expected = o.token === undefined ? undefined : createHash('sha256').update(o.token).digest()
  // inFlight counts requests whose response has not closed; `idle` is set only while close() waits for it to reach 0.
  let inFlight = 0
  // closing is set when close() begins (readiness fails); stopped once the drain is over and the server stops accepting.
  let closing: Promise<void> | undefined
  let stopped = false
  let idle: (() => void) | undefined

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = target(req)
    if (HEALTH_PATHS.has(url.pathname)) {
      allow(req, ['GET'])
      const answer = await health(url.pathname, db, () => closing !== undefined)
      return sendJson(res, answer.statusCode, answer.body)
    }
    // The page itself loads without a token; every data request it makes carries one.
    if (ui !== undefined && isUiPath(url.pathname)) {
      allow(req, ['GET', 'HEAD'])
      return serveUi(req, res, url.pathname, ui)
    }
    // Before routing, so that without a token no path can be told from another.
    authorize(req, expected)
    const lane = laneRoute(url.pathname)
    if (lane !== undefined) {
      allow(req, [lane.method])
      return lane.route(req, res, url.searchParams, lanes)
    }
    const trail = url.pathname === BATCH_PATH ? undefined : trailRoute(url.pathname)
    if (trail !== undefined) {
      allow(req, ['GET'])
      return trail(res, url.searchParams, trails)
    }
    if (url.pathname !== BATCH_PATH && url.pathname !== EVENTS_PATH) {
      req.resume()
      throw new HttpProblem(404, 'Not Found', 'no such route')
    }
    if (url.pathname === BATCH_PATH) {
      allow(req, ['POST'])
      return postBatch(req, res, url.pathname)
    }
    allow(req, ['GET', 'POST'])
    if (req.method === 'GET') {
      req.resume()
      const filters = parseFilters(url.searchParams)
      const page = await repository.find(filters)
      return sendJson(res, 200, {
        data: page.data,
        pagination: { limit: filters.limit, offset: filters.offset, total: page.total, has_more: filters.offset + page.data.length < page.total }
      })
    }
    return postOne(req, res, url.pathname)
  }

  const write = async (req: IncomingMessage, res: ServerResponse, path: string, events: AuditEvent[], raw: Buffer, respond: (ids: string[]) => StoredResponse, lane?: LaneBatch): Promise<void> => {
    const header = req.headers['idempotency-key']
    if (typeof header === 'string' && header.length > MAX_KEY_LENGTH) throw new HttpProblem(400, 'Bad Request', `idempotency-key is longer than ${MAX_KEY_LENGTH} characters`)
    // Scoped by path only: the same key with a query string added is the same request.
    const key = typeof header === 'string' && header !== '' ? `${path} ${header}` : undefined
    const hash = createHash('sha256').update(raw).digest('hex')
    let outcome
    try {
      outcome = await repository.insert(events, key, hash, respond, lane)
    } catch (err) {
      // JSON.stringify of the rows recursed past the stack: nesting no column can hold.
      if (err instanceof RangeError) throw new HttpProblem(400, 'Bad Request', 'a value is nested too deeply to store')
      throw err
    }
    if (outcome.kind === 'conflict') throw new HttpProblem(422, 'Unprocessable Entity', 'idempotency-key was already used with a different body')
    const headers: Record<string, string> = outcome.kind === 'replayed' ? { 'idempotent-replayed': 'true' } : {}
    sendJson(res, outcome.response.statusCode, outcome.response.body, 'application/json', headers)
  }

  const postBatch = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const { value, raw } = await readJsonBody(req, o.bodyLimitBytes)
    if (!Array.isArray(value)) throw new HttpProblem(400, 'Bad Request', 'the body must be a JSON array of audit events')
    if (value.length === 0) throw new HttpProblem(400, 'Bad Request', 'the batch is empty')
    if (value.length > o.maxBatchItems) {
      throw new HttpProblem(413, 'Payload Too Large', `the batch has ${value.length} events; at most ${o.maxBatchItems} are accepted`, { max_batch_items: o.maxBatchItems })
    }
    checkBatch(value, (event) => o.eventSchema.validate(event))
    const lane = laneBatch(req.headers, raw, value.length)
    await write(req, res, path, value as AuditEvent[], raw, (ids) => ({ statusCode: 201, body: { event_ids: ids, message: `${ids.length} audit events created` } }), lane)
  }

  const postOne = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const { value, raw } = await readJsonBody(req, o.bodyLimitBytes)
    // A lane's events are chained batch by batch; a single event stored without its lane would break the chain silently.
    if (LANE_HEADERS.some((name) => req.headers[name] !== undefined)) {
      throw new HttpProblem(400, 'Bad Request', `the audit-stream-* lane headers are accepted on ${BATCH_PATH} only`)
    }
    checkEvent(value, (event) => o.eventSchema.validate(event))
    const event = value as AuditEvent
    await write(req, res, path, [event], raw, (ids) => ({
      statusCode: 201,
      body: { event_id: ids[0], event_timestamp: new Date(event.event_timestamp).toISOString(), message: 'audit event created' }
    }))
  }

  // The answer to an error a handler threw: a database's own words never reach the client.
  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    if (err instanceof HttpProblem) return sendProblem(res, err)
    if (isInputFault(err)) {
      log.debug({ err }, 'database refused a value')
      return sendProblem(res, new HttpProblem(400, 'Bad Request', 'the database refused a value in the request'))
    }
    const instance = `urn:uuid:${randomUUID()}`
    const path = req.url?.split('?')[0]
    if (err instanceof DatabaseUnavailableError) {
      log.warn({ err, instance, method: req.method, path }, 'database unavailable')
      return sendProblem(res, new HttpProblem(503, 'Service Unavailable', 'the database is unavailable; retry later', { instance }, { 'retry-after': String(RETRY_AFTER_S) }))
    }
    log.error({ err, instance, method: req.method, path }, 'request failed')
    sendProblem(res, new HttpProblem(500, 'Internal Server Error', 'the request could not be completed', { instance }))
  }

  const server = createServer((req, res) => {
    inFlight++
    const started = performance.now()
    if (log.isLevelEnabled('debug')) log.debug({ method: req.method, path: req.url?.split('?')[0] }, 'request started')
    handle(req, res).catch((err: unknown) => {
      if (!req.complete) req.resume()
      fail(req, res, err)
    }).finally(() => {
      if (log.isLevelEnabled('debug')) log.debug({ method: req.method, path: req.url?.split('?')[0], statusCode: res.statusCode, durationMs: performance.now() - started }, 'request')
      const done = (): void => {
        if (--inFlight === 0 && idle !== undefined) idle()
        if (stopped) server.closeIdleConnections()
      }
      // A response whose client went away may have closed before the handler settled: 'close' will not come again.
      if (res.writableFinished || res.destroyed) done()
      else res.once('close', done)
    })
  })
  server.on('clientError', answerClientError)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => resolve())
  })
  const purge = setInterval(() => {
    repository.purgeExpiredKeys().catch((err: unknown) => log.warn({ err }, 'idempotency key purge failed'))
  }, KEY_PURGE_MS)
  purge.unref()
  const partitions = setInterval(() => {
    maintain().catch((err: unknown) => log.warn({ err }, 'partition maintenance failed'))
  }, PARTITION_MAINTENANCE_MS)
  partitions.unref()
  await repository.purgeExpiredKeys()

  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  log.info({ url, engine: db.engine }, 'datastorage server listening')

  return {
    url,
    uiUrl: ui === undefined ? undefined : `${url}/ui`,
    engine: db.engine,
    close: () => {
      closing ??= (async () => {
        clearInterval(purge)
        clearInterval(partitions)
        // Readiness answers 503 from here on; keep serving while load balancers notice.
        if (o.drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, o.drainDelayMs))
        stopped = true
        const listening = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        if (inFlight > 0) await new Promise<void>((resolve) => { idle = resolve })
        server.closeIdleConnections()
        await listening
        await db.close()
        log.info({ url }, 'datastorage server closed')
      })()
      return closing
    }
  }
}

// The request target as a URL. A target that is not a valid path ('//[') is the client's error.
function target (req: IncomingMessage): URL {
  try {
    return new URL(`http://localhost${req.url?.startsWith('/') === true ? req.url : '/'}`)
  } catch {
    req.resume()
    throw new HttpProblem(400, 'Bad Request', 'the request target is not a valid path')
  }
}

function allow (req: IncomingMessage, methods: string[]): void {
  if (!methods.includes(req.method ?? '')) {
    req.resume()
    throw new HttpProblem(405, 'Method Not Allowed', `${req.method ?? ''} is not allowed here`, {}, { allow: methods.join(', ') })
  }
}

// Constant time: both sides are hashed to equal length before comparing.
function authorize (req: IncomingMessage, expected: Buffer | undefined): void {
  if (expected === undefined) return
  const header = req.headers.authorization ?? ''
  const match = /^Bearer (.+)$/i.exec(header)
  const given = createHash('sha256').update(match?.[1] ?? '').digest()
  if (match === null || !timingSafeEqual(given, expected)) {
    req.resume()
    throw new HttpProblem(401, 'Unauthorized', 'a valid bearer token is required', {}, { 'www-authenticate': 'Bearer' })
  }
}

