/**
 * The reference DataStorage server: a small, real implementation of the
 * audit subset of the DataStorage API, for local development, examples and
 * integration tests.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { validateAuditEvent, type AuditEvent } from '../event.js'
import { defaultLogger } from '../logger.js'
import { resolveServerOptions, type DataStorageServerOptions } from '../options.js'
import { AuditRepository, type StoredResponse } from './audit-repository.js'
import { openDatabase } from './database.js'
import { migrate } from './migrations.js'
import { HttpProblem, sendJson, sendProblem } from './problem.js'
import { parseFilters } from './query-filters.js'
import { readJsonBody } from './request-body.js'
import { TrailQueries } from './trail-queries.js'
import { trailRoute } from './trail-routes.js'
import { isUiPath, loadUiAssets, serveUi } from './ui/ui-routes.js'

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
  /** Stops accepting, finishes the requests in flight, then closes the database. Idempotent. */
  close (): Promise<void>
}

const BATCH_PATH = '/api/v1/audit/events/batch'
const EVENTS_PATH = '/api/v1/audit/events'
const KEY_PURGE_MS = 60 * 60 * 1000

// Postgres data exceptions (class 22: out-of-range integers, NUL characters, ...) are the client's fault.
function isDataException (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('22')
}

/**
 * Starts the reference DataStorage server: `POST /api/v1/audit/events/batch`,
 * `POST /api/v1/audit/events`, `GET /api/v1/audit/events` and `GET /health`,
 * the trail browser's read endpoints (one event by id, a JSONL export, a
 * histogram) and the trail browser page itself at `/ui`,
 * on PGlite (in memory or in a directory) or PostgreSQL, with idempotency
 * keys, body limits, gzip and bearer auth.
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
  try {
    await migrate(db)
  } catch (err) {
    await db.close().catch(() => {})
    throw err
  }
  const repository = new AuditRepository(db)
  const trails = new TrailQueries(db)
  const expected = o.token === undefined ? undefined : createHash('sha256').update(o.token).digest()
  let inFlight = 0
  let closing: Promise<void> | undefined
  let idle: (() => void) | undefined

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/health') {
      allow(req, ['GET'])
      try {
        await db.query('SELECT 1')
        return sendJson(res, 200, { status: 'ok', database: db.engine })
      } catch {
        return sendJson(res, 503, { status: 'unavailable', database: db.engine })
      }
    }
    if (ui !== undefined && isUiPath(url.pathname)) {
      allow(req, ['GET', 'HEAD'])
      return serveUi(req, res, url.pathname, ui)
    }
    const trail = url.pathname === BATCH_PATH ? undefined : trailRoute(url.pathname)
    if (trail !== undefined) {
      authorize(req, expected)
      allow(req, ['GET'])
      return trail(res, url.searchParams, trails)
    }
    if (url.pathname !== BATCH_PATH && url.pathname !== EVENTS_PATH) throw new HttpProblem(404, 'Not Found', `no route for ${url.pathname}`)
    authorize(req, expected)
    if (url.pathname === BATCH_PATH) {
      allow(req, ['POST'])
      return postBatch(req, res)
    }
    allow(req, ['GET', 'POST'])
    if (req.method === 'GET') {
      const filters = parseFilters(url.searchParams)
      const page = await repository.find(filters)
      return sendJson(res, 200, {
        data: page.data,
        pagination: { limit: filters.limit, offset: filters.offset, total: page.total, has_more: filters.offset + page.data.length < page.total }
      })
    }
    return postOne(req, res)
  }

  const write = async (req: IncomingMessage, res: ServerResponse, events: AuditEvent[], raw: Buffer, respond: (ids: string[]) => StoredResponse): Promise<void> => {
    const header = req.headers['idempotency-key']
    const key = typeof header === 'string' && header !== '' ? `${req.url ?? ''} ${header}` : undefined
    if (key !== undefined && key.length > 512) throw new HttpProblem(400, 'Bad Request', 'idempotency-key is longer than 500 characters')
    const hash = createHash('sha256').update(raw).digest('hex')
    let outcome
    try {
      outcome = await repository.insert(events, key, hash, respond)
    } catch (err) {
      if (isDataException(err)) throw new HttpProblem(400, 'Bad Request', `the database refused a value: ${(err as Error).message}`)
      throw err
    }
    if (outcome.kind === 'conflict') throw new HttpProblem(422, 'Unprocessable Entity', 'idempotency-key was already used with a different body')
    const headers: Record<string, string> = outcome.kind === 'replayed' ? { 'idempotent-replayed': 'true' } : {}
    sendJson(res, outcome.response.statusCode, outcome.response.body, 'application/json', headers)
  }

  const postBatch = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { value, raw } = await readJsonBody(req, o.bodyLimitBytes)
    if (!Array.isArray(value)) throw new HttpProblem(400, 'Bad Request', 'the body must be a JSON array of audit events')
    if (value.length === 0) throw new HttpProblem(400, 'Bad Request', 'the batch is empty')
    const fieldErrors: Record<string, string> = {}
    value.forEach((event, i) => {
      for (const issue of validateAuditEvent(event)) fieldErrors[`[${i}]${issue.path === '' ? '' : '.' + issue.path}`] = issue.message
    })
    if (Object.keys(fieldErrors).length > 0) {
      throw new HttpProblem(400, 'Validation Error', `${Object.keys(fieldErrors).length} field errors in the batch`, { field_errors: fieldErrors })
    }
    await write(req, res, value as AuditEvent[], raw, (ids) => ({ statusCode: 201, body: { event_ids: ids, message: `${ids.length} audit events created` } }))
  }

  const postOne = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { value, raw } = await readJsonBody(req, o.bodyLimitBytes)
    const issues = validateAuditEvent(value)
    if (issues.length > 0) {
      throw new HttpProblem(400, 'Validation Error', `${issues.length} field errors`, { field_errors: Object.fromEntries(issues.map((i) => [i.path === '' ? '(body)' : i.path, i.message])) })
    }
    const event = value as AuditEvent
    await write(req, res, [event], raw, (ids) => ({
      statusCode: 201,
      body: { event_id: ids[0], event_timestamp: new Date(event.event_timestamp).toISOString(), message: 'audit event created' }
    }))
  }

  const server = createServer((req, res) => {
    inFlight++
    const started = performance.now()
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return res.destroy()
      if (err instanceof HttpProblem) return sendProblem(res, err)
      log.error({ err, method: req.method, path: req.url?.split('?')[0] }, 'request failed')
      sendProblem(res, new HttpProblem(500, 'Internal Server Error', 'the request could not be completed'))
    }).finally(() => {
      if (log.isLevelEnabled('debug')) log.debug({ method: req.method, path: req.url?.split('?')[0], statusCode: res.statusCode, durationMs: performance.now() - started }, 'request')
      const done = (): void => {
        if (--inFlight === 0 && idle !== undefined) idle()
        if (closing !== undefined) server.closeIdleConnections()
      }
      if (res.writableFinished) done()
      else res.once('close', done)
    })
  })
  server.on('clientError', (_err, socket) => { socket.destroy() })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => resolve())
  })
  const purge = setInterval(() => {
    repository.purgeExpiredKeys().catch((err: unknown) => log.warn({ err }, 'idempotency key purge failed'))
  }, KEY_PURGE_MS)
  purge.unref()
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
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        if (inFlight > 0) await new Promise<void>((resolve) => { idle = resolve })
        server.closeIdleConnections()
        await stopped
        await db.close()
        log.info({ url }, 'datastorage server closed')
      })()
      return closing
    }
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

