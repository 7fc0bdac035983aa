import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataStorageSink, FileDeadLetter, FlushError, InvalidOptionError, MemorySink, createAuditStore, replayDeadLetters } from '../lib/index.js'
import { startFaultServer, created, problem } from './helpers/fault-server.js'
import { ScriptedSink, makeEvent, seqs, silentLogger } from './helpers/fixtures.js'

async function tempDir (t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-replay-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Fills `dir` with dead-lettered batches of events 0..count-1. */
async function deadLetterEvents (dir: string, count: number): Promise<void> {
  const store = createAuditStore({ sink: new ScriptedSink([], { fallback: 'rejected' }), deadLetter: new FileDeadLetter({ dir }), logger: silentLogger, batchSize: 10, flushIntervalMs: 60_000 })
  for (let i = 0; i < count; i++) store.record(makeEvent(i))
  await assert.rejects(store.flush(), FlushError)
  await store.close()
}

test('dead letter, then replay, then stored; a second replay sends nothing', async (t) => {
  const dir = await tempDir(t)
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
  const dir = await tempDir(t)
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
  const dir = await tempDir(t)
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
  const dir = await tempDir(t)
  const dl = new FileDeadLetter({ dir })
  await dl.write({ reason: 'exhausted', batchId: 'b1', events: [JSON.stringify(makeEvent(5))], attempts: 3, at: new Date().toISOString() })
  await appendFile(dl.currentFile(), '{"reason":"exhau')
  const sink = new MemorySink()
  const result = await replayDeadLetters({ dir, sink, logger: silentLogger })
  assert.equal(result.corrupt, 1)
  assert.deepEqual(seqs(sink.events), [5])
})

test('replay through a caller\'s store flushes it and leaves it open', async (t) => {
  const dir = await tempDir(t)
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
