/**
 * An OpenAPI 3.0 document as the event schema: test/fixtures/datastorage-openapi.yaml
 * has kubernaut's structure (nullable fields, a discriminated oneOf whose
 * mapping sends several event_type values to one payload, enums).
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { parse } from 'yaml'
import { AuditValidationError, InvalidOptionError, MemorySink, createAuditStore, createEventValidator } from '../../lib/index.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/datastorage-server.js'
import { silentLogger } from '../helpers/fixtures.js'
import { tempDir } from '../helpers/temp-dir.js'
import { engines } from '../helpers/engines.js'

const FIXTURE = new URL('../fixtures/datastorage-openapi.yaml', import.meta.url).pathname
const doc = parse(readFileSync(FIXTURE, 'utf8')) as Record<string, unknown>

function gatewayEvent (patch: Record<string, unknown> = {}, data: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '1.0', event_type: 'gateway.signal.received', event_timestamp: '2026-05-01T10:00:00Z', event_category: 'gateway',
    event_action: 'received', event_outcome: 'success', correlation_id: 'rr-2026-001',
    event_data: { event_type: 'gateway.signal.received', signal_type: 'alert', signal_name: 'HighMemoryUsage', namespace: 'payment', fingerprint: 'abc123', ...data },
    ...patch
  }
}

const validate = createEventValidator(FIXTURE)

test('a payload that matches its discriminated branch is valid', () => {
  assert.deepEqual(validate(gatewayEvent()), [])
  // Another value the mapping sends to the same payload.
  assert.deepEqual(validate(gatewayEvent({}, { event_type: 'gateway.crd.created' })), [])
})

test('a payload without the tag in its own properties is picked by the mapping, as kubernaut does', () => {
  assert.deepEqual(validate(gatewayEvent({ event_category: 'analysis' }, { event_type: 'aianalysis.phase.transition', old_phase: 'a', new_phase: 'b' })), [])
  const issues = validate(gatewayEvent({ event_category: 'analysis' }, { event_type: 'aianalysis.phase.transition', old_phase: 'a' }))
  assert.ok(issues.some((i) => i.path === 'event_data.new_phase' && i.message === 'required'), JSON.stringify(issues))
})

test('issues name the failing path inside the chosen payload', () => {
  const event = gatewayEvent()
  delete (event.event_data as Record<string, unknown>).fingerprint
  assert.deepEqual(validate(event), [{ path: 'event_data.fingerprint', message: 'required' }])
  const nested = validate(gatewayEvent({}, { error_details: { message: 'x' }, occurrence_count: -1 }))
  assert.deepEqual(nested.map((i) => i.path).sort(), ['event_data.error_details.code', 'event_data.occurrence_count'])
})

test('only the chosen branch is reported, never the other payloads', () => {
  const issues = validate(gatewayEvent({}, { signal_type: 'other' }))
  assert.deepEqual(issues.map((i) => i.path), ['event_data.signal_type'])
})

test('a tag value outside the mapping, or no tag, is reported at the tag', () => {
  assert.deepEqual(validate(gatewayEvent({}, { event_type: 'gateway.unknown' })).map((i) => i.path), ['event_data.event_type'])
  const event = gatewayEvent()
  delete (event.event_data as Record<string, unknown>).event_type
  assert.deepEqual(validate(event), [{ path: 'event_data.event_type', message: 'required' }])
})

test('event_data that is not an object is refused even though the document gives no type', () => {
  for (const data of [null, 'text', [1]]) assert.ok(validate({ ...gatewayEvent(), event_data: data }).some((i) => i.path === 'event_data'), String(data))
})

test('enums of the base event follow the document', () => {
  assert.deepEqual(validate(gatewayEvent({ event_category: 'orders' })).map((i) => i.path), ['event_category'])
})

test('every nullable field of the document accepts null', () => {
  const nulls = { namespace: null, cluster_id: null, severity: null, error_code: null, error_message: null, duration_ms: null, retention_days: null, is_sensitive: null, parent_event_id: null, parent_event_date: null }
  assert.deepEqual(validate(gatewayEvent(nulls)), [])
  assert.ok(validate(gatewayEvent({ actor_id: null })).some((i) => i.path === 'actor_id'), 'actor_id is not nullable')
})

test('PostgreSQL limits apply on top of the document: int32 columns and NUL characters', () => {
  assert.deepEqual(validate(gatewayEvent({ duration_ms: 2 ** 40 })).map((i) => i.path), ['duration_ms'])
  assert.deepEqual(validate(gatewayEvent({}, { signal_name: 'a\u0000' })).map((i) => i.path), ['event_data.signal_name'])
})

test('the client refuses unknown top-level fields; allowUnknownKeys (the server) ignores them', () => {
  assert.deepEqual(validate(gatewayEvent({ evnt_type: 'typo' })), [{ path: 'evnt_type', message: 'unknown field' }])
  assert.deepEqual(createEventValidator(FIXTURE, { allowUnknownKeys: true })(gatewayEvent({ evnt_type: 'typo' })), [])
})

test('a parsed document, a YAML path and a JSON path give the same validator', (t) => {
  const dir = tempDir(t, 'audit-openapi-')
  const json = join(dir, 'doc.json')
  writeFileSync(json, JSON.stringify(doc))
  for (const source of [doc, json]) {
    const v = createEventValidator(source)
    assert.deepEqual(v(gatewayEvent()), [])
    assert.deepEqual(v(gatewayEvent({}, { fingerprint: 1 })).map((i) => i.path), ['event_data.fingerprint'])
  }
})

test('newEvent never invents an event_data when a document is loaded', () => {
  const fields = { event_type: 'gateway.signal.received', event_category: 'gateway', event_action: 'received', event_outcome: 'success' as const, correlation_id: 'rr-1' }
  const event = validate.newEvent(fields)
  assert.equal(event.event_data, undefined)
  assert.equal(event.version, '1.0')
  assert.deepEqual(validate(event), [{ path: 'event_data', message: 'required' }])
  assert.deepEqual(createEventValidator().newEvent(fields).event_data, {}, 'the generic schema keeps its {} default')
})

function withSchemas (patch: Record<string, unknown>): Record<string, unknown> {
  const schemas = (doc.components as { schemas: Record<string, unknown> }).schemas
  return { ...doc, components: { schemas: { ...schemas, ...patch } } }
}

const unsupported: Array<[string, Record<string, unknown>, string]> = [
  ['an external $ref', withSchemas({ ErrorDetails: { $ref: 'other.yaml#/Error' } }), '#/components/schemas/ErrorDetails/$ref'],
  ['an unknown keyword', withSchemas({ ErrorDetails: { type: 'object', patternProperties: { '^x': {} } } }), '#/components/schemas/ErrorDetails/patternProperties'],
  ['an unknown format', withSchemas({ ErrorDetails: { type: 'string', format: 'color' } }), '#/components/schemas/ErrorDetails/format'],
  ['a mapping to a schema outside the oneOf', (() => {
    const d = structuredClone(doc) as { components: { schemas: { AuditEventRequest: { properties: { event_data: { discriminator: { mapping: Record<string, string> } } } } } } }
    d.components.schemas.AuditEventRequest.properties.event_data.discriminator.mapping['x.y'] = '#/components/schemas/ErrorDetails'
    return d as unknown as Record<string, unknown>
  })(), '#/components/schemas/AuditEventRequest/properties/event_data/discriminator/mapping/x.y'],
  ['OpenAPI 3.1', { ...doc, openapi: '3.1.0' }, '#/openapi']
]

for (const [what, document, pointer] of unsupported) {
  test(`a document with ${what} fails at startup with InvalidOptionError naming ${pointer}`, async () => {
    for (const start of [
      () => createEventValidator(document),
      () => createAuditStore({ sink: new MemorySink(), openapi: document, logger: silentLogger })
    ]) {
      assert.throws(start, (err: unknown) => err instanceof InvalidOptionError && err.option === 'openapi' && err.message.includes(pointer))
    }
    await assert.rejects(startDataStorageServer({ openapi: document, logger: silentLogger }), (err: unknown) => err instanceof InvalidOptionError && err.message.includes(pointer))
  })
}

test('a store with openapi refuses at record() what the document refuses, naming the payload path', async () => {
  const sink = new MemorySink()
  const store = createAuditStore({ sink, openapi: FIXTURE, logger: silentLogger })
  assert.equal(store.record(gatewayEvent() as never), true)
  const bad = gatewayEvent()
  delete (bad.event_data as Record<string, unknown>).fingerprint
  assert.throws(() => store.record(bad as never), (err: unknown) => err instanceof AuditValidationError && err.issues.some((i) => i.path === 'event_data.fingerprint'))
  await store.flush()
  assert.equal(sink.events.length, 1)
  await store.close()
})

for (const engine of engines) {
  describe(`a server with openapi on ${engine.name}`, { skip: engine.skip }, () => {
    let server: DataStorageServer
    before(async () => { server = await startDataStorageServer({ database: engine.database!, openapi: FIXTURE, logger: silentLogger }) })
    after(async () => { await server?.close() })

    const post = async (path: string, body: unknown): Promise<{ status: number, body: Record<string, unknown> }> => {
      const res = await request(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: res.statusCode, body: await res.body.json() as Record<string, unknown> }
    }

    test('answers 400 with indexed field_errors inside the chosen payload', async () => {
      const bad = gatewayEvent()
      delete (bad.event_data as Record<string, unknown>).fingerprint
      const reply = await post('/api/v1/audit/events/batch', [gatewayEvent(), gatewayEvent(), gatewayEvent(), bad])
      assert.equal(reply.status, 400)
      assert.deepEqual(reply.body.field_errors, { '[3].event_data.fingerprint': 'required' })
    })

    test('accepts and ignores unknown fields, stores nulls, and stores and returns parent_event_date', async () => {
      const cid = `rr-${Date.now()}-${Math.random()}`
      const event = gatewayEvent({
        correlation_id: cid, not_in_the_spec: 'ignored', namespace: null, duration_ms: null,
        parent_event_id: '123e4567-e89b-42d3-a456-426614174000', parent_event_date: '2026-05-01T09:59:00Z'
      })
      const reply = await post('/api/v1/audit/events', event)
      assert.equal(reply.status, 201, JSON.stringify(reply.body))
      const res = await request(`${server.url}/api/v1/audit/events?correlation_id=${encodeURIComponent(cid)}`)
      const [stored] = (await res.body.json() as { data: Array<Record<string, unknown>> }).data
      assert.equal(stored!.parent_event_date, '2026-05-01T09:59:00.000Z')
      assert.equal(stored!.parent_event_id, '123e4567-e89b-42d3-a456-426614174000')
      assert.equal(stored!.not_in_the_spec, undefined)
      assert.deepEqual(stored!.event_data, event.event_data)
    })

    test('parent_event_id without parent_event_date is refused', async () => {
      const reply = await post('/api/v1/audit/events', gatewayEvent({ parent_event_id: '123e4567-e89b-42d3-a456-426614174000' }))
      assert.equal(reply.status, 400)
      assert.ok('parent_event_date' in (reply.body.field_errors as object), JSON.stringify(reply.body))
    })
  })
}

test('a YAML file holding a string is refused as a document, never read as the path of another file', (t) => {
  const dir = tempDir(t, 'openapi-string-')
  const target = join(dir, 'target.yaml')
  writeFileSync(target, 'secret-content\n')
  const indirect = join(dir, 'indirect.yaml')
  writeFileSync(indirect, `${target}\n`)
  const loop = join(dir, 'loop.yaml')
  writeFileSync(loop, `${loop}\n`)
  for (const path of [indirect, loop]) {
    assert.throws(() => createEventValidator(path), (err: unknown) => {
      assert.ok(err instanceof InvalidOptionError)
      assert.match(err.message, /a file holding an OpenAPI 3\.0 document/)
      assert.doesNotMatch(err.message, /secret-content/)
      return true
    })
  }
})

test('a document nested deeper than the stack allows is an InvalidOptionError, not a RangeError', () => {
  let deep: Record<string, unknown> = { type: 'string' }
  for (let i = 0; i < 20_000; i++) deep = { type: 'array', items: deep }
  const nested = structuredClone(doc) as { components: { schemas: { AuditEventRequest: { properties: Record<string, unknown> } } } }
  nested.components.schemas.AuditEventRequest.properties.deep = deep
  assert.throws(() => createEventValidator(nested), InvalidOptionError)
})

test('a pattern that repeats a repeating group, like ^(a+)+$, fails at startup with InvalidOptionError instead of one event holding the event loop for seconds', () => {
  for (const pattern of ['^(a+)+$', '(\\w+\\s?)*$', '^([a-z0-9]+-?)*$', '(a{1,5}){2,}']) {
    const evil = structuredClone(doc) as { components: { schemas: { AuditEventRequest: { properties: Record<string, unknown> } } } }
    evil.components.schemas.AuditEventRequest.properties.correlation_id = { type: 'string', pattern }
    assert.throws(() => createEventValidator(evil), (err: unknown) => err instanceof InvalidOptionError && /catastrophic backtracking/.test(err.message), pattern)
  }
  const fine = structuredClone(doc) as { components: { schemas: { AuditEventRequest: { properties: Record<string, unknown> } } } }
  fine.components.schemas.AuditEventRequest.properties.correlation_id = { type: 'string', pattern: '^(req-)?[a-z0-9]+(-[a-z0-9]{4}){2}$' }
  const check = createEventValidator(fine)
  assert.deepEqual(check({ ...validate.newEvent({ event_type: 'x', event_category: 'gateway', event_action: 'a', event_outcome: 'success', correlation_id: 'req-abc-1234-5678' }) }).filter((i) => i.path === 'correlation_id'), [])
})
