/**
 * Bad input cannot hurt the reference server (issue 9, section 6): each case
 * answers a small problem document, never a 5xx, a dropped connection or a
 * database's own words. Run on PGlite and on PostgreSQL.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { request } from 'undici'
import { newAuditEvent, type AuditEvent } from '../../lib/index.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/index.js'
import { captureLogger, silentLogger } from '../helpers/fixtures.js'
import { tempDir } from '../helpers/temp-dir.js'
import { engines, noPostgres } from '../helpers/engines.js'

const BATCH = '/api/v1/audit/events/batch'
const EVENTS = '/api/v1/audit/events'

function event (correlationId: string, seq: number, patch: Partial<AuditEvent> = {}): AuditEvent {
  return newAuditEvent({
    event_type: 'input.test', event_category: 'tests', event_action: 'create', event_outcome: 'success',
    correlation_id: correlationId, event_data: { seq }, ...patch
  })
}

interface Reply { status: number, headers: Record<string, string | string[] | undefined>, body: Record<string, unknown>, bytes: number }

async function call (base: string, method: string, path: string, options: { json?: unknown, body?: string | Buffer, headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers }
  const res = await request(base + path, { method: method as 'GET', headers, body: options.json !== undefined ? JSON.stringify(options.json) : (options.body ?? null) })
  const text = await res.body.text()
  let body: Record<string, unknown> = {}
  try { body = JSON.parse(text) as Record<string, unknown> } catch { body = { text } }
  return { status: res.statusCode, headers: res.headers, body, bytes: Buffer.byteLength(text) }
}

const total = async (base: string, cid: string): Promise<number> =>
  ((await call(base, 'GET', `${EVENTS}?correlation_id=${cid}`)).body.pagination as { total: number }).total

// Sends raw bytes and returns everything the server answered before it closed the connection.
function raw (base: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let answer = ''
    socket.on('data', (d: Buffer) => { answer += d.toString('latin1') })
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
    socket.end(bytes)
  })
}

function nested (depth: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

for (const engine of engines) {
  describe(`bad input on ${engine.name}`, { skip: engine.skip }, () => {
    let server: DataStorageServer
    let url: string
    before(async () => {
      server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      url = server.url
    })
    after(async () => { await server?.close() })

    test('an event_timestamp in years 0001 to 0099 reads back with its year, from the list, by id and in the export', async () => {
      const cid = randomUUID()
      const stamps = ['0001-01-01T00:00:00.123Z', '0050-06-01T12:00:00.000Z', '0099-12-31T23:59:59.000Z']
      const posted = await call(url, 'POST', BATCH, { json: stamps.map((stamp, seq) => event(cid, seq, { event_timestamp: stamp })) })
      assert.equal(posted.status, 201)
      const list = await call(url, 'GET', `${EVENTS}?correlation_id=${cid}`)
      assert.equal(list.status, 200)
      assert.deepEqual((list.body.data as Array<{ event_timestamp: string }>).map((e) => e.event_timestamp), stamps)
      const one = await call(url, 'GET', `${EVENTS}/${(posted.body.event_ids as string[])[1]!}`)
      assert.equal(one.body.event_timestamp, stamps[1])
      const exported = await call(url, 'GET', `${EVENTS}/export?correlation_id=${cid}`)
      const lines = String(exported.body.text).trim().split('\n').map((l) => JSON.parse(l) as { event_timestamp: string })
      assert.deepEqual(lines.map((e) => e.event_timestamp), stamps)
    })

    test('a batch over 10 000 items gets 413 before any item is validated', async () => {
      const body = gzipSync(JSON.stringify(Array.from({ length: 10_001 }, () => ({}))))
      const reply = await call(url, 'POST', BATCH, { body, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
      assert.equal(reply.status, 413)
      assert.equal(reply.headers['content-type'], 'application/problem+json')
      assert.equal(reply.body.max_batch_items, 10_000)
      assert.ok(reply.bytes < 1000, `${reply.bytes} bytes`)
    })

    test('10 000 empty items get 400 with at most 100 field errors, marked truncated', async () => {
      const reply = await call(url, 'POST', BATCH, { json: Array.from({ length: 10_000 }, () => ({})) })
      assert.equal(reply.status, 400)
      const errors = reply.body.field_errors as Record<string, string>
      assert.ok(Object.keys(errors).length <= 100, `${Object.keys(errors).length} field errors`)
      assert.ok(Object.keys(errors).every((k) => /^\[\d+\]/.test(k)), 'keys keep the [i].path shape the client splits on')
      assert.equal(reply.body.field_errors_truncated, true)
      assert.equal(typeof reply.body.checked_items, 'number')
      assert.match(String(reply.body.detail), /stopped/)
      assert.ok(reply.bytes < 20_000, `${reply.bytes} bytes`)
    })

    test('a batch with a few bad items lists each, without the truncation mark', async () => {
      const cid = randomUUID()
      const reply = await call(url, 'POST', BATCH, { json: [event(cid, 0), { ...event(cid, 1), event_type: '' }] })
      assert.equal(reply.status, 400)
      assert.deepEqual(Object.keys(reply.body.field_errors as object), ['[1].event_type'])
      assert.equal(reply.body.field_errors_truncated, undefined)
    })

    test('event_data nested 5000 deep gets 400, in a batch and alone', async () => {
      const cid = randomUUID()
      // Built as text: JSON.stringify itself overflows the stack on such nesting.
      const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
      const one = JSON.stringify(event(cid, 0)).replace('{"seq":0}', deep)
      assert.equal((await call(url, 'POST', BATCH, { body: `[${one}]`, headers: { 'content-type': 'application/json' } })).status, 400)
      assert.equal((await call(url, 'POST', EVENTS, { body: one, headers: { 'content-type': 'application/json' } })).status, 400)
      assert.equal(await total(url, cid), 0)
      assert.equal((await call(url, 'POST', BATCH, { json: [event(cid, 1, { event_data: nested(50) as Record<string, unknown> })] })).status, 201, 'ordinary nesting is stored')
    })

    test('a 20 KB request URL gets a 431 problem, not a dropped connection', async () => {
      const reply = await call(url, 'GET', `${EVENTS}?correlation_id=${'x'.repeat(20 * 1024)}`)
      assert.equal(reply.status, 431)
      assert.equal(reply.headers['content-type'], 'application/problem+json')
      assert.equal(reply.body.status, 431)
    })

    test('a request that is not HTTP gets a 400 answer before the connection closes', async () => {
      const answer = await raw(url, 'HELLO THERE\r\n\r\n')
      assert.match(answer, /^HTTP\/1\.1 400 /)
      assert.match(answer, /"status":400/)
    })

    test('since=99999999d gets 400, not 500', async () => {
      const reply = await call(url, 'GET', `${EVENTS}?since=99999999d`)
      assert.equal(reply.status, 400)
      assert.deepEqual(Object.keys(reply.body.field_errors as object), ['since'])
    })

    test('the same idempotency key with a query string added is the same request', async () => {
      const cid = randomUUID()
      const key = randomUUID()
      const batch = [event(cid, 0), event(cid, 1)]
      const first = await call(url, 'POST', BATCH, { json: batch, headers: { 'idempotency-key': key } })
      const second = await call(url, 'POST', `${BATCH}?x=1`, { json: batch, headers: { 'idempotency-key': key } })
      assert.equal(first.status, 201)
      assert.equal(second.status, 201)
      assert.equal(second.headers['idempotent-replayed'], 'true')
      assert.deepEqual(second.body, first.body)
      assert.equal(await total(url, cid), 2)
    })

    test('an idempotency key of 255 characters is accepted and one of 256 refused, as the message says', async () => {
      const cid = randomUUID()
      // Unique per run: keys live 24 hours in the shared PostgreSQL database.
      const key = cid.padEnd(255, 'k')
      assert.equal((await call(url, 'POST', BATCH, { json: [event(cid, 0)], headers: { 'idempotency-key': key } })).status, 201)
      const long = await call(url, 'POST', BATCH, { json: [event(cid, 1)], headers: { 'idempotency-key': key + 'k' } })
      assert.equal(long.status, 400)
      assert.match(String(long.body.detail), /longer than 255 characters/)
      assert.equal(await total(url, cid), 1)
    })

    test('health still answers after all the bad input', async () => {
      assert.equal((await call(url, 'GET', '/health/ready')).status, 200)
    })
  })
}

test('with a token, an unknown route gets 401 before routing; health stays open', async (t) => {
  const server = await startDataStorageServer({ token: 'sekret-token', logger: silentLogger })
  t.after(() => server.close())
  for (const path of ['/api/v2/nothing', '/admin', '/', '/health/nothing']) {
    const reply = await call(server.url, 'GET', path)
    assert.equal(reply.status, 401, path)
    assert.equal(reply.headers['www-authenticate'], 'Bearer')
  }
  assert.equal((await call(server.url, 'GET', '/api/v2/nothing', { headers: { authorization: 'Bearer sekret-token' } })).status, 404)
  for (const path of ['/health', '/health/ready', '/health/live']) assert.equal((await call(server.url, 'GET', path)).status, 200, path)
})

// A trigger raises errors whose text must stay in the server's log.
const TRIGGER = `
  CREATE FUNCTION refuse_secret() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.event_type = 'raise.internal' THEN RAISE EXCEPTION 'SECRET internal detail %', NEW.correlation_id; END IF;
    IF NEW.event_type = 'raise.data' THEN RAISE EXCEPTION 'SECRET data detail' USING ERRCODE = '22023'; END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER refuse_secret BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_secret();`

async function checkDatabaseErrors (database: string): Promise<void> {
  const { logger, lines } = captureLogger('info')
  const server = await startDataStorageServer({ database, logger })
  try {
    const internal = await call(server.url, 'POST', BATCH, { json: [event('c', 0, { event_type: 'raise.internal' })] })
    assert.equal(internal.status, 500)
    assert.doesNotMatch(JSON.stringify(internal.body), /SECRET|refuse_secret|audit_events/)
    assert.match(String(internal.body.instance), /^urn:uuid:[0-9a-f-]{36}$/)
    const logged = lines.map((l) => JSON.parse(l) as { msg: string, instance?: string, err?: { message: string } }).find((l) => l.instance === internal.body.instance)
    assert.equal(logged?.msg, 'request failed')
    assert.match(String(logged?.err?.message), /SECRET internal detail/, 'the detail goes to the log')
    const data = await call(server.url, 'POST', BATCH, { json: [event('c', 1, { event_type: 'raise.data' })] })
    assert.equal(data.status, 400)
    assert.doesNotMatch(JSON.stringify(data.body), /SECRET/)
    assert.equal((await call(server.url, 'GET', '/health/ready')).status, 200)
  } finally {
    await server.close()
  }
}

test('a database error is never echoed: 500 with an instance id, the detail in the log (PGlite)', async (t) => {
  const dir = tempDir(t, 'audit-pglite-')
  await (await startDataStorageServer({ database: dir, logger: silentLogger })).close()
  const db = new PGlite(dir)
  await db.exec(TRIGGER)
  await db.close()
  await checkDatabaseErrors(dir)
})

test('a database error is never echoed: 500 with an instance id, the detail in the log (PostgreSQL)', { skip: noPostgres }, async (t) => {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  const name = `audit_errors_${randomUUID().replaceAll('-', '')}`
  await admin.query(`CREATE DATABASE ${name}`)
  t.after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  })
  const url = new URL(process.env.DATABASE_URL!)
  url.pathname = `/${name}`
  await (await startDataStorageServer({ database: url.toString(), logger: silentLogger })).close()
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  await client.query(TRIGGER)
  await client.end()
  await checkDatabaseErrors(url.toString())
})
