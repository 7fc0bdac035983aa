import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DataStorageSink, GENESIS, chainEvents, createAuditStore, laneOf, parseNote, parseNotes, verifyChain,
  type BatchSink, type ChainRow
} from '../../lib/index.js'
import { captureLogger, makeEvent, silentLogger } from '../helpers/fixtures.js'
import { startFaultServer } from '../helpers/fault-server.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'

// Keeps what a lane-aware server would: each stored batch (see rowsOf) and the notes, checking the key that comes with them.
function trailSink (): ScriptedSink {
  return new ScriptedSink([], {
    delayMs: 0,
    notes: (_notes, ctx) => {
      assert.ok(ctx.publicKeyPem === undefined || ctx.publicKeyPem.includes('BEGIN PUBLIC KEY'))
      return 'ok'
    }
  })
}

// Each stored event's lane, seq, bytes and hash, by lane, in the order stored.
function rowsOf (sink: ScriptedSink): Map<number, ChainRow[]> {
  const byLane = new Map<number, ChainRow[]>()
  for (const batch of sink.storedBatches) {
    const trail = batch.trail!
    const rows = byLane.get(trail.lane) ?? []
    byLane.set(trail.lane, rows)
    batch.events.forEach((raw, i) => rows.push({ seq: trail.seq + i, raw, hash: trail.hashes.subarray(i * 32, i * 32 + 32).toString('hex'), event: JSON.parse(raw) as Record<string, unknown> }))
  }
  return byLane
}

const { privateKey, publicKey } = generateKeyPairSync('ed25519')

test('the lane and trail options are checked, and a bad key fails the constructor before the spool is locked', async (t) => {
  const sink = (): BatchSink => trailSink()
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ lanes: -1 }, 'lanes'], [{ lanes: 257 }, 'lanes'], [{ lanes: 1.5 }, 'lanes'],
    [{ maxInFlightPerLane: 0 }, 'maxInFlightPerLane'], [{ maxInFlightPerLane: 17 }, 'maxInFlightPerLane'],
    [{ producerId: 'not-a-uuid' }, 'producerId'], [{ producerId: '0B7D4A52-3F0E-4C55-9A51-6F1F2D3C4B5A' }, 'producerId'],
    // A fixed producer without a spool would begin its lanes at seq 1 again after a restart.
    [{ producerId: '0b7d4a52-3f0e-4c55-9a51-6f1f2d3c4b5a' }, 'producerId'],
    [{ lanes: 0, trail: { signingKey: privateKey } }, 'trail'],
    [{ trail: 'key' }, 'trail'], [{ trail: {} }, 'trail.signingKey'], [{ trail: { signingKey: publicKey } }, 'trail.signingKey'],
    [{ trail: { signingKey: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----' } }, 'trail.signingKey'],
    [{ trail: { signingKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey } }, 'trail.signingKey'],
    [{ trail: { signingKey: privateKey, keyName: 'two words' } }, 'trail.keyName'],
    [{ trail: { signingKey: privateKey, everyEvents: 0 } }, 'trail.everyEvents'],
    [{ trail: { signingKey: privateKey, intervalMs: 0 } }, 'trail.intervalMs'],
    [{ trail: { signingKey: privateKey, file: '' } }, 'trail.file']
  ]
  for (const [options, option] of bad) {
    assert.throws(() => createAuditStore({ sink: sink(), logger: silentLogger, ...options }), { code: 'AUDIT_ERR_INVALID_OPTION', option }, JSON.stringify(options))
  }
  const dir = tempDir(t, 'audit-trail-options-')
  assert.throws(() => createAuditStore({ sink: sink(), logger: silentLogger, spool: { dir }, trail: { signingKey: publicKey } }), { option: 'trail.signingKey' })
  const store = createAuditStore({ sink: sink(), logger: silentLogger, spool: { dir } })
  assert.match(store.producerId!, /^[0-9a-f-]{36}$/)
  await store.close()
  assert.equal(createAuditStore({ sink: sink(), logger: silentLogger, lanes: 0 }).producerId, undefined)
})

test('checkpoints are signed every everyEvents settled events of a lane and at close, and verify against the chain the store sent', async (t) => {
  const dir = tempDir(t, 'audit-trail-')
  const sink = trailSink()
  const file = join(dir, 'audit.notes')
  const store = createAuditStore({ sink, logger: silentLogger, batchSize: 7, flushIntervalMs: 60_000, trail: { signingKey: privateKey, everyEvents: 20, file } })
  const cids = ['rr-1', 'rr-2', 'rr-3', 'rr-4', 'rr-5', 'rr-6']
  for (let i = 0; i < 300; i++) store.record(makeEvent(i, cids[i % cids.length]))
  assert.equal((await store.flush()).written, 300)
  await store.close()
  const notes = sink.notes.map(parseNote)
  assert.deepEqual(parseNotes(await readFile(file, 'utf8')).map((n) => n.text), sink.notes, 'the file holds every note posted, in order')
  for (const [lane, rows] of rowsOf(sink)) {
    const result = verifyChain({ producerId: store.producerId!, lane, rows, notes, publicKeys: [publicKey] })
    assert.equal(result.first_bad_seq, undefined, `lane ${lane}: ${String(result.reason)} ${String(result.detail)}`)
    assert.equal(result.verified_through, rows.length, `lane ${lane}: the checkpoint at close anchors the last seq`)
    const expected = cids.filter((c) => laneOf(c, 4) === lane).length * 50
    assert.equal(rows.length, expected)
    // Batches of 7 settle; a checkpoint comes once 20 more are settled, and one at close.
    assert.ok(result.checkpoints >= Math.floor(expected / 28) + 1, `lane ${lane}: ${result.checkpoints} checkpoints`)
  }
})

test('intervalMs checkpoints a lane whose head moved, once, without another event', async () => {
  const sink = trailSink()
  const store = createAuditStore({ sink, logger: silentLogger, flushIntervalMs: 60_000, trail: { signingKey: privateKey, everyEvents: 1_000_000, intervalMs: 40 } })
  for (let i = 0; i < 5; i++) store.record(makeEvent(i, 'rr-1'))
  await store.flush()
  await waitFor(() => sink.notes.length > 0, { what: 'a checkpoint posted by the 40 ms interval' })
  // Five more intervals go by: none posts again, since the lane did not move.
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.deepEqual(sink.notes.map((text) => { const n = parseNote(text).note; return n.kind === 'checkpoint' ? [n.lane, n.seq] : n.kind }), [[laneOf('rr-1', 4), 5]])
  await store.close()
  assert.equal(sink.notes.length, 1, 'close adds none: the lane did not move')
})

test('a notes file that cannot be written is logged once, and delivery and posting go on', async () => {
  const { logger, lines } = captureLogger('error')
  const sink = trailSink()
  const store = createAuditStore({ sink, logger, batchSize: 2, flushIntervalMs: 60_000, trail: { signingKey: privateKey, everyEvents: 2, file: join(tmpdir(), 'no-such-dir-audit', 'x', 'audit.notes') } })
  for (let i = 0; i < 10; i++) store.record(makeEvent(i, 'rr-1'))
  assert.deepEqual(await store.flush(), { written: 10, deadLettered: 0, dropped: 0, lost: 0 })
  await store.close()
  assert.equal(lines.filter((l) => l.includes('trail notes file not writable')).length, 1)
  assert.ok(sink.notes.length >= 5)
})

test('the DataStorage sink sends the five lane headers, which user headers cannot replace; a server without the notes endpoint gets one note request', async (t) => {
  const server = await startFaultServer()
  t.after(() => server.close())
  const sink = new DataStorageSink({ url: server.url, headers: { 'Audit-Stream-Seq': '99', 'audit-stream-producer': 'x' } })
  const store = createAuditStore({ sink, logger: silentLogger, batchSize: 3, flushIntervalMs: 60_000, trail: { signingKey: privateKey, everyEvents: 3 } })
  for (let i = 0; i < 9; i++) store.record(makeEvent(i, 'rr-1'))
  assert.equal((await store.flush()).written, 9)
  await store.close()
  const lane = laneOf('rr-1', 4)
  let prev = GENESIS
  for (const [k, req] of server.requests.entries()) {
    const events = (req.body as unknown[]).map((e) => JSON.stringify(e))
    const head = chainEvents(store.producerId!, lane, 1 + 3 * k, prev, events).subarray(-32)
    assert.deepEqual(
      [req.headers['audit-stream-producer'], req.headers['audit-stream-lane'], req.headers['audit-stream-seq'], req.headers['audit-stream-prev-hash'], req.headers['audit-stream-head']],
      [store.producerId, String(lane), String(1 + 3 * k), prev.toString('hex'), head.toString('hex')]
    )
    prev = head
  }
  assert.equal(server.requests.length, 3)
  assert.equal(server.noteRequests.length, 1, 'after a 404 the notes go to the file only')
  assert.ok((server.noteRequests[0]!.body as { public_key?: string }).public_key?.includes('BEGIN PUBLIC KEY'))
})

test('a sink whose notes never answer holds up neither flush nor, past its timeout, close; no event is counted lost', async () => {
  const sink = new ScriptedSink([], { delayMs: 0, notes: 'never' })
  const store = createAuditStore({ sink, logger: silentLogger, batchSize: 5, flushIntervalMs: 60_000, trail: { signingKey: privateKey, everyEvents: 5 } })
  for (let i = 0; i < 20; i++) store.record(makeEvent(i, 'rr-1'))
  assert.deepEqual(await store.flush(), { written: 20, deadLettered: 0, dropped: 0, lost: 0 })
  const started = Date.now()
  const stats = await store.close({ timeoutMs: 200 }).catch((err: { stats: { lost: number, written: number } }) => err.stats)
  assert.ok(Date.now() - started < 5_000, `close took ${Date.now() - started} ms`)
  assert.deepEqual([stats.written, stats.lost], [20, 0])
})
