/**
 * The bench's discard server, as a child process: it answers each POST and
 * reports over IPC the events it received, which the bench checks against
 * what every contender sent.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Pool } from 'undici'
import { DataStorageSink, createAuditStore } from '../../lib/index.js'
import { delivered, silent, startDiscardServer } from './common.js'
import { makeEvents } from './events.js'

test('counts the events of every body it answered, over keep-alive connections', async (t) => {
  const server = await startDiscardServer()
  const pool = new Pool(server.url, { connections: 2 })
  t.after(async () => {
    await pool.close()
    server.stop()
  })
  const events = makeEvents(30, 500)
  const statuses: number[] = []
  for (const body of [JSON.stringify(events.slice(0, 10)), JSON.stringify(events.slice(10)), '[{"a":"}"}]']) {
    const res = await pool.request({ path: '/api/v1/audit/events/batch', method: 'POST', headers: { 'content-type': 'application/json' }, body })
    await res.body.dump()
    statuses.push(res.statusCode)
  }
  const bad = await pool.request({ path: '/x', method: 'POST', body: '{"not":"an array"}' })
  await bad.body.dump()
  assert.deepEqual([...statuses, bad.statusCode], [201, 201, 201, 400])
  assert.deepEqual(await server.received(), { events: 31, requests: 4, malformed: 1 })
})

test('delivered() passes a store that sent every event and fails a run that sent fewer', async (t) => {
  const server = await startDiscardServer()
  t.after(() => server.stop())
  const events = makeEvents(2_500, 500)
  const send = (count: number) => async (): Promise<number> => {
    const store = createAuditStore({ sink: new DataStorageSink({ url: server.url }), batchSize: 1000, logger: silent })
    for (const event of events.slice(0, count)) store.record(event)
    await store.close()
    return count
  }
  assert.equal(await delivered(server, 2_500, 'all', send(2_500))(), 2_500)
  await assert.rejects(delivered(server, 2_500, 'short', send(2_499))(), /short: the discard server received 2499 events of 2500/)
})
