/**
 * The reference server's lifecycle: auth, persistence across restarts,
 * graceful close, migrations, health when the database goes away.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { PassThrough } from 'node:stream'
import { gzipSync } from 'node:zlib'
import pg from 'pg'
import { Client, request } from 'undici'
import { InvalidOptionError, newAuditEvent } from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { captureLogger, silentLogger } from '../helpers/fixtures.js'
import { tempDir } from '../helpers/temp-dir.js'
import { noPostgres } from '../helpers/engines.js'
import { waitFor } from '../helpers/wait-for.js'

const BATCH = '/api/v1/audit/events/batch'

const event = (cid: string, seq: number) => newAuditEvent({ event_type: 't', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: cid, event_data: { seq } })

async function post (url: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url + BATCH, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  await res.body.dump()
  return res.statusCode
}

async function count (url: string, cid: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(`${url}/api/v1/audit/events?correlation_id=${cid}`, { headers })
  return ((await res.body.json()) as { pagination: { total: number } }).pagination.total
}

test('with a token, a missing or wrong bearer gets 401 and the right one is let in; health stays open', async (t) => {
  const server = await startDataStorageServer({ token: 'sekret-token', logger: silentLogger })
  t.after(() => server.close())
  const cid = randomUUID()
  assert.equal(await post(server.url, [event(cid, 0)]), 401)
  assert.equal(await post(server.url, [event(cid, 0)], { authorization: 'Bearer wrong' }), 401)
  assert.equal(await post(server.url, [event(cid, 0)], { authorization: 'Basic c2Vrcm V0' }), 401)
  const res = await request(`${server.url}/api/v1/audit/events`)
  assert.equal(res.statusCode, 401)
  assert.equal(res.headers['www-authenticate'], 'Bearer')
  assert.equal(((await res.body.json()) as { title: string }).title, 'Unauthorized')
  assert.equal(await post(server.url, [event(cid, 0)], { authorization: 'Bearer sekret-token' }), 201)
  assert.equal(await count(server.url, cid, { authorization: 'Bearer sekret-token' }), 1)
  assert.equal((await request(`${server.url}/health`)).statusCode, 200)
})

test('a PGlite directory keeps its data across a restart, and migrations run again harmlessly', async (t) => {
  const dir = tempDir(t, 'audit-pglite-')
  const cid = randomUUID()
  const first = await startDataStorageServer({ database: dir, logger: silentLogger })
  assert.equal(await post(first.url, [event(cid, 0), event(cid, 1)]), 201)
  await first.close()
  const second = await startDataStorageServer({ database: dir, logger: silentLogger })
  t.after(() => second.close())
  assert.equal(second.engine, 'pglite')
  assert.equal(await count(second.url, cid), 2)
})

test('close finishes the requests in flight, then refuses new connections', async () => {
  const { logger, lines } = captureLogger('debug')
  const server = await startDataStorageServer({ logger })
  const cid = randomUUID()
  const body = Buffer.from(JSON.stringify(Array.from({ length: 2000 }, (_, i) => event(cid, i))))
  // The request is in flight for sure: the server has logged its start, and half its body is sent, before close().
  const upload = new PassThrough()
  const inFlight = request(server.url + BATCH, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body: upload })
  upload.write(body.subarray(0, body.length >> 1))
  await waitFor(() => lines.some((l) => l.includes('"request started"')), { what: 'the server to log the upload\'s start' })
  const closing = server.close()
  upload.end(body.subarray(body.length >> 1))
  const res = await inFlight
  assert.equal(res.statusCode, 201)
  await res.body.dump()
  await closing
  await assert.rejects(request(server.url + '/health'), /ECONNREFUSED/)
  assert.equal(server.close(), closing, 'close is idempotent')
})

for (const encoding of ['identity', 'gzip'] as const) {
  test(`close() resolves after a client went away in the middle of a ${encoding} body`, async () => {
    const server = await startDataStorageServer({ logger: silentLogger })
    const body = Buffer.from('[{"event_type":"' + 'x'.repeat(5000))
    const sent = encoding === 'gzip' ? gzipSync(body).subarray(0, 30) : body.subarray(0, 30)
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1', () => {
        socket.write(`POST ${BATCH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-encoding: ${encoding}\r\ncontent-length: 1000\r\n\r\n`)
        socket.write(sent)
        setTimeout(() => { socket.destroy(); resolve() }, 100)
      })
      socket.on('error', reject)
    })
    let timer: NodeJS.Timeout | undefined
    const outcome = await Promise.race([
      server.close().then(() => 'closed'),
      new Promise((resolve) => { timer = setTimeout(resolve, 5000, 'still waiting after 5 s') })
    ])
    clearTimeout(timer)
    assert.equal(outcome, 'closed')
  })
}

test('readiness answers 503 as soon as close() begins, while liveness and the API keep answering through drainDelayMs', async () => {
  const server = await startDataStorageServer({ logger: silentLogger, drainDelayMs: 3000 })
  // One kept-alive connection, opened before close(): close() must not cut it during the drain.
  const client = new Client(server.url)
  const get = async (path: string): Promise<{ status: number, body: unknown }> => {
    const res = await client.request({ method: 'GET', path })
    return { status: res.statusCode, body: await res.body.json() }
  }
  try {
    assert.deepEqual(await get('/health/ready'), { status: 200, body: { status: 'healthy', database: 'pglite' } })
    const closing = server.close()
    assert.deepEqual(await get('/health/ready'), { status: 503, body: { status: 'unhealthy', database: 'pglite', error: 'shutting down' } })
    assert.equal((await get('/health')).status, 503, '/health is an alias of ready')
    assert.deepEqual(await get('/health/live'), { status: 200, body: { status: 'healthy' } })
    assert.equal((await get('/api/v1/audit/events')).status, 200, 'requests are still served while draining')
    await closing
  } finally {
    await client.close()
  }
})

test('bad server options throw InvalidOptionError', async () => {
  await assert.rejects(startDataStorageServer({ port: 70_000 }), InvalidOptionError)
  await assert.rejects(startDataStorageServer({ bodyLimitBytes: 10 }), InvalidOptionError)
  await assert.rejects(startDataStorageServer({ token: '' }), InvalidOptionError)
  await assert.rejects(startDataStorageServer({ maxBatchItems: 0 }), InvalidOptionError)
  await assert.rejects(startDataStorageServer({ drainDelayMs: -1 }), InvalidOptionError)
})

test('health answers 503 while PostgreSQL refuses connections, and 200 once it is back', { skip: noPostgres }, async (t) => {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  const name = `audit_health_${randomUUID().replaceAll('-', '')}`
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(process.env.DATABASE_URL!)
  url.pathname = `/${name}`
  const server = await startDataStorageServer({ database: url.toString(), logger: silentLogger })
  t.after(async () => {
    await server.close()
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  })
  assert.equal((await request(`${server.url}/health`)).statusCode, 200)
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`)
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name])
  const down = await request(`${server.url}/health`)
  assert.equal(down.statusCode, 503)
  assert.deepEqual(await down.body.json(), { status: 'unhealthy', database: 'postgres', error: 'database unreachable' })
  assert.equal((await request(`${server.url}/health/ready`)).statusCode, 503)
  assert.equal((await request(`${server.url}/health/live`)).statusCode, 200, 'the process is alive while the database is not')
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`)
  assert.equal((await request(`${server.url}/health`)).statusCode, 200)
})

test('two servers starting together on one PostgreSQL database migrate once', { skip: noPostgres }, async (t) => {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  const name = `audit_migrate_${randomUUID().replaceAll('-', '')}`
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(process.env.DATABASE_URL!)
  url.pathname = `/${name}`
  const servers = await Promise.all([startDataStorageServer({ database: url.toString(), logger: silentLogger }), startDataStorageServer({ database: url.toString(), logger: silentLogger })])
  t.after(async () => {
    await Promise.all(servers.map((s) => s.close()))
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  })
  const check = new pg.Client({ connectionString: url.toString() })
  await check.connect()
  const { rows } = await check.query('SELECT count(*)::int AS n, max(version)::int AS latest FROM audit_stream_migrations')
  await check.end()
  // Each migration ran once: one row per version, none twice.
  assert.ok(rows[0].latest >= 2)
  assert.equal(rows[0].n, rows[0].latest)
  const cid = randomUUID()
  assert.equal(await post(servers[0]!.url, [event(cid, 0)]), 201)
  assert.equal(await count(servers[1]!.url, cid), 1)
})
