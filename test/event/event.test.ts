import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AuditValidationError, newAuditEvent, validateAuditEvent } from '../../lib/index.js'
import { encodeAuditEvent } from '../../lib/event/event.js'
import { EventRun } from '../../lib/batching/event-run.js'
import { makeEvent } from '../helpers/fixtures.js'

test('newAuditEvent fills version, timestamp and event_data when absent', () => {
  const before = Date.now()
  const event = newAuditEvent({ event_type: 't', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: 'x' })
  assert.equal(event.version, '1.0')
  assert.deepEqual(event.event_data, {})
  assert.ok(Date.parse(event.event_timestamp) >= before - 1)
  assert.deepEqual(validateAuditEvent(event), [])
})

test('newAuditEvent keeps fields the caller gave', () => {
  const event = newAuditEvent({ version: '2', event_timestamp: '2026-01-02T03:04:05Z', event_data: { a: 1 }, event_type: 't', event_category: 'c', event_action: 'a', event_outcome: 'failure', correlation_id: 'x' })
  assert.equal(event.version, '2')
  assert.equal(event.event_timestamp, '2026-01-02T03:04:05Z')
  assert.deepEqual(event.event_data, { a: 1 })
})

test('newAuditEvent treats explicit undefined defaults as absent', () => {
  const fields = { version: undefined, event_type: 't', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: 'x' }
  const event = newAuditEvent(fields as unknown as Parameters<typeof newAuditEvent>[0])
  assert.equal(event.version, '1.0')
  assert.deepEqual(validateAuditEvent(event), [])
})

test('validateAuditEvent returns an empty list for a complete valid event', () => {
  const event = {
    ...makeEvent(1),
    actor_type: 'user', actor_id: 'u1', actor_ip: '2001:db8::1', resource_type: 'order', resource_id: 'o1',
    parent_event_id: '123e4567-e89b-42d3-a456-426614174000', parent_event_date: '2026-01-02T03:04:05Z', namespace: 'ns', cluster_id: 'c1', severity: 'info',
    duration_ms: 12, error_code: 'E1', error_message: 'boom', retention_days: 30, is_sensitive: false
  }
  assert.deepEqual(validateAuditEvent(event), [])
  assert.deepEqual(validateAuditEvent({ ...makeEvent(1), parent_event_id: null }), [])
})

const invalid: Array<[string, Record<string, unknown>, string]> = [
  ['a missing event_type', { event_type: undefined }, 'event_type'],
  ['an empty correlation_id', { correlation_id: '' }, 'correlation_id'],
  ['an event_type over 100 characters', { event_type: 'x'.repeat(101) }, 'event_type'],
  ['a version over 20 characters', { version: 'v'.repeat(21) }, 'version'],
  ['an unknown outcome', { event_outcome: 'maybe' }, 'event_outcome'],
  ['a timestamp that is not ISO 8601', { event_timestamp: 'yesterday' }, 'event_timestamp'],
  ['an impossible date', { event_timestamp: '2026-13-45T00:00:00Z' }, 'event_timestamp'],
  ['event_data that is an array', { event_data: [1, 2] }, 'event_data'],
  ['event_data that is null', { event_data: null }, 'event_data'],
  ['an actor_ip over 45 characters', { actor_ip: '1'.repeat(46) }, 'actor_ip'],
  ['a parent_event_id that is not a uuid', { parent_event_id: 'abc' }, 'parent_event_id'],
  ['a fractional duration_ms', { duration_ms: 1.5 }, 'duration_ms'],
  ['a string is_sensitive', { is_sensitive: 'yes' }, 'is_sensitive'],
  ['an unknown field', { evnt_type: 'typo' }, 'evnt_type']
]

for (const [what, patch, path] of invalid) {
  test(`validateAuditEvent reports ${what} at its path`, () => {
    const event: Record<string, unknown> = { ...makeEvent(1), ...patch }
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete event[k]
    const issues = validateAuditEvent(event)
    assert.ok(issues.some((i) => i.path === path), `expected an issue at ${path}, got ${JSON.stringify(issues)}`)
  })
}

test('event_timestamp must be a real RFC 3339 date-time', async () => {
  const { isDateTime } = await import('../../lib/event/date-time.js')
  for (const ok of ['2026-01-02T03:04:05Z', '2026-01-02t03:04:05z', '2026-01-02T03:04:05.123456Z', '2026-01-02T03:04:05+05:30', '2026-01-02T03:04:05-08:00', '2024-02-29T00:00:00Z', '2000-02-29T23:59:59Z',
    '0001-01-01T00:00:00Z', '0001-01-01T01:00:00+01:00', '0001-01-01T00:00:00-01:00', '9999-12-31T23:59:59Z', '9999-12-31T22:59:59-01:00', '9999-12-31T23:59:59+01:00',
    // PostgreSQL keeps microseconds: these stay in 9999 once rounded.
    '9999-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.9999994999Z', '9999-12-31T23:58:59.9999999Z', '9999-12-31T23:59:59.9999999+00:01', '2026-12-31T23:59:59.9999999Z']) {
    assert.equal(isDateTime(ok), true, ok)
  }
  for (const bad of ['2026-01-02', '2026-01-02 03:04:05Z', '2026-01-02T03:04:05', '2026-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-01-02T24:00:00Z', '2026-01-02T03:60:00Z', '2026-01-02T03:04:05.Z', '2026-01-02T03:04:05+5:30',
    '2026-01-02T03:04:05+24:00', '2026-01-02T03:04:05ZZ', 'x026-01-02T03:04:05Z', '2026-01-02T03:04:05+05:30x',
    '0001-01-01T00:59:59+01:00', '0001-01-01T00:00:00+00:01', '9999-12-31T23:00:00-01:00', '9999-12-31T23:59:59-00:01',
    // ...and these would round into year 10000.
    '9999-12-31T23:59:59.9999995Z', '9999-12-31T23:59:59.99999999z', '9999-12-31T22:59:59.9999995-01:00', '9999-12-31T23:58:59.9999995-00:01']) {
    assert.equal(isDateTime(bad), false, bad)
  }
})

test('inherited properties are not unknown fields: they are not serialized', () => {
  const event = Object.assign(Object.create({ inherited: true }) as Record<string, unknown>, makeEvent(1))
  assert.deepEqual(validateAuditEvent(event), [])
})

test('validateAuditEvent reports one issue per field', () => {
  const issues = validateAuditEvent({ ...makeEvent(1), event_outcome: 'maybe' })
  assert.equal(issues.filter((i) => i.path === 'event_outcome').length, 1)
})

test('validateAuditEvent rejects non-objects', () => {
  for (const value of [null, 42, 'event', [makeEvent(1)]]) assert.ok(validateAuditEvent(value).length > 0)
})

test('encoding rejects an event that cannot be serialized', () => {
  const circular: Record<string, unknown> = {}
  circular.self = circular
  for (const data of [circular, { n: 10n }]) {
    assert.throws(() => encodeAuditEvent({ ...makeEvent(1), event_data: data }, 1024, new EventRun()), (err: unknown) => {
      assert.ok(err instanceof AuditValidationError)
      assert.match(err.issues[0]!.message, /not serializable|circular/)
      return true
    })
  }
})

test('encoding rejects an event over maxEventBytes, counting UTF-8 bytes', () => {
  const event = { ...makeEvent(1), event_data: { s: 'é'.repeat(100) } }
  const exact = Buffer.byteLength(JSON.stringify(event))
  const run = new EventRun()
  encodeAuditEvent(event, exact, run)
  assert.equal(run.sizes[0], exact)
  assert.throws(() => encodeAuditEvent(event, exact - 1, run), /over maxEventBytes/)
  assert.equal(run.length, 1, 'a refused event is not appended')
})

test('encoding snapshots the event: later mutation changes nothing', () => {
  const event = makeEvent(1)
  const run = new EventRun()
  encodeAuditEvent(event, 1 << 20, run)
  event.event_data.seq = 99
  assert.equal((JSON.parse(run.events[0]!) as { event_data: { seq: number } }).event_data.seq, 1)
})

test('an event whose getter or Proxy trap throws is refused with an AuditValidationError, not the raw error', () => {
  const getter = makeEvent(1) as unknown as Record<string, unknown>
  Object.defineProperty(getter, 'event_type', { get () { throw new Error('getter boom') }, enumerable: true })
  const proxies = [
    new Proxy(makeEvent(2), { get () { throw new Error('get boom') } }),
    new Proxy(makeEvent(3), { ownKeys () { throw new Error('ownKeys boom') } })
  ]
  for (const value of [getter, ...proxies]) {
    assert.throws(() => encodeAuditEvent(value, 1_000_000, new EventRun()), (err: unknown) => {
      assert.ok(err instanceof AuditValidationError, `got ${String(err)}`)
      assert.match(err.issues[0]!.message, /event could not be read: \w+ boom/)
      return true
    })
  }
})

test('an array in event_data that JSON would send as something else (own toJSON, Array subclass) is refused', () => {
  const withToJSON = Object.assign([1, 2], { toJSON: () => 'not the items' })
  class Tagged extends Array<number> { toJSON (): string { return 'not the items either' } }
  const subclass = Tagged.from([1, 2])
  for (const list of [withToJSON, subclass]) {
    const issues = validateAuditEvent({ ...makeEvent(1), event_data: { list } })
    assert.equal(issues.length, 1, JSON.stringify(issues))
    assert.equal(issues[0]!.path, 'event_data.list')
    assert.throws(() => encodeAuditEvent({ ...makeEvent(1), event_data: { list } }, 1_000_000, new EventRun()), AuditValidationError)
  }
  assert.deepEqual(validateAuditEvent({ ...makeEvent(1), event_data: { list: [1, 2] } }), [])
})
