import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseFilters } from '../../lib/server/query-filters.js'

const now = Date.parse('2026-06-15T12:00:00Z')
const parse = (q: string) => parseFilters(new URLSearchParams(q), now)

test('defaults to the first 50 events', () => {
  assert.deepEqual(parse(''), { limit: 50, offset: 0 })
})

test('relative durations count back from now', () => {
  assert.equal(parse('since=24h').since?.toISOString(), '2026-06-14T12:00:00.000Z')
  assert.equal(parse('since=30m').since?.toISOString(), '2026-06-15T11:30:00.000Z')
  assert.equal(parse('since=7d').since?.toISOString(), '2026-06-08T12:00:00.000Z')
  assert.equal(parse('until=15s').until?.toISOString(), '2026-06-15T11:59:45.000Z')
})

test('RFC 3339 instants keep their offset', () => {
  assert.equal(parse('since=2026-06-01T10:00:00%2B02:00').since?.toISOString(), '2026-06-01T08:00:00.000Z')
  // A '+' left unencoded arrives as a space; it is read as the offset it was meant to be.
  assert.equal(parse('since=2026-06-01T10:00:00+02:00').since?.toISOString(), '2026-06-01T08:00:00.000Z')
})

test('rejects each bad parameter by name', () => {
  for (const [q, name] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['offset=x', 'offset'], ['since=2026-06-01', 'since'], ['until=1w', 'until'],
    ['event_outcome=ok', 'event_outcome'], ['severity=' + 'x'.repeat(256), 'severity'], ['limit=1&limit=2', 'limit'],
    ['since=99999999d', 'since'], ['until=999999999d', 'until'], ['since=0000-12-31T23:59:59Z', 'since'],
    ['detail_key=k', 'detail_value'], ['detail_value=v', 'detail_key'], ['detail_key=&detail_value=v', 'detail_key'],
    ['detail_key=k&detail_value=', 'detail_value'], ['severity=a%00b', 'severity'], ['detail_key=k&detail_value=%00', 'detail_value'], ['detail_key=a.b&detail_value=v', 'detail_key'], ["detail_key=a'--&detail_value=v", 'detail_key']]) {
    assert.throws(() => parse(q!), (err: unknown) => {
      const e = err as { status: number, extra: { field_errors: Record<string, string> } }
      return e.status === 400 && name! in e.extra.field_errors
    }, q)
  }
})

test('unknown parameters are ignored, as the real service ignores them', () => {
  assert.deepEqual(parse('colour=blue&foo=1&foo=2&limit=5'), { limit: 5, offset: 0 })
})

test('since later than until is not an error: it matches nothing', () => {
  const f = parse('since=2026-06-02T00:00:00Z&until=2026-06-01T00:00:00Z')
  assert.ok(f.since! > f.until!)
})

test('detail_key and detail_value make one filter on a field of event_data', () => {
  assert.deepEqual(parse('detail_key=task_id&detail_value=task-abc-123').detail, { key: 'task_id', value: 'task-abc-123' })
})

test('a relative duration reaching before year 0001 is refused, not turned into an invalid date', () => {
  assert.throws(() => parse('since=99999999d'), (err: unknown) => (err as { status: number }).status === 400)
  assert.equal(parse('since=700000d').since?.getUTCFullYear(), 109)
})

test('the trail browser filters and order are parsed like the other text filters', () => {
  assert.deepEqual(parse('actor_type=service&actor_id=alice&resource_type=Pod&resource_id=pod-1&namespace=payments&order=desc'), {
    limit: 50, offset: 0, actor_type: 'service', actor_id: 'alice', resource_type: 'Pod', resource_id: 'pod-1', namespace: 'payments', order: 'desc'
  })
  assert.equal(parse('order=asc').order, 'asc')
  for (const bad of ['order=newest', 'namespace=', `actor_id=${'x'.repeat(256)}`, 'order=asc&order=desc']) {
    assert.throws(() => parse(bad), (err: Error & { status?: number }) => err.status === 400, bad)
  }
})
