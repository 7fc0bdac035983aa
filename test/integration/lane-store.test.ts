/**
 * Ordered lanes end to end (issue 15): a store with lanes and a signing key
 * against the reference server, on PGlite and on PostgreSQL (DATABASE_URL).
 * What the store sends is checked the way a reader would: through
 * `GET /api/v1/audit/verify`, the `audit-stream verify` CLI, and the rows.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DataStorageSink, SinkError, createAuditStore, laneOf, parseNotes, type Batch, type NotesContext, type SendContext } from '../../lib/index.js'
import { verify } from '../../lib/cli/verify.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { engines } from '../helpers/engines.js'
import { MemoryDeadLetter, silentLogger } from '../helpers/fixtures.js'
import { call, laneEvent } from '../helpers/lane.js'
import { tempDir } from '../helpers/temp-dir.js'


const fastRetry = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 }

// These two stay DataStorageSink subclasses: the test is of the real HTTP sink (its requests, its
// notes endpoint, its classification of answers), with one fault put in front of it.

// A sink in front of a real server whose one scripted fault is refusing the batches that hold a poison event.
class RefusingSink extends DataStorageSink {
  protected override async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    if (batch.events.some((json) => json.includes('"poison":true'))) throw new SinkError('HTTP 503 Service Unavailable', { retryable: true, statusCode: 503 })
    return super.sendBatch(batch, ctx)
  }
}

// A real server behind an outage the test switches on and off: every request, batches and notes, gets 503 while `down`.
class OutageSink extends DataStorageSink {
  down = false
  protected override async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    if (this.down) throw new SinkError('HTTP 503 Service Unavailable', { retryable: true, statusCode: 503 })
    return super.sendBatch(batch, ctx)
  }

  protected override async sendNotes (notes: readonly string[], ctx: NotesContext): Promise<boolean> {
    if (this.down) throw new SinkError('HTTP 503 Service Unavailable', { retryable: true, statusCode: 503 })
    return super.sendNotes(notes, ctx)
  }
}

interface Verified { verified_through: number, to: number, first_bad_seq?: number, reason?: string, checkpoints: number, skips: Array<{ from: number, to: number, reason: string }> }

for (const engine of engines) {
  describe(`a store's lanes on ${engine.name}`, { skip: engine.skip }, () => {
    test('every lane of a signing store verifies through its last seq, anchored by its checkpoints, on the server and with the CLI', async (t) => {
      const dir = tempDir(t, 'audit-lane-store-')
      const server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      t.after(() => server.close())
      const { privateKey, publicKey } = generateKeyPairSync('ed25519')
      const notesFile = join(dir, 'audit.notes')
      const keyFile = join(dir, 'key.pub.pem')
      await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }))
      const store = createAuditStore({
        sink: new DataStorageSink({ url: server.url, retry: fastRetry }),
        logger: silentLogger,
        batchSize: 50,
        flushIntervalMs: 60_000,
        trail: { signingKey: privateKey, everyEvents: 100, file: notesFile }
      })
      const cids = Array.from({ length: 24 }, () => randomUUID())
      for (let i = 0; i < 1200; i++) store.record(laneEvent(cids[i % cids.length]!, i))
      assert.deepEqual(await store.flush(), { written: 1200, deadLettered: 0, dropped: 0, lost: 0 })
      await store.close()
      const producerId = store.producerId!
      const perLane = new Map<number, number>()
      for (const cid of cids) perLane.set(laneOf(cid, 4), (perLane.get(laneOf(cid, 4)) ?? 0) + 50)
      for (const [lane, count] of perLane) {
        const { status, body } = await call(server.url, 'GET', `/api/v1/audit/verify?producer_id=${producerId}&lane=${lane}`)
        assert.equal(status, 200)
        const v = body as unknown as Verified
        assert.equal(v.first_bad_seq, undefined, `lane ${lane}: ${String(v.reason)}`)
        assert.deepEqual([v.to, v.verified_through], [count, count], `lane ${lane}`)
        assert.ok(v.checkpoints >= Math.floor(count / 100), `lane ${lane}: ${v.checkpoints} checkpoints`)
      }
      // The local notes: one signed checkpoint at each lane's last seq, from close.
      const notes = parseNotes(await readFile(notesFile, 'utf8'))
      for (const [lane, count] of perLane) {
        assert.ok(notes.some((n) => n.note.kind === 'checkpoint' && n.note.lane === lane && n.note.seq === count && n.signatures.length === 1), `lane ${lane}`)
      }
      const out: string[] = []
      const sinkOut = { write: (text: string) => out.push(text) }
      const code = await verify(['--url', server.url, '--public-key', keyFile, '--checkpoints', notesFile, '--correlation-id', cids[0]!], { stdout: sinkOut, stderr: sinkOut })
      assert.equal(code, 0, out.join(''))
    })

    test('a dead-lettered batch becomes a skip note: verify lists the range and goes on past it', async (t) => {
      const server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      t.after(() => server.close())
      const { privateKey } = generateKeyPairSync('ed25519')
      const deadLetter = new MemoryDeadLetter()
      const store = createAuditStore({
        sink: new RefusingSink({ url: server.url, retry: fastRetry }),
        deadLetter,
        logger: silentLogger,
        batchSize: 10,
        flushIntervalMs: 60_000,
        trail: { signingKey: privateKey, everyEvents: 10 }
      })
      const cid = randomUUID()
      for (let i = 0; i < 30; i++) store.record(laneEvent(cid, i, i >= 10 && i < 20 ? { event_data: { poison: true } } : {}))
      assert.deepEqual(await store.flush().catch((err: { result: unknown }) => err.result), { written: 20, deadLettered: 10, dropped: 0, lost: 0 })
      await store.close().catch(() => {})
      const { body } = await call(server.url, 'GET', `/api/v1/audit/verify?producer_id=${store.producerId!}&lane=${laneOf(cid, 4)}`)
      const v = body as unknown as Verified
      assert.equal(v.first_bad_seq, undefined, String(v.reason))
      assert.deepEqual(v.skips, [{ from: 11, to: 20, reason: 'exhausted' }])
      assert.equal(v.verified_through, 30)
      assert.equal(deadLetter.entries.length, 1)
    })

    test('an outage longer than the retries leaves a skip unposted; it is posted before the next batch of the lane, and the lane goes on', async (t) => {
      const server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      t.after(() => server.close())
      const { privateKey } = generateKeyPairSync('ed25519')
      const sink = new OutageSink({ url: server.url, retry: fastRetry })
      const store = createAuditStore({ sink, deadLetter: new MemoryDeadLetter(), logger: silentLogger, batchSize: 10, flushIntervalMs: 60_000, trail: { signingKey: privateKey } })
      const cid = randomUUID()
      sink.down = true
      for (let i = 0; i < 10; i++) store.record(laneEvent(cid, i))
      assert.deepEqual(await store.flush().catch((err: { result: unknown }) => err.result), { written: 0, deadLettered: 10, dropped: 0, lost: 0 })
      sink.down = false
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) store.record(laneEvent(cid, 10 + round * 10 + i))
        assert.deepEqual(await store.flush(), { written: 10, deadLettered: 0, dropped: 0, lost: 0 }, `round ${round}`)
      }
      await store.close()
      const { body } = await call(server.url, 'GET', `/api/v1/audit/verify?producer_id=${store.producerId!}&lane=${laneOf(cid, 4)}`)
      const v = body as unknown as Verified
      assert.equal(v.first_bad_seq, undefined, String(v.reason))
      assert.deepEqual(v.skips, [{ from: 1, to: 10, reason: 'exhausted' }])
      assert.deepEqual([v.to, v.verified_through], [40, 40])
    })
  })
}
