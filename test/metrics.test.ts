import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'
import { InvalidOptionError, MemorySink, collectMetrics, createAuditStore } from '../lib/index.js'
import { MemoryDeadLetter, makeEvent, silentLogger } from './helpers/fixtures.js'
import { ScriptedSink } from './helpers/scripted-sink.js'

function sample (text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(line + ' '))
  assert.ok(found !== undefined, `no sample ${line} in\n${text}`)
  return Number(found.slice(line.length + 1))
}

test('exposes counters, gauges and the batch duration histogram, read at scrape time', async () => {
  const registry = new Registry()
  const sink = new ScriptedSink(['retryable', 'ok', 'rejected'])
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, logger: silentLogger, batchSize: 5, bufferSize: 100, flushIntervalMs: 60_000 })
  const stop = collectMetrics(store, { registry, labels: { service: 'billing' } })
  for (let i = 0; i < 10; i++) store.record(makeEvent(i))
  store.write({ invalid: true })
  await store.flush().catch(() => {})
  const text = await registry.metrics()
  // The invalid event written through the stream is accepted too, then dead-lettered.
  assert.equal(sample(text, 'audit_events_accepted_total{service="billing"}'), 11)
  assert.equal(sample(text, 'audit_events_written_total{service="billing"}'), 5)
  assert.equal(sample(text, 'audit_batch_retries_total{service="billing"}'), 1)
  assert.equal(sample(text, 'audit_events_dead_lettered_total{service="billing",reason="rejected"}'), 5)
  assert.equal(sample(text, 'audit_events_dead_lettered_total{service="billing",reason="invalid"}'), 1)
  assert.equal(sample(text, 'audit_events_dropped_total{service="billing",reason="invalid"}'), 1)
  assert.equal(sample(text, 'audit_events_dropped_total{service="billing",reason="full"}'), 0)
  assert.equal(sample(text, 'audit_events_pending{service="billing"}'), 0)
  assert.equal(sample(text, 'audit_batches_in_flight{service="billing"}'), 0)
  assert.equal(sample(text, 'audit_batch_duration_seconds_count{service="billing"}'), 1)
  assert.match(text, /# TYPE audit_batch_duration_seconds histogram/)
  stop()
  assert.equal((await registry.metrics()).trim(), '')
  await store.close().catch(() => {})
})

test('pending and drops by reason follow the store', async () => {
  const registry = new Registry()
  const store = createAuditStore({ sink: new MemorySink({ delayMs: 200 }), logger: silentLogger, bufferSize: 3, flushIntervalMs: 60_000 })
  collectMetrics(store, { registry, prefix: 'svc_audit_' })
  for (let i = 0; i < 5; i++) store.record(makeEvent(i))
  const text = await registry.metrics()
  assert.equal(sample(text, 'svc_audit_events_pending'), 3)
  assert.equal(sample(text, 'svc_audit_events_dropped_total{reason="full"}'), 2)
  await store.close().catch(() => {})
})

test('registering a second store under the same prefix is refused', () => {
  const registry = new Registry()
  collectMetrics(createAuditStore({ sink: new MemorySink(), logger: silentLogger }), { registry })
  assert.throws(() => collectMetrics(createAuditStore({ sink: new MemorySink(), logger: silentLogger }), { registry }), InvalidOptionError)
  assert.throws(() => collectMetrics(createAuditStore({ sink: new MemorySink(), logger: silentLogger }), { registry, prefix: 'bad prefix' }), /`prefix`/)
})

test('without prom-client installed it fails with a clear message', () => {
  const preload = fileURLToPath(new URL('./fixtures/without-prom-client.mjs', import.meta.url))
  const lib = new URL('../lib/index.ts', import.meta.url).href
  const script = `const { collectMetrics, createAuditStore, MemorySink } = await import(${JSON.stringify(lib)});
try { collectMetrics(createAuditStore({ sink: new MemorySink() })) } catch (err) { console.log(err.code + ': ' + err.message) }`
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--import', preload, '--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.match(result.stdout, /AUDIT_ERR_MISSING_PEER: collectMetrics needs prom-client: install it with `npm install prom-client`/, result.stderr)
})
