import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Batch } from '../../lib/index.js'
import { BatchTransform } from '../../lib/batching/batch-transform.js'
import { encodeAuditEvent } from '../../lib/event/event.js'
import { EventRun } from '../../lib/batching/event-run.js'
import { FlushMarker } from '../../lib/accounting/flush-marker.js'
import { Ledger } from '../../lib/accounting/ledger.js'
import { makeEvent, silentLogger } from '../helpers/fixtures.js'

function collect (transform: BatchTransform): Array<Batch | FlushMarker> {
  const out: Array<Batch | FlushMarker> = []
  transform.on('data', (chunk: Batch | FlushMarker) => out.push(chunk))
  return out
}

/** The seq of each event, batch by batch. */
function seqsOf (out: Array<Batch | FlushMarker>): number[][] {
  return (out as Batch[]).map((b) => b.events.map((e) => (JSON.parse(e) as { event_data: { seq: number } }).event_data.seq))
}

function encode (...seqs: number[]): EventRun {
  const run = new EventRun()
  for (const seq of seqs) encodeAuditEvent(makeEvent(seq), 1 << 20, run)
  return run
}

test('a run of events is batched like single events, across batch boundaries', () => {
  const t = new BatchTransform({ batchSize: 4, maxBatchBytes: 1 << 20, flushIntervalMs: 60_000 })
  const out = collect(t)
  t.write(encode(0, 1, 2))
  t.write(encode(3, 4, 5, 6, 7, 8))
  assert.deepEqual(seqsOf(out), [[0, 1, 2, 3], [4, 5, 6, 7]])
  t.destroy()
})

test('emits a batch when the count reaches batchSize', () => {
  const t = new BatchTransform({ batchSize: 3, maxBatchBytes: 1 << 20, flushIntervalMs: 60_000 })
  const out = collect(t)
  for (let i = 0; i < 7; i++) t.write(encode(i))
  const batches = out as Batch[]
  assert.deepEqual(batches.map((b) => b.events.length), [3, 3])
  t.destroy()
})

test('batch bytes equal the JSON array body size', () => {
  const t = new BatchTransform({ batchSize: 3, maxBatchBytes: 1 << 20, flushIntervalMs: 60_000 })
  const out = collect(t)
  for (let i = 0; i < 3; i++) t.write(encode(i))
  const batch = out[0] as Batch
  assert.equal(batch.bytes, Buffer.byteLength('[' + batch.events.join(',') + ']'))
  assert.match(batch.id, /^[0-9a-f-]{36}$/)
  t.destroy()
})

test('emits before the next event would pass maxBatchBytes', () => {
  const one = encode(1)
  const max = 2 + one.sizes[0]! * 2 + 1 // exactly two events fit
  const t = new BatchTransform({ batchSize: 100, maxBatchBytes: max, flushIntervalMs: 60_000 })
  const out = collect(t)
  for (let i = 0; i < 5; i++) t.write(encode(1))
  const batches = out as Batch[]
  assert.deepEqual(batches.map((b) => b.events.length), [2, 2])
  for (const b of batches) assert.ok(b.bytes <= max)
  t.destroy()
})

test('a flush marker emits the partial batch, then the marker', () => {
  const t = new BatchTransform({ batchSize: 100, maxBatchBytes: 1 << 20, flushIntervalMs: 60_000 })
  const out = collect(t)
  t.write(encode(1))
  t.write(encode(2))
  const marker = new FlushMarker(new Ledger(silentLogger), 0)
  t.write(marker)
  assert.equal(out.length, 2)
  assert.equal((out[0] as Batch).events.length, 2)
  assert.equal(out[1], marker)
  t.destroy()
})

test('a marker with nothing pending passes through alone', () => {
  const t = new BatchTransform({ batchSize: 100, maxBatchBytes: 1 << 20, flushIntervalMs: 60_000 })
  const out = collect(t)
  const marker = new FlushMarker(new Ledger(silentLogger), 0)
  t.write(marker)
  assert.deepEqual(out, [marker])
  t.destroy()
})

test('end emits the partial batch', async () => {
  const t = new BatchTransform({ batchSize: 100, maxBatchBytes: 1 << 20, flushIntervalMs: 60_000 })
  const out = collect(t)
  t.write(encode(1))
  t.end()
  await new Promise((resolve) => t.on('end', resolve))
  assert.equal((out[0] as Batch).events.length, 1)
})

test('the timer flushes a partial batch flushIntervalMs after its first event, and a trickle does not restart it', (ctx) => {
  ctx.mock.timers.enable({ apis: ['setTimeout'] })
  const t = new BatchTransform({ batchSize: 100, maxBatchBytes: 1 << 20, flushIntervalMs: 1000 })
  const out = collect(t)
  t.write(encode(1))
  for (let i = 0; i < 3; i++) {
    ctx.mock.timers.tick(300)
    t.write(encode(2 + i)) // a steady trickle, one event every 300 ms
  }
  assert.equal(out.length, 0)
  ctx.mock.timers.tick(100) // 1000 ms after the first event
  assert.equal(out.length, 1)
  assert.equal((out[0] as Batch).events.length, 4)
  ctx.mock.timers.tick(5000) // no events: no timer, no empty batch
  assert.equal(out.length, 1)
  t.destroy()
})

test('a batch emitted by size cancels its timer: the next event waits flushIntervalMs from its own arrival', (ctx) => {
  ctx.mock.timers.enable({ apis: ['setTimeout'] })
  const t = new BatchTransform({ batchSize: 2, maxBatchBytes: 1 << 20, flushIntervalMs: 1000 })
  const out = collect(t)
  t.write(encode(1))
  t.write(encode(2))
  assert.deepEqual(seqsOf(out), [[1, 2]], 'the batch is emitted by size at t=0')
  ctx.mock.timers.tick(500)
  t.write(encode(3)) // its batch's timer runs from t=500
  ctx.mock.timers.tick(500)
  assert.deepEqual(seqsOf(out), [[1, 2]], 'at t=1000 the first batch\'s timer, cancelled at t=0, must not flush event 3 early')
  ctx.mock.timers.tick(499)
  assert.deepEqual(seqsOf(out), [[1, 2]], 'event 3 waits until t=1500')
  ctx.mock.timers.tick(1)
  assert.deepEqual(seqsOf(out), [[1, 2], [3]], 'event 3 is flushed at t=1500, flushIntervalMs after it arrived')
  t.destroy()
})

test('batchBuffer is the UTF-8 encoding of batchBody, for ASCII and non-ASCII events alike', async () => {
  const { batchBody, batchBuffer } = await import('../../lib/index.js')
  const t = new BatchTransform({ batchSize: 3, maxBatchBytes: 1 << 20, flushIntervalMs: 60_000 })
  const out = collect(t)
  const run = new EventRun()
  encodeAuditEvent(makeEvent(1), 1 << 20, run)
  encodeAuditEvent({ ...makeEvent(2), event_data: { text: 'Grüße, 東京, 🎉' } }, 1 << 20, run)
  encodeAuditEvent(makeEvent(3), 1 << 20, run)
  t.write(run)
  const batch = out[0] as Batch
  assert.equal(batchBuffer(batch).length, batch.bytes)
  assert.equal(batchBuffer(batch).toString('utf8'), batchBody(batch))
  assert.deepEqual(batch.sizes, batch.events.map((e) => Buffer.byteLength(e)))
  t.destroy()
})
