/**
 * Contract tests of the reference DataStorage server, run against both
 * engines: PGlite in memory and a real PostgreSQL (DATABASE_URL).
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { request } from 'undici'
import { DataStorageSink, createAuditStore, newAuditEvent, type AuditEvent } from '../../lib/index.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/index.js'
import { assertExactlyOnce } from '../helpers/exactly-once.js'
import { silentLogger } from '../helpers/fixtures.js'
import { engines } from '../helpers/engines.js'

const BATCH = '/api/v1/audit/events/batch'
const EVENTS = '/api/v1/audit/events'

function event (correlationId: string, seq: number, patch: Partial<AuditEvent> = {}): AuditEvent {
  return newAuditEvent({
    event_type: 'contract.test', event_category: 'tests', event_action: 'create', event_outcome: 'success',
    correlation_id: correlationId, event_data: { seq }, ...patch
  })
}

interface Reply { status: number, headers: Record<string, string | string[] | undefined>, body: Record<string, unknown> }

async function call (base: string, method: string, path: string, options: { json?: unknown, body?: string | Buffer | Readable, headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers }
  const res = await request(base + path, { method: method as 'GET', headers, body: options.json !== undefined ? JSON.stringify(options.json) : (options.body ?? null) })
  const text = await res.body.text()
  let body: Record<string, unknown> = {}
  try { body = JSON.parse(text) as Record<string, unknown> } catch { body = { text } }
  return { status: res.statusCode, headers: res.headers, body }
}

const query = (base: string, params: Record<string, string>): Promise<Reply> => call(base, 'GET', `${EVENTS}?${new URLSearchParams(params).toString()}`)

for (const engine of engines) {
  describe(`DataStorage server on ${engine.name}`, { skip: engine.skip }, () => {
    let server: DataStorageServer
    let url: string
    before(async () => {
      server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      url = server.url
    })
    after(async () => { await server?.close() })

    test('stores a batch and returns its event ids with 201', async () => {
      const cid = randomUUID()
      const reply = await call(url, 'POST', BATCH, { json: [event(cid, 0), event(cid, 1), event(cid, 2)] })
      assert.equal(reply.status, 201)
      assert.equal((reply.body.event_ids as string[]).length, 3)
      assert.equal(typeof reply.body.message, 'string')
      const found = await query(url, { correlation_id: cid })
      assert.equal(found.status, 200)
      assert.deepEqual((found.body.data as Array<{ event_data: { seq: number } }>).map((e) => e.event_data.seq), [0, 1, 2])
      assert.deepEqual((found.body.data as Array<{ event_id: string }>).map((e) => e.event_id), reply.body.event_ids)
    })

    test('stores every field of an event and returns it as sent', async () => {
      const cid = randomUUID()
      const full = event(cid, 1, {
        event_timestamp: '2026-03-04T05:06:07.123Z', actor_type: 'user', actor_id: 'u1', actor_ip: '2001:db8::1',
        resource_type: 'order', resource_id: 'o1', parent_event_id: randomUUID(), parent_event_date: '2026-03-04T05:00:00.000Z', namespace: 'ns', cluster_id: 'c1',
        severity: 'warning', duration_ms: 42, error_code: 'E42', error_message: 'boom', retention_days: 90, is_sensitive: true,
        event_data: { nested: { list: [1, 'two', null], flag: false } }
      })
      assert.equal((await call(url, 'POST', BATCH, { json: [full] })).status, 201)
      const [stored] = (await query(url, { correlation_id: cid })).body.data as Array<Record<string, unknown>>
      for (const [key, value] of Object.entries(full)) assert.deepEqual(stored![key], value, key)
      assert.equal(stored!.event_date, '2026-03-04')
      assert.match(String(stored!.event_id), /^[0-9a-f-]{36}$/)
    })

    test('stores a single event with 201, its id and timestamp', async () => {
      const cid = randomUUID()
      const one = event(cid, 7, { event_timestamp: '2026-01-02T03:04:05Z' })
      const reply = await call(url, 'POST', EVENTS, { json: one })
      assert.equal(reply.status, 201)
      assert.match(String(reply.body.event_id), /^[0-9a-f-]{36}$/)
      assert.equal(reply.body.event_timestamp, '2026-01-02T03:04:05.000Z')
      assert.equal(((await query(url, { correlation_id: cid })).body.pagination as { total: number }).total, 1)
    })

    test('an invalid item rejects the whole batch with 400 and field_errors keyed by item and field', async () => {
      const cid = randomUUID()
      const batch: unknown[] = [event(cid, 0), event(cid, 1), event(cid, 2), { ...event(cid, 3), event_type: '' }, { ...event(cid, 4), event_outcome: 'maybe' }]
      const reply = await call(url, 'POST', BATCH, { json: batch })
      assert.equal(reply.status, 400)
      assert.equal(reply.headers['content-type'], 'application/problem+json')
      assert.equal(reply.body.status, 400)
      assert.equal(typeof reply.body.type, 'string')
      assert.equal(typeof reply.body.title, 'string')
      assert.equal(typeof reply.body.detail, 'string')
      assert.deepEqual(Object.keys(reply.body.field_errors as object).sort(), ['[3].event_type', '[4].event_outcome'])
      assert.equal(((await query(url, { correlation_id: cid })).body.pagination as { total: number }).total, 0, 'all or nothing')
    })

    test('filters by type, category, outcome, severity and time, and pages in timestamp then insertion order', async () => {
      const cid = randomUUID()
      const type = `filter.${cid}`
      const batch = [
        event(cid, 0, { event_type: type, event_timestamp: '2026-05-01T00:00:02Z', severity: 'high', event_outcome: 'failure' }),
        event(cid, 1, { event_type: type, event_timestamp: '2026-05-01T00:00:01Z', severity: 'low' }),
        event(cid, 2, { event_type: type, event_timestamp: '2026-05-01T00:00:01Z', severity: 'low', event_category: 'other' }),
        event(cid, 3, { event_type: type, event_timestamp: '2026-05-03T00:00:00Z', severity: 'low' })
      ]
      assert.equal((await call(url, 'POST', BATCH, { json: batch })).status, 201)
      const seqs = async (params: Record<string, string>): Promise<number[]> =>
        ((await query(url, { event_type: type, ...params })).body.data as Array<{ event_data: { seq: number } }>).map((e) => e.event_data.seq)
      assert.deepEqual(await seqs({}), [1, 2, 0, 3])
      assert.deepEqual(await seqs({ event_outcome: 'failure' }), [0])
      assert.deepEqual(await seqs({ severity: 'low' }), [1, 2, 3])
      assert.deepEqual(await seqs({ event_category: 'other' }), [2])
      assert.deepEqual(await seqs({ since: '2026-05-01T00:00:02Z', until: '2026-05-02T00:00:00Z' }), [0])
      assert.deepEqual(await seqs({ since: '2026-05-02T00:00:00+02:00' }), [3])
      const page = await query(url, { event_type: type, limit: '2', offset: '1' })
      assert.deepEqual((page.body.data as Array<{ event_data: { seq: number } }>).map((e) => e.event_data.seq), [2, 0])
      assert.deepEqual(page.body.pagination, { limit: 2, offset: 1, total: 4, has_more: true })
      assert.deepEqual((await query(url, { event_type: type, offset: '2' })).body.pagination, { limit: 50, offset: 2, total: 4, has_more: false })
    })

    test('since accepts a relative duration', async () => {
      const cid = randomUUID()
      await call(url, 'POST', BATCH, { json: [event(cid, 0), event(cid, 1, { event_timestamp: '2020-01-01T00:00:00Z' })] })
      const recent = await query(url, { correlation_id: cid, since: '24h' })
      assert.deepEqual((recent.body.data as Array<{ event_data: { seq: number } }>).map((e) => e.event_data.seq), [0])
    })

    test('detail_key and detail_value filter on a field of event_data, with both as values, never as SQL', async () => {
      const cid = randomUUID()
      await call(url, 'POST', BATCH, { json: [event(cid, 0, { event_data: { task_id: 'task-a', n: 1 } }), event(cid, 1, { event_data: { task_id: 'task-b' } }), event(cid, 2, { event_data: { n: 1 } })] })
      const seqs = async (params: Record<string, string>): Promise<number[]> =>
        ((await query(url, { correlation_id: cid, ...params })).body.data as Array<{ event_data: { seq?: number, task_id?: string } }>).map((e) => e.event_data.task_id === 'task-a' ? 0 : e.event_data.task_id === 'task-b' ? 1 : 2)
      assert.deepEqual(await seqs({ detail_key: 'task_id', detail_value: 'task-a' }), [0])
      assert.deepEqual(await seqs({ detail_key: 'n', detail_value: '1' }), [0, 2], 'a number matches its text')
      assert.deepEqual(await seqs({ detail_key: 'task_id', detail_value: "x' OR '1'='1" }), [])
      const evil = await query(url, { detail_key: "task_id' OR 1=1 --", detail_value: 'x' })
      assert.equal(evil.status, 400)
      assert.deepEqual(Object.keys(evil.body.field_errors as object), ['detail_key'])
    })

    test('since later than until answers 200 with no events', async () => {
      const reply = await query(url, { since: '2026-06-02T00:00:00Z', until: '2026-06-01T00:00:00Z' })
      assert.equal(reply.status, 200)
      assert.deepEqual(reply.body, { data: [], pagination: { limit: 50, offset: 0, total: 0, has_more: false } })
    })

    test('unknown query parameters are accepted and ignored', async () => {
      const cid = randomUUID()
      await call(url, 'POST', BATCH, { json: [event(cid, 0)] })
      const reply = await query(url, { correlation_id: cid, colour: 'blue', page_token: 'x' })
      assert.equal(reply.status, 200)
      assert.equal((reply.body.pagination as { total: number }).total, 1)
    })

    test('bad filters and out-of-range limits get 400 problem+json', async () => {
      for (const params of [{ limit: '0' }, { limit: '5000' }, { limit: 'ten' }, { offset: '-1' }, { since: 'yesterday' }, { until: '5 weeks' }, { event_outcome: 'maybe' }, { correlation_id: '' },
        { since: '99999999d' }, { until: '999999999d' }, { since: '0000-01-01T00:00:00Z' }, { detail_key: 'k' }, { detail_value: 'v' }, { detail_key: 'a-b', detail_value: 'v' }, { detail_key: '', detail_value: 'v' }, { severity: 'a\u0000b' }, { detail_key: 'k', detail_value: '\u0000' }]) {
        const reply = await query(url, params)
        assert.equal(reply.status, 400, JSON.stringify(params))
        assert.equal(reply.headers['content-type'], 'application/problem+json')
      }
    })

    test('injection strings in every filter are treated as values', async () => {
      const cid = randomUUID()
      await call(url, 'POST', BATCH, { json: [event(cid, 0)] })
      for (const evil of ["' OR 1=1 --", "x'; DROP TABLE audit_events; --", '\\', '%', '"; SELECT pg_sleep(5); --']) {
        for (const name of ['event_type', 'event_category', 'severity', 'correlation_id']) {
          const reply = await query(url, { [name]: evil })
          assert.equal(reply.status, 200, `${name}=${evil}`)
          assert.equal((reply.body.pagination as { total: number }).total, 0, `${name}=${evil}`)
        }
        assert.equal((await query(url, { event_outcome: evil })).status, 400)
        assert.equal((await query(url, { since: evil })).status, 400)
      }
      assert.equal(((await query(url, { correlation_id: cid })).body.pagination as { total: number }).total, 1, 'the table is intact')
    })

    test('malformed JSON, a body that is not an array and an empty batch get 400', async () => {
      const json = { 'content-type': 'application/json' }
      assert.equal((await call(url, 'POST', BATCH, { body: '[{"version":', headers: json })).status, 400)
      assert.equal((await call(url, 'POST', BATCH, { json: { events: [] } })).status, 400)
      assert.equal((await call(url, 'POST', BATCH, { json: [] })).status, 400)
      assert.equal((await call(url, 'POST', EVENTS, { body: 'not json', headers: json })).status, 400)
      assert.equal((await call(url, 'POST', EVENTS, { json: [event('x', 1)] })).status, 400)
    })

    test('a wrong content type or encoding gets 415', async () => {
      assert.equal((await call(url, 'POST', BATCH, { body: '[]', headers: { 'content-type': 'text/plain' } })).status, 415)
      assert.equal((await call(url, 'POST', BATCH, { body: '[]' })).status, 415)
      assert.equal((await call(url, 'POST', BATCH, { body: '[]', headers: { 'content-type': 'application/json', 'content-encoding': 'br' } })).status, 415)
    })

    test('a 10 MiB body gets 413, with or without content-length', async () => {
      const big = Buffer.alloc(10 * 1024 * 1024, 0x20)
      assert.equal((await call(url, 'POST', BATCH, { body: big, headers: { 'content-type': 'application/json' } })).status, 413)
      const chunked = Readable.from((function * () { for (let i = 0; i < 10; i++) yield Buffer.alloc(1024 * 1024, 0x20) })())
      assert.equal((await call(url, 'POST', BATCH, { body: chunked, headers: { 'content-type': 'application/json' } })).status, 413)
    })

    test('a gzip body is decoded, and a gzip bomb gets 413', async () => {
      const cid = randomUUID()
      const ok = await call(url, 'POST', BATCH, { body: gzipSync(JSON.stringify([event(cid, 0), event(cid, 1)])), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
      assert.equal(ok.status, 201)
      const bomb = gzipSync(Buffer.concat([Buffer.from('['), Buffer.alloc(64 * 1024 * 1024, 0x20), Buffer.from(']')]))
      assert.ok(bomb.length < 200 * 1024, `the bomb is ${bomb.length} bytes compressed`)
      assert.equal((await call(url, 'POST', BATCH, { body: bomb, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })).status, 413)
      assert.equal((await call(url, 'POST', BATCH, { body: Buffer.from('not gzip'), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })).status, 400)
    })

    test('a value the database refuses gets 400, not 500, and rolls the whole batch back', async () => {
      const cid = randomUUID()
      const reply = await call(url, 'POST', BATCH, { json: [event(cid, 0), event(cid, 1, { duration_ms: 2 ** 40 }), event(cid, 2)] })
      assert.equal(reply.status, 400)
      assert.equal(((await query(url, { correlation_id: cid })).body.pagination as { total: number }).total, 0, 'only committed events are returned')
    })

    test('unknown paths get 404 and wrong methods 405 with Allow', async () => {
      assert.equal((await call(url, 'GET', '/api/v2/nothing')).status, 404)
      const reply = await call(url, 'DELETE', EVENTS)
      assert.equal(reply.status, 405)
      assert.equal(reply.headers.allow, 'GET, POST')
      assert.equal((await call(url, 'GET', BATCH)).status, 405)
    })

    test('the server still serves after all the bad input', async () => {
      assert.equal((await call(url, 'GET', '/health')).status, 200)
      const cid = randomUUID()
      assert.equal((await call(url, 'POST', BATCH, { json: [event(cid, 0)] })).status, 201)
    })

    test('a repeated idempotency key gets the first response again and inserts nothing twice', async () => {
      const cid = randomUUID()
      const key = randomUUID()
      const batch = [event(cid, 0), event(cid, 1)]
      const first = await call(url, 'POST', BATCH, { json: batch, headers: { 'idempotency-key': key } })
      const second = await call(url, 'POST', BATCH, { json: batch, headers: { 'idempotency-key': key } })
      assert.equal(first.status, 201)
      assert.equal(second.status, 201)
      assert.deepEqual(second.body, first.body)
      assert.equal(second.headers['idempotent-replayed'], 'true')
      assert.equal(((await query(url, { correlation_id: cid })).body.pagination as { total: number }).total, 2)
      const reused = await call(url, 'POST', BATCH, { json: [event(cid, 9)], headers: { 'idempotency-key': key } })
      assert.equal(reused.status, 422, 'the same key with another body is refused')
    })

    test('two concurrent requests with the same idempotency key insert once', async () => {
      const cid = randomUUID()
      const key = randomUUID()
      const batch = Array.from({ length: 200 }, (_, i) => event(cid, i))
      const replies = await Promise.all(Array.from({ length: 5 }, () => call(url, 'POST', BATCH, { json: batch, headers: { 'idempotency-key': key } })))
      assert.ok(replies.every((r) => r.status === 201))
      for (const reply of replies) assert.deepEqual(reply.body, replies[0]!.body)
      assert.equal(replies.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 4)
      assert.equal(((await query(url, { correlation_id: cid })).body.pagination as { total: number }).total, 200)
    })

    test('10 clients x 10 000 events at once are all stored, with exact counts per correlation id', async () => {
      const run = randomUUID()
      await Promise.all(Array.from({ length: 10 }, async (_, client) => {
        const store = createAuditStore({ sink: new DataStorageSink({ url, retry: { baseDelayMs: 50 } }), logger: silentLogger })
        for (let i = 0; i < 10_000; i++) {
          if (!store.write(event(`${run}-${client}`, i))) await new Promise((resolve) => store.once('drain', resolve))
        }
        assert.deepEqual(await store.flush(), { written: 10_000, deadLettered: 0, dropped: 0, lost: 0 })
        await store.close()
      }))
      // Every page of every client: each seq 0..9999 stored once, so no loss can hide behind a duplicate.
      for (let client = 0; client < 10; client++) {
        const seqs: number[] = []
        for (let offset = 0; offset < 10_000; offset += 1000) {
          const reply = await query(url, { correlation_id: `${run}-${client}`, limit: '1000', offset: String(offset) })
          assert.equal(reply.status, 200)
          assert.equal((reply.body.pagination as { total: number }).total, 10_000, `client ${client}: total`)
          seqs.push(...(reply.body.data as Array<{ event_data: { seq: number } }>).map((e) => e.event_data.seq))
        }
        assertExactlyOnce(seqs, 0, 10_000, `client ${client}: the stored events`)
      }
    })

    test('health answers 200 while the database answers', async () => {
      const reply = await call(url, 'GET', '/health')
      assert.equal(reply.status, 200)
      assert.equal(reply.body.status, 'healthy')
      assert.deepEqual((await call(url, 'GET', '/health/ready')).body, reply.body, '/health is an alias of /health/ready')
      const live = await call(url, 'GET', '/health/live')
      assert.equal(live.status, 200)
      assert.equal(live.body.status, 'healthy')
    })
  })
}
