import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'
import { outcomeOf, seed, trailEvents } from '../helpers/trail-events.js'

const TOKEN = 'trail-token'
let server: DataStorageServer
const get = (path: string, token: string | null = TOKEN): Promise<Response> =>
  fetch(server.url + path, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })

before(async () => {
  server = await startDataStorageServer({ token: TOKEN, logger: silentLogger })
  // 2 100 events, so the export crosses two keyset pages of 1 000; same-second timestamps test the seq tie-break.
  await seed(server.url, TOKEN, [...trailEvents('t', 2_100, Date.UTC(2026, 0, 1), 500), ...trailEvents('other', 30)])
})
after(() => server.close())

test('the trail endpoints need the bearer token', async () => {
  for (const path of ['/api/v1/audit/events/export', '/api/v1/audit/events/histogram', '/api/v1/audit/events/00000000-0000-4000-8000-000000000000']) {
    assert.equal((await get(path, null)).status, 401, path)
    assert.equal((await get(path, 'wrong')).status, 401, path)
  }
})

test('one event by id; 400 for an id that is not a UUID, 404 for one that is absent', async () => {
  const page = await (await get('/api/v1/audit/events?correlation_id=t&limit=1')).json() as { data: Array<{ event_id: string }> }
  const id = page.data[0]!.event_id
  const one = await get(`/api/v1/audit/events/${id}`)
  assert.equal(one.status, 200)
  assert.deepEqual(await one.json(), page.data[0])
  assert.equal((await get('/api/v1/audit/events/not-a-uuid')).status, 400)
  assert.equal((await get('/api/v1/audit/events/00000000-0000-4000-8000-000000000000')).status, 404)
})

test('export streams exactly the query events in its order, across keyset pages', async () => {
  for (const order of ['asc', 'desc']) {
    const res = await get(`/api/v1/audit/events/export?correlation_id=t&order=${order}&limit=5`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/)
    const seqs = (await res.text()).trimEnd().split('\n').map((l) => (JSON.parse(l) as { event_data: { seq: number } }).event_data.seq)
    const expected = Array.from({ length: 2_100 }, (_, i) => i)
    assert.deepEqual(seqs, order === 'asc' ? expected : expected.reverse())
  }
  const failures = await (await get('/api/v1/audit/events/export?correlation_id=t&event_outcome=failure')).text()
  assert.equal(failures.trimEnd().split('\n').length, Array.from({ length: 2_100 }, (_, i) => outcomeOf(i, 2_100)).filter((o) => o === 'failure').length)
  assert.equal((await get('/api/v1/audit/events/export?order=sideways')).status, 400)
})

test('the histogram counts every event of the query by outcome in at most 120 buckets', async () => {
  const res = await get('/api/v1/audit/events/histogram?correlation_id=t')
  const body = await res.json() as { total: number, bucket_seconds: number, buckets: Array<{ start: string, success: number, failure: number, pending: number }> }
  assert.equal(body.total, 2_100)
  assert.ok(body.buckets.length <= 120 && body.buckets.length > 1)
  const sum = (k: 'success' | 'failure' | 'pending'): number => body.buckets.reduce((n, b) => n + b[k], 0)
  const outcomes = Array.from({ length: 2_100 }, (_, i) => outcomeOf(i, 2_100))
  for (const k of ['success', 'failure', 'pending'] as const) assert.equal(sum(k), outcomes.filter((o) => o === k).length, k)
  assert.equal(body.buckets[0]!.start, '2026-01-01T00:00:00.000Z')
  assert.deepEqual(await (await get('/api/v1/audit/events/histogram?correlation_id=none')).json(), { total: 0, bucket_seconds: 1, buckets: [] })
})

test('the new filters narrow GET /api/v1/audit/events, and order=desc reverses it', async () => {
  const body = await (await get('/api/v1/audit/events?correlation_id=t&actor_id=alice&namespace=payments&resource_type=Signal&order=desc&limit=1000')).json() as { data: Array<Record<string, unknown>>, pagination: { total: number } }
  assert.ok(body.pagination.total > 0)
  for (const e of body.data) assert.deepEqual([e.actor_id, e.namespace, e.resource_type], ['alice', 'payments', 'Signal'])
  const seqs = body.data.map((e) => (e.event_data as { seq: number }).seq)
  assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a))
})
