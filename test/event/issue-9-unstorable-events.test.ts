/**
 * Issue 9 section 4: the client refuses what the server can never store.
 * Each case gets AuditValidationError from record(), dead-letter reason
 * `invalid` through write(), and a 400 from the reference server, on PGlite
 * and on PostgreSQL.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { request } from 'undici'
import { AuditValidationError, MemorySink, createAuditStore, validateAuditEvent } from '../../lib/index.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/datastorage-server.js'
import { MAX_EVENT_DATA_DEPTH } from '../../lib/event/storable-json.js'
import { MemoryDeadLetter, makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'
import { engines } from '../helpers/engines.js'

// JSON text nested `depth` deep: JSON.stringify itself overflows the stack at 5000.
function nestedJson (depth: number): string {
  return '{"a":'.repeat(depth - 1) + '{"leaf":true}' + '}'.repeat(depth - 1)
}

// The batch [makeEvent(0), event] as JSON text, deep event_data written by hand.
function batchJson (event: unknown, depth: number | undefined): string {
  if (depth === undefined) return JSON.stringify([makeEvent(0), event])
  return JSON.stringify([makeEvent(0), { ...(event as object), event_data: '__deep__' }]).replace('"__deep__"', nestedJson(depth))
}

function nested (depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true }
  for (let i = 1; i < depth; i++) value = { a: value }
  return value
}

// Each case: what it is, the event, and the path its issue names.
const cases: Array<[string, () => unknown, string]> = [
  ['duration_ms of 2**40, past PostgreSQL integer', () => ({ ...makeEvent(1), duration_ms: 2 ** 40 }), 'duration_ms'],
  ['retention_days of -2**31 - 1', () => ({ ...makeEvent(1), retention_days: -(2 ** 31) - 1 }), 'retention_days'],
  ['a NUL in a top-level string', () => ({ ...makeEvent(1), actor_id: 'a\u0000b' }), 'actor_id'],
  ['a NUL in an event_data value', () => ({ ...makeEvent(1), event_data: { deep: { list: ['ok', 'x\u0000'] } } }), 'event_data.deep.list.1'],
  ['a NUL in an event_data key', () => ({ ...makeEvent(1), event_data: { 'k\u0000': 1 } }), 'event_data.k\u0000'],
  ['a lone surrogate in event_data, which jsonb refuses', () => ({ ...makeEvent(1), event_data: { s: 'a\ud800' } }), 'event_data.s'],
  ['year 0000 in event_timestamp', () => ({ ...makeEvent(1), event_timestamp: '0000-06-01T00:00:00Z' }), 'event_timestamp'],
  ['0001-01-01 with an offset that makes it year 0000 in UTC, which no read gets back', () => ({ ...makeEvent(1), event_timestamp: '0001-01-01T00:30:00+01:00' }), 'event_timestamp'],
  ['9999-12-31 with an offset that makes it year 10000 in UTC', () => ({ ...makeEvent(1), event_timestamp: '9999-12-31T23:59:59-00:01' }), 'event_timestamp'],
  ['year 0000 in parent_event_date', () => ({ ...makeEvent(1), parent_event_id: '123e4567-e89b-42d3-a456-426614174000', parent_event_date: '0000-01-01T00:00:00Z' }), 'parent_event_date'],
  ['an event whose prototype supplies event_type', () => {
    const { event_type: type, ...own } = makeEvent(1)
    return Object.assign(Object.create({ event_type: type }) as object, own)
  }, 'event_type'],
  ['an event whose prototype supplies toJSON', () => Object.assign(Object.create({ toJSON: () => makeEvent(2) }) as object, makeEvent(1)), ''],
  ['event_data nested 5000 deep', () => ({ ...makeEvent(1), event_data: nested(5000) }), 'event_data'],
  [`event_data nested ${MAX_EVENT_DATA_DEPTH + 1} deep`, () => ({ ...makeEvent(1), event_data: nested(MAX_EVENT_DATA_DEPTH + 1) }), 'event_data']
]

const issuePath = (issues: readonly { path: string }[], path: string): boolean =>
  issues.some((issue) => issue.path === path || (path !== '' && issue.path.startsWith(`${path}.`)))

test(`event_data nested exactly ${MAX_EVENT_DATA_DEPTH} deep is accepted`, () => {
  assert.deepEqual(validateAuditEvent({ ...makeEvent(1), event_data: nested(MAX_EVENT_DATA_DEPTH) }), [])
})

test('a string with an escaped backslash before u0000 is text, not a NUL', () => {
  const store = createAuditStore({ sink: new MemorySink(), logger: silentLogger })
  assert.equal(store.record({ ...makeEvent(1), event_data: { path: 'C:\\u0000dir' } }), true)
  store.destroy()
})

for (const [what, make, path] of cases) {
  test(`record() refuses ${what}`, () => {
    const store = createAuditStore({ sink: new MemorySink(), logger: silentLogger })
    assert.throws(() => store.record(make() as never), (err: unknown) => {
      assert.ok(err instanceof AuditValidationError, String(err))
      assert.ok(issuePath(err.issues, path), `expected an issue at ${path}: ${JSON.stringify(err.issues)}`)
      return true
    })
    assert.equal(store.stats().invalid, 1)
    store.destroy()
  })
}

test('write() dead-letters every such event with reason invalid, and the valid ones go through', async () => {
  const sink = new MemorySink()
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, logger: silentLogger })
  await pipeline(Readable.from([makeEvent(0), ...cases.map(([, make]) => make()), makeEvent(1)]), store)
  assert.deepEqual(seqs(sink.events), [0, 1])
  assert.equal(deadLetter.entries.length, cases.length)
  assert.ok(deadLetter.entries.every((entry) => entry.reason === 'invalid'))
})

for (const engine of engines) {
  describe(`the reference server on ${engine.name} answers 400 for what it cannot store`, { skip: engine.skip }, () => {
    let server: DataStorageServer
    before(async () => { server = await startDataStorageServer({ database: engine.database!, logger: silentLogger }) })
    after(async () => { await server?.close() })

    for (const [what, make, path] of cases) {
      // The server sees JSON text: a toJSON() on the prototype sends another, valid event.
      if (what.includes('toJSON')) continue
      test(`${what}`, async () => {
        const depth = /nested (\d+) deep/.exec(what)?.[1]
        const res = await request(`${server.url}/api/v1/audit/events/batch`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: batchJson(make(), depth === undefined ? undefined : Number(depth))
        })
        const body = await res.body.json() as { field_errors?: Record<string, string> }
        assert.equal(res.statusCode, 400, JSON.stringify(body))
        const keys = Object.keys(body.field_errors ?? {})
        assert.ok(keys.some((key) => key.startsWith('[1]')), JSON.stringify(body))
        if (!what.includes('prototype')) assert.ok(keys.some((key) => key === `[1].${path}` || key.startsWith(`[1].${path}.`) || (path === '' && key === '[1]')), JSON.stringify(keys))
      })
    }

    test('unknown top-level fields are accepted and ignored, even ones PostgreSQL could not store', async () => {
      const res = await request(`${server.url}/api/v1/audit/events/batch`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ ...makeEvent(0, 'unknown-fields'), extra_field: 'x\u0000', nested_extra: '__deep__' }]).replace('"__deep__"', nestedJson(5000))
      })
      assert.equal(res.statusCode, 201, await res.body.text())
    })
  })
}
