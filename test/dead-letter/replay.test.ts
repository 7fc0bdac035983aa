import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, readFile, appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DataStorageSink, FileDeadLetter, FlushError, InvalidOptionError, MemorySink, createAuditStore, replayDeadLetters, type BatchEventInfo } from '../../lib/index.js'
import { isBusy } from '../../lib/dead-letter/replay.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { startFaultServer, created, problem } from '../helpers/fault-server.js'
import { makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { tempDir } from '../helpers/temp-dir.js'

/** Fills `dir` with batches of events 0..count-1, dead-lettered as `exhausted`. */
async function deadLetterEvents (dir: string, count: number): Promise<void> {
  const store = createAuditStore({ sink: new ScriptedSink([], { fallback: 'retryable' }), deadLetter: new FileDeadLetter({ dir }), logger: silentLogger, batchSize: 10, flushIntervalMs: 60_000 })
  for (let i = 0; i < count; i++) store.record(makeEvent(i))
  await assert.rejects(store.flush(), FlushError)
  await store.close()
}

test('dead letter, then replay, then stored; a second replay sends nothing', async (t) => {
  const dir = tempDir(t)
  await deadLetterEvents(dir, 25)
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const progress: number[] = []
  const result = await replayDeadLetters({ dir, sink: new DataStorageSink({ url: server.url }), logger: silentLogger, onProgress: (p) => progress.push(p.events) })
  assert.equal(result.files, 1)
  assert.equal(result.entries, 3)
  assert.equal(result.events, 25)
  assert.equal(result.written, 25)
  assert.equal(result.deadLettered, 0)
  assert.deepEqual(progress, [10, 20, 25])
  assert.deepEqual(seqs(server.requests.flatMap((r) => r.body as unknown[])).sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i))
  assert.ok((await readdir(dir)).every((name) => name.endsWith('.jsonl.replayed')))

  const again = await replayDeadLetters({ dir, sink: new DataStorageSink({ url: server.url }), logger: silentLogger })
  assert.equal(again.files, 0)
  assert.equal(again.events, 0)
  assert.equal(server.requests.flatMap((r) => r.body as unknown[]).length, 25)
})

test('a partly failing replay dead-letters what failed again and loses nothing', async (t) => {
  const dir = tempDir(t)
  await deadLetterEvents(dir, 20)
  const server = await startFaultServer((req, res, n) => {
    const events = req.body as Array<{ event_data: { seq: number } }>
    const poison = events.findIndex((e) => e.event_data.seq === 13)
    if (poison >= 0) return problem(res, 422, 'Unprocessable', { field_errors: { [`[${poison}].event_data`]: 'bad' } })
    created(req, res, n)
  })
  t.after(() => server.close())
  const result = await replayDeadLetters({ dir, sink: new DataStorageSink({ url: server.url }), logger: silentLogger })
  assert.equal(result.written, 19)
  assert.equal(result.deadLettered, 1)
  assert.equal(result.lost, 0)
  const files = await readdir(dir)
  const fresh = files.filter((f) => f.endsWith('.jsonl'))
  assert.equal(fresh.length, 1, `a new dead-letter file: ${files.join(', ')}`)
  const entries = (await readFile(join(dir, fresh[0]!), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { reason: string, events: string[] })
  assert.deepEqual(entries.map((e) => e.reason), ['rejected'])
  assert.deepEqual(seqs(entries.flatMap((e) => e.events.map((j) => JSON.parse(j) as unknown))), [13])
})

test('entries left out by the filter stay pending in a new file, and invalid ones are left out by default', async (t) => {
  const dir = tempDir(t)
  const dl = new FileDeadLetter({ dir })
  await dl.write({ reason: 'invalid', events: ['{"not":"an event"}'], attempts: 0, at: new Date().toISOString() })
  await dl.write({ reason: 'exhausted', batchId: 'b1', events: [JSON.stringify(makeEvent(1))], attempts: 3, at: new Date().toISOString() })
  const sink = new MemorySink()
  const result = await replayDeadLetters({ dir, sink, logger: silentLogger })
  assert.equal(result.skipped, 1)
  assert.equal(result.written, 1)
  assert.deepEqual(seqs(sink.events), [1])
  const pending = (await readdir(dir)).filter((f) => f.endsWith('.jsonl'))
  assert.equal(pending.length, 1)
  assert.match(await readFile(join(dir, pending[0]!), 'utf8'), /"reason":"invalid"/)
})

test('a torn last line is counted as corrupt and the rest is replayed', async (t) => {
  const dir = tempDir(t)
  const dl = new FileDeadLetter({ dir })
  await dl.write({ reason: 'exhausted', batchId: 'b1', events: [JSON.stringify(makeEvent(5))], attempts: 3, at: new Date().toISOString() })
  await appendFile(dl.currentFile(), '{"reason":"exhau')
  const sink = new MemorySink()
  const result = await replayDeadLetters({ dir, sink, logger: silentLogger })
  assert.equal(result.corrupt, 1)
  assert.deepEqual(seqs(sink.events), [5])
})

test('replay through a caller\'s store flushes it and leaves it open', async (t) => {
  const dir = tempDir(t)
  await deadLetterEvents(dir, 3)
  const sink = new MemorySink()
  const store = createAuditStore({ sink, logger: silentLogger })
  const result = await replayDeadLetters({ dir, store })
  assert.equal(result.written, 3)
  assert.equal(store.record(makeEvent(99)), true)
  await store.close()
})

test('replay needs exactly one of sink and store', async () => {
  await assert.rejects(replayDeadLetters({ dir: '/tmp' }), InvalidOptionError)
  await assert.rejects(replayDeadLetters({ dir: '/tmp', sink: new MemorySink(), store: createAuditStore({ sink: new MemorySink(), logger: silentLogger }) }), InvalidOptionError)
})

test('replay resends an entry under its original batch id: a batch the server committed before it was dead-lettered is stored once', async (t) => {
  const dir = tempDir(t)
  const server = await startDataStorageServer({ logger: silentLogger })
  t.after(() => server.close())
  // The first send: stored by the server, but (as at a shutdown abort) dead-lettered by the client anyway.
  const first = createAuditStore({ sink: new DataStorageSink({ url: server.url }), logger: silentLogger })
  const batches: BatchEventInfo[] = []
  first.on('batch', (info: BatchEventInfo) => batches.push(info))
  const events = Array.from({ length: 5 }, (_, i) => makeEvent(i, 'replay-once'))
  for (const event of events) first.record(event)
  await first.flush()
  await first.close()
  assert.equal(batches.length, 1)
  await new FileDeadLetter({ dir }).write({ reason: 'shutdown', batchId: batches[0]!.id, events: events.map((e) => JSON.stringify(e)), attempts: 1, at: new Date().toISOString() })

  const result = await replayDeadLetters({ dir, sink: new DataStorageSink({ url: server.url }), logger: silentLogger })
  assert.equal(result.written, 5)
  assert.equal(result.lost, 0)
  const reply = await fetch(`${server.url}/api/v1/audit/events?correlation_id=replay-once&limit=100`)
  assert.equal(((await reply.json()) as { pagination: { total: number } }).pagination.total, 5, 'stored once, not twice')
})

test('replay sends entries under their original ids, one batch per entry, and split halves under derived ids', async (t) => {
  const dir = tempDir(t)
  const dl = new FileDeadLetter({ dir })
  const entry = (id: string, from: number, count: number) => dl.write({ reason: 'exhausted', batchId: id, events: Array.from({ length: count }, (_, i) => JSON.stringify(makeEvent(from + i))), attempts: 3, at: new Date().toISOString() })
  await entry('batch-a', 0, 3)
  await entry('batch-b.1', 3, 2)
  await entry('batch-c', 5, 4)
  const server = await startFaultServer((req, res, n) => {
    // The first request of batch-c is refused for its event 7, which splits it.
    const body = req.body as Array<{ event_data: { seq: number } }>
    if (body.some((e) => e.event_data.seq === 7) && body.length > 1) return problem(res, 400, 'Bad Request')
    created(req, res, n)
  })
  t.after(() => server.close())
  const result = await replayDeadLetters({ dir, sink: new DataStorageSink({ url: server.url }), logger: silentLogger })
  assert.equal(result.written, 9)
  const keys = server.requests.map((r) => `${String(r.headers['idempotency-key'])}:${seqs(r.body as unknown[]).join(',')}`)
  assert.deepEqual(keys.slice(0, 2), ['batch-a:0,1,2', 'batch-b.1:3,4'])
  assert.ok(keys.includes('batch-c:5,6,7,8'), keys.join(' '))
  assert.ok(keys.includes('batch-c.0:5,6'), keys.join(' '))
  assert.ok(keys.includes('batch-c.1.1:8'), keys.join(' '))
})

test('entries dead-lettered as rejected are kept and reported, not resent, unless includeRejected', async (t) => {
  const dir = tempDir(t)
  const dl = new FileDeadLetter({ dir })
  await dl.write({ reason: 'rejected', batchId: 'r1', events: [JSON.stringify(makeEvent(1))], attempts: 1, at: new Date().toISOString() })
  await dl.write({ reason: 'exhausted', batchId: 'e1', events: [JSON.stringify(makeEvent(2))], attempts: 3, at: new Date().toISOString() })
  const sink = new MemorySink()
  const result = await replayDeadLetters({ dir, sink, logger: silentLogger })
  assert.equal(result.written, 1)
  assert.equal(result.deadLettered, 0)
  assert.equal(result.skipped, 1)
  assert.deepEqual(result.skippedByReason, { invalid: 0, rejected: 1, exhausted: 0, shutdown: 0 })
  assert.deepEqual(seqs(sink.events), [2])
  const pending = (await readdir(dir)).filter((f) => f.endsWith('.jsonl'))
  assert.match(await readFile(join(dir, pending[0]!), 'utf8'), /"reason":"rejected"/)

  const again = new MemorySink()
  const forced = await replayDeadLetters({ dir, sink: again, logger: silentLogger, includeRejected: true })
  assert.equal(forced.written, 1)
  assert.equal(forced.skipped, 0)
  assert.deepEqual(seqs(again.events), [1])
})

test('a dead-letter file another live process may still append to is left alone until that process has ended', async (t) => {
  const dir = tempDir(t)
  const writer = fileURLToPath(new URL('../fixtures/dead-letter-writer.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  t.after(() => { child.kill() })
  const [ready] = await once(child.stdout!, 'data') as [Buffer]
  const name = ready.toString().trim()
  assert.match(name, new RegExp(`-${child.pid}\\.jsonl$`))

  const sink = new MemorySink()
  const skipped = await replayDeadLetters({ dir, sink, logger: silentLogger })
  assert.equal(skipped.busy, 1)
  assert.equal(skipped.files, 0)
  assert.deepEqual(await readdir(dir), [name], 'not renamed while its writer lives')

  child.stdin!.end()
  await exited
  const replayed = await replayDeadLetters({ dir, sink, logger: silentLogger })
  assert.equal(replayed.busy, 0)
  assert.equal(replayed.files, 1)
  assert.deepEqual(seqs(sink.events), [7])
  assert.deepEqual(await readdir(dir), [`${name}.replayed`])
})

test('a file is busy only when its pid is alive, not ours, and the day is today', () => {
  const now = Date.parse('2030-05-06T12:00:00Z')
  assert.equal(isBusy(`audit-dead-letter-2030-05-06-${process.ppid}.jsonl`, now), true)
  assert.equal(isBusy(`audit-dead-letter-2030-05-05-${process.ppid}.jsonl`, now), false, 'yesterday\'s file is no longer appended to')
  assert.equal(isBusy(`audit-dead-letter-2030-05-05-${process.ppid}.jsonl`, Date.parse('2030-05-06T00:00:30Z')), true, 'except in the first minute of a day')
  assert.equal(isBusy(`audit-dead-letter-2030-05-06-${process.pid}.jsonl`, now), false, 'our own')
  assert.equal(isBusy('audit-dead-letter-2030-05-06-999999999.jsonl', now), false, 'no such process')
  assert.equal(isBusy(`audit-dead-letter-2030-05-06-${process.ppid}.jsonl.replaying`, now), false)
})
