import { test } from 'node:test'
import assert from 'node:assert/strict'
import { servedMatchesRaw } from '../../lib/chain/served-form.js'
import { rawEvent, servedOf } from '../helpers/lane.js'

const raw = rawEvent(7)

test('the served form of a stored event matches its raw bytes', () => {
  assert.ok(servedMatchesRaw(servedOf(raw), raw))
})

test('key order, a null omitted by the server and the server-added event_id and event_date do not count as differences', () => {
  const served = servedOf(raw)
  const reversed = Object.fromEntries(Object.entries(served).reverse())
  assert.ok(servedMatchesRaw(reversed, raw))
  assert.ok(servedMatchesRaw({ ...served, parent_event_id: null }, raw))
  assert.ok(servedMatchesRaw({ ...served, cluster_id: null }, raw))
})

test('timestamps compare as instants, so the database\'s re-rendering matches', () => {
  const r = JSON.stringify({ event_timestamp: '2026-03-14T10:00:00.5+01:00', parent_event_date: '2026-03-14T08:59:59Z', x: 1 })
  assert.ok(servedMatchesRaw({ event_timestamp: '2026-03-14T09:00:00.500Z', parent_event_date: '2026-03-14T08:59:59.000Z', x: 1, event_date: '2026-03-14' }, r))
  assert.equal(servedMatchesRaw({ event_timestamp: '2026-03-14T09:00:00.501Z', parent_event_date: '2026-03-14T08:59:59.000Z', x: 1 }, r), false)
})

test('parent_event_id compares case-insensitively, as PostgreSQL lowercases a uuid', () => {
  const r = JSON.stringify({ parent_event_id: 'ABCDEF01-2345-4678-9ABC-DEF012345678' })
  assert.ok(servedMatchesRaw({ parent_event_id: 'abcdef01-2345-4678-9abc-def012345678' }, r))
})

test('an edited column, a missing key, an extra key or a wrong event_date is a difference', () => {
  const served = servedOf(raw)
  const data = served.event_data as Record<string, unknown>
  for (const edited of [
    { ...served, event_outcome: 'failure' },
    { ...served, event_data: { ...data, seq: 8 } },
    { ...served, event_data: { ...data, extra: 1 } },
    { ...served, event_data: { seq: 7 } },
    { ...served, event_data: { ...data, pods: [1, { ready: false }] } },
    { ...served, event_data: { ...data, pods: [1] } },
    { ...served, event_timestamp: '2026-03-14T09:00:08.000Z' },
    { ...served, severity: 'high' },
    { ...served, event_date: '2026-03-15' },
    { ...served, event_date: 20260314 },
    { ...served, event_id: 42 },
    Object.fromEntries(Object.entries(served).filter(([k]) => k !== 'actor_id'))
  ]) {
    assert.equal(servedMatchesRaw(edited, raw), false, JSON.stringify(edited))
  }
})

test('raw that is not a JSON object, or a served form that is not an object, never matches', () => {
  for (const bad of ['', 'not json', '[]', 'null', '42', '{"a":1', '"str"']) assert.equal(servedMatchesRaw({}, bad), false)
  assert.equal(servedMatchesRaw(null as unknown as Record<string, unknown>, raw), false)
  assert.equal(servedMatchesRaw([] as unknown as Record<string, unknown>, '{}'), false)
  assert.equal(servedMatchesRaw({}, 42 as unknown as string), false)
})
