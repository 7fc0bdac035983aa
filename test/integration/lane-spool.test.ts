/**
 * Lanes across a crash (issue 15): with a spool, the next store on the
 * directory is the same producer, resends the lane batches the crashed one
 * had cut with the same lane and seqs, and goes on with each lane after them,
 * also when the spool had already dropped every segment. Checked through
 * `GET /api/v1/audit/verify` of the reference server, on PGlite and on
 * PostgreSQL (DATABASE_URL). A crash is `destroy()`: the spool is left as a
 * killed process leaves it.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { DataStorageSink, createAuditStore, laneOf, type AuditStore, type Batch, type SendContext } from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { engines } from '../helpers/engines.js'
import { silentLogger } from '../helpers/fixtures.js'
import { call, laneEvent } from '../helpers/lane.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'


const fastRetry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 }

// Stores the batches of lane seqs up to `through`; every later one hangs until the store is torn down.
// A DataStorageSink subclass: the batches it lets through must reach the real server over HTTP.
class StallingSink extends DataStorageSink {
  constructor (url: string, readonly through: number) {
    super({ url, retry: fastRetry })
  }

  protected override async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    if (batch.trail!.seq > this.through) {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))
      throw new Error('torn down')
    }
    return super.sendBatch(batch, ctx)
  }
}

// A destroyed store lets its spool's lock go once the writer's job under way has finished.
async function unlocked (dir: string): Promise<void> {
  await waitFor(async () => !(await readdir(dir)).includes('lock'), { what: 'the destroyed store to release the spool lock' })
}

interface Verified { verified_through: number, to: number, first_bad_seq?: number, reason?: string, skips: unknown[] }

for (const engine of engines) {
  describe(`lanes across a crash on ${engine.name}`, { skip: engine.skip }, () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const storeOn = (dir: string, sink: DataStorageSink): AuditStore => createAuditStore({
      sink, logger: silentLogger, batchSize: 10, flushIntervalMs: 60_000, spool: { dir, checkpointIntervalMs: 10 }, trail: { signingKey: privateKey, everyEvents: 10 }
    })
    const verifyLane = async (url: string, producerId: string, lane: number): Promise<Verified> =>
      (await call(url, 'GET', `/api/v1/audit/verify?producer_id=${producerId}&lane=${lane}`)).body as unknown as Verified

    test('the next store is the same producer, resends the cut lane batches with their seqs and goes on after them', async (t) => {
      const dir = tempDir(t, 'audit-lane-spool-')
      const server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      t.after(() => server.close())
      const cid = randomUUID()
      const first = storeOn(dir, new StallingSink(server.url, 20))
      for (let i = 0; i < 60; i++) first.record(laneEvent(cid, i))
      await assert.rejects(first.flush({ timeoutMs: 300 }), { code: 'AUDIT_ERR_TIMEOUT' })
      const producerId = first.producerId!
      first.destroy()
      await unlocked(dir)

      const second = storeOn(dir, new DataStorageSink({ url: server.url, retry: fastRetry }))
      assert.equal(second.producerId, producerId)
      for (let i = 60; i < 80; i++) second.record(laneEvent(cid, i))
      const result = await second.flush()
      // The 40 unsent events and the 20 new ones; the 20 stored ones too when no spool checkpoint covered them yet.
      assert.ok(result.written >= 60 && result.written <= 80, `${result.written} written`)
      assert.deepEqual([result.deadLettered, result.lost], [0, 0])
      await second.close()
      const v = await verifyLane(server.url, producerId, laneOf(cid, 4))
      assert.equal(v.first_bad_seq, undefined, String(v.reason))
      assert.deepEqual([v.to, v.verified_through, v.skips.length], [80, 80, 0])
      const { body } = await call(server.url, 'GET', `/api/v1/audit/events?correlation_id=${cid}&limit=1000`)
      assert.equal((body as { pagination: { total: number } }).pagination.total, 80, 'every event stored once')
      assert.deepEqual(await readdir(dir), [], 'a clean close empties the directory')
    })

    test('after every segment was dropped, the lanes file alone carries each lane on', async (t) => {
      const dir = tempDir(t, 'audit-lane-spool-')
      const server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      t.after(() => server.close())
      const cid = randomUUID()
      const first = storeOn(dir, new DataStorageSink({ url: server.url, retry: fastRetry }))
      for (let i = 0; i < 30; i++) first.record(laneEvent(cid, i))
      assert.equal((await first.flush()).written, 30)
      // The checkpoint (every 10 ms) covers everything: the segments go.
      await waitFor(async () => !(await readdir(dir)).some((name) => name.startsWith('segment-')), { what: 'a checkpoint that drops every segment', detail: () => 'segments left' })
      assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('segment-')), [])
      const producerId = first.producerId!
      first.destroy()
      await unlocked(dir)

      const second = storeOn(dir, new DataStorageSink({ url: server.url, retry: fastRetry }))
      assert.equal(second.producerId, producerId)
      for (let i = 30; i < 40; i++) second.record(laneEvent(cid, i))
      assert.deepEqual(await second.flush(), { written: 10, deadLettered: 0, dropped: 0, lost: 0 })
      await second.close()
      const v = await verifyLane(server.url, producerId, laneOf(cid, 4))
      assert.equal(v.first_bad_seq, undefined, String(v.reason))
      assert.deepEqual([v.to, v.verified_through], [40, 40])
    })

    test('a store with lanes: 0 on a spool written with lanes sends the recovered lane batches unordered, with their headers', async (t) => {
      const dir = tempDir(t, 'audit-lane-spool-')
      const server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      t.after(() => server.close())
      const cid = randomUUID()
      const first = storeOn(dir, new StallingSink(server.url, 0))
      for (let i = 0; i < 40; i++) first.record(laneEvent(cid, i))
      await assert.rejects(first.flush({ timeoutMs: 200 }), { code: 'AUDIT_ERR_TIMEOUT' })
      const producerId = first.producerId!
      first.destroy()
      await unlocked(dir)

      const second = createAuditStore({ sink: new DataStorageSink({ url: server.url, retry: { maxAttempts: 10, baseDelayMs: 1, maxDelayMs: 5 } }), lanes: 0, logger: silentLogger, spool: { dir } })
      assert.equal(second.producerId, undefined)
      assert.deepEqual(await second.flush({ timeoutMs: 30_000 }), { written: 40, deadLettered: 0, dropped: 0, lost: 0 })
      await second.close()
      const v = await verifyLane(server.url, producerId, laneOf(cid, 4))
      assert.equal(v.first_bad_seq, undefined, String(v.reason))
      assert.equal(v.to, 40)
    })
  })
}
