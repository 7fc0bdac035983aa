import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { DeadLetterError, FileDeadLetter, FlushError, InvalidOptionError, createAuditStore, replayDeadLetters, type DeadLetterEntry } from '../../lib/index.js'
import { makeEvent, silentLogger } from '../helpers/fixtures.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { tempDir } from '../helpers/temp-dir.js'

const entry = (n: number): DeadLetterEntry => ({ reason: 'exhausted', batchId: `b${n}`, events: [JSON.stringify(makeEvent(n))], attempts: 3, at: new Date().toISOString() })

test('appends one JSON line per entry to one file per process and day', async (t) => {
  const dir = tempDir(t)
  const dl = new FileDeadLetter({ dir: join(dir, 'nested') })
  await Promise.all([dl.write(entry(1)), dl.write(entry(2)), dl.write(entry(3))])
  const files = await readdir(join(dir, 'nested'))
  const day = new Date().toISOString().slice(0, 10)
  assert.deepEqual(files, [`audit-dead-letter-${day}-${process.pid}.jsonl`])
  const lines = (await readFile(dl.currentFile(), 'utf8')).trim().split('\n')
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as DeadLetterEntry).batchId), ['b1', 'b2', 'b3'])
})

test('a write that cannot reach the disk rejects with DeadLetterError, and later writes still work', async (t) => {
  const dir = tempDir(t)
  const blocked = join(dir, 'blocked')
  await writeFile(blocked, 'not a directory')
  const dl = new FileDeadLetter({ dir: blocked })
  await assert.rejects(dl.write(entry(1)), (err: unknown) => err instanceof DeadLetterError && err.code === 'AUDIT_ERR_DEAD_LETTER' && err.cause !== undefined)
  await rm(blocked)
  await dl.write(entry(2))
  assert.equal((await readFile(dl.currentFile(), 'utf8')).trim().split('\n').length, 1)
})

test('a store whose file dead letter fails counts the events lost and keeps running', async (t) => {
  const dir = tempDir(t)
  const blocked = join(dir, 'blocked')
  await writeFile(blocked, 'x')
  const store = createAuditStore({ sink: new ScriptedSink(['rejected']), deadLetter: new FileDeadLetter({ dir: blocked }), logger: silentLogger, flushIntervalMs: 60_000 })
  store.record(makeEvent(1))
  await assert.rejects(store.flush(), (err: unknown) => err instanceof FlushError && err.result.lost === 1)
  store.record(makeEvent(2))
  assert.equal((await store.flush()).written, 1)
  await assert.rejects(store.close(), { code: 'AUDIT_ERR_LOSS' })
})

test('a store dead-letters to files that replay can read back', async (t) => {
  const dir = tempDir(t)
  const dl = new FileDeadLetter({ dir })
  const store = createAuditStore({ sink: new ScriptedSink(['rejected']), deadLetter: dl, logger: silentLogger, flushIntervalMs: 60_000 })
  store.record(makeEvent(7))
  await assert.rejects(store.flush(), FlushError)
  await store.close()
  const file = dl.currentFile()
  const [line] = (await readFile(file, 'utf8')).trim().split('\n')
  const stored = JSON.parse(line!) as DeadLetterEntry
  assert.equal(stored.reason, 'rejected')
  assert.equal((JSON.parse(stored.events[0]!) as { event_data: { seq: number } }).event_data.seq, 7)
  assert.equal(stored.error?.statusCode, 400)
  // Replay reads the file back and resends its event, under the batch id of the first send.
  const sink = new ScriptedSink()
  const result = await replayDeadLetters({ dir, sink, includeRejected: true, logger: silentLogger })
  assert.deepEqual({ files: result.files, entries: result.entries, events: result.events, written: result.written, corrupt: result.corrupt }, { files: 1, entries: 1, events: 1, written: 1, corrupt: 0 })
  assert.deepEqual(sink.storedBatches.map((b) => ({ id: b.id, events: b.events })), [{ id: stored.batchId, events: stored.events }], 'the sink holds the dead-lettered event, as it was first sent')
  assert.deepEqual(await readdir(dir), [basename(file) + '.replayed'])
})

test('rejects a missing dir', () => {
  assert.throws(() => new FileDeadLetter({ dir: '' }), InvalidOptionError)
  assert.throws(() => new FileDeadLetter({} as never), /Expected `dir` to be a non-empty string/)
})
