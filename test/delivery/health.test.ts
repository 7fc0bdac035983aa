/**
 * store.health() and readinessHandler: readiness for the host.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { DataStorageSink, MemorySink, createAuditStore, installShutdownHandler, readinessHandler, type StoreHealth } from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { makeEvent, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { waitFor } from '../helpers/wait-for.js'

test('a store is not ready until its endpoint answered a probe, then ready with the endpoint listed', async (t) => {
  const server = await startDataStorageServer({ logger: silentLogger })
  t.after(() => server.close())
  const store = createAuditStore({ sink: new DataStorageSink({ url: server.url }), logger: silentLogger })
  t.after(() => store.close().then(() => {}))
  const first = store.health()
  assert.equal(first.ready, false)
  assert.deepEqual(first.reasons, ['no DataStorage endpoint has answered yet'])
  // The first probe goes out at once, but the server answers it only once its database is open: seconds, more under load.
  await waitFor(() => store.health().ready, { what: 'the store to be ready once its endpoint answered a probe', timeoutMs: 60_000, detail: () => `reasons: [${store.health().reasons.join('; ')}]` })
  const health = store.health()
  assert.deepEqual(health.reasons, [])
  assert.equal(health.endpoints?.[0]?.url, server.url)
  assert.equal(health.endpoints?.[0]?.up, true)
})

test('a store whose sink cannot probe is ready after its first delivery', async () => {
  const store = createAuditStore({ sink: new MemorySink(), logger: silentLogger })
  assert.equal(store.health().ready, false)
  store.record(makeEvent(0))
  await store.flush()
  assert.deepEqual(store.health(), { ready: true, reasons: [] })
  await store.close()
})

test('readiness fails while the buffer is above its high-water mark', async () => {
  const sink = new ScriptedSink(['ok'], { fallback: 'hang' })
  const store = createAuditStore({ sink, batchSize: 1, bufferSize: 10, logger: silentLogger })
  store.record(makeEvent(0))
  await store.flush()
  assert.equal(store.health().ready, true)
  for (let i = 1; i <= 8; i++) store.record(makeEvent(i))
  await sleep(10)
  const health = store.health()
  assert.equal(health.ready, false)
  assert.match(health.reasons.join(), /high-water mark \(8 of 10 events pending\)/)
  store.destroy()
})

test('readinessHandler answers 200 or 503 with the reasons as JSON, on node:http and on a Fastify-style reply', async (t) => {
  let health: StoreHealth = { ready: false, reasons: ['no DataStorage endpoint has answered yet'] }
  const handler = readinessHandler({ health: () => health })
  const server = createServer((req, res) => handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`
  const down = await request(url)
  assert.equal(down.statusCode, 503)
  assert.equal(down.headers['cache-control'], 'no-store')
  assert.deepEqual(await down.body.json(), health)
  health = { ready: true, reasons: [] }
  const up = await request(url)
  assert.equal(up.statusCode, 200)
  assert.deepEqual(await up.body.json(), { ready: true, reasons: [] })
  const sent: unknown[] = []
  const reply = { code (s: number) { sent.push(s); return reply }, header (n: string, v: string) { sent.push(`${n}: ${v}`); return reply }, send (b: string) { sent.push(JSON.parse(b)) } }
  handler({}, reply)
  assert.deepEqual(sent, [200, 'content-type: application/json', 'cache-control: no-store', { ready: true, reasons: [] }])
})

test('installShutdownHandler fails readiness before the flush completes', async (t) => {
  const store = createAuditStore({ sink: new MemorySink(), logger: silentLogger })
  store.record(makeEvent(0))
  await store.flush()
  assert.equal(store.health().ready, true)
  const remove = installShutdownHandler(store, { signals: ['SIGUSR2'], exit: false, logger: silentLogger })
  t.after(remove)
  const closed = new Promise<void>((resolve) => store.once('close', () => resolve()))
  store.record(makeEvent(1))
  process.emit('SIGUSR2', 'SIGUSR2')
  const during = store.health()
  assert.equal(during.ready, false)
  assert.deepEqual(during.reasons, ['the store is closing'])
  assert.equal(store.stats().written, 1, 'the flush has not completed yet')
  await closed
  assert.equal(store.stats().written, 2)
  process.exitCode = 0
})
