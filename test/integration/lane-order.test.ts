/**
 * Issue 15's order test: a store with `lanes: 4, maxInFlightPerLane: 3`
 * sends through a proxy that delays every request and every response at
 * random (so batches of a lane overtake each other) to the reference server,
 * on PGlite and on PostgreSQL (DATABASE_URL). Then the rows are read back:
 * every correlation id's events are in the order they were recorded, each
 * lane's seqs run 1..n with no gap, nothing is stored twice and nothing is lost.
 *
 * LANE_ORDER_EVENTS sets the event count (default 200000), LANE_ORDER_SEED
 * the proxy's seed (printed, so a failure can be replayed).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'
import { DataStorageSink, createAuditStore, laneOf } from '../../lib/index.js'
import { openDatabase } from '../../lib/server/open-database.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'
import { prng } from '../helpers/prng.js'

const EVENTS = Number(process.env.LANE_ORDER_EVENTS ?? 200_000)
const SEED = Number(process.env.LANE_ORDER_SEED ?? Date.now() % 2 ** 31)
const CORRELATION_IDS = 64

const engines = [
  { name: 'PGlite', postgres: false, skip: undefined as string | undefined },
  {
    name: 'PostgreSQL',
    postgres: true,
    skip: process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '' ? 'DATABASE_URL is not set (.ci/run starts PostgreSQL; see README)' : undefined
  }
]

// Forwards to `target` after 0-12 ms, and answers 0-12 ms after the answer came: batches overtake each other.
async function startReorderingProxy (target: string, random: () => number): Promise<{ url: string, gaps: () => number, close: () => Promise<void> }> {
  const pool = new Pool(target, { connections: 16 })
  let gaps = 0
  const wait = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 13)))
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        await wait()
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => name !== 'host' && name !== 'connection' && name !== 'content-length'))
        const answer = await pool.request({ path: req.url!, method: req.method as 'POST', headers: headers as Record<string, string>, body: Buffer.concat(chunks) })
        const body = Buffer.from(await answer.body.arrayBuffer())
        if (answer.statusCode === 409) gaps++
        await wait()
        res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') })
        res.end(body)
      })().catch(() => res.destroy())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    gaps: () => gaps,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await pool.close()
    }
  }
}

for (const engine of engines) {
  describe(`lane order on ${engine.name}`, { skip: engine.skip }, () => {
    test(`${EVENTS} events over 4 lanes with 3 batches in flight each, through a proxy that reorders at random: every correlation id in order, no gap, no duplicate, none lost`, { timeout: 20 * 60_000 }, async (t) => {
      t.diagnostic(`LANE_ORDER_SEED=${SEED} LANE_ORDER_EVENTS=${EVENTS}`)
      const dir = engine.postgres ? undefined : await mkdtemp(join(tmpdir(), 'audit-lane-order-'))
      const database = engine.postgres ? process.env.DATABASE_URL! : dir!
      const server = await startDataStorageServer({ database, logger: silentLogger })
      const proxy = await startReorderingProxy(server.url, prng(SEED))
      let serverOpen = true
      t.after(async () => {
        await proxy.close()
        if (serverOpen) await server.close()
        if (dir !== undefined) await rm(dir, { recursive: true, force: true })
      })
      const store = createAuditStore({
        sink: new DataStorageSink({ url: proxy.url, connections: 16, retry: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 100 } }),
        lanes: 4,
        maxInFlightPerLane: 3,
        batchSize: 250,
        logger: silentLogger
      })
      const cids = Array.from({ length: CORRELATION_IDS }, () => randomUUID())
      // Produced in ticks of 1000, as a service would, with the order inside each correlation id in event_data.n.
      const next = new Map<string, number>()
      for (let i = 0; i < EVENTS; i += 1000) {
        for (let k = i; k < Math.min(EVENTS, i + 1000); k++) {
          const cid = cids[(k * 7 + (k >> 5)) % CORRELATION_IDS]!
          const n = next.get(cid) ?? 0
          next.set(cid, n + 1)
          // Written with the stream's backpressure: nothing is dropped.
          if (!store.write({ version: '1.0', event_type: 'order.step', event_timestamp: new Date().toISOString(), event_category: 'test', event_action: 'step', event_outcome: 'success', correlation_id: cid, event_data: { n } })) {
            await once(store, 'drain')
          }
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      assert.deepEqual(await store.flush(), { written: EVENTS, deadLettered: 0, dropped: 0, lost: 0 })
      await store.close()
      t.diagnostic(`the proxy answered ${proxy.gaps()} sequence gaps (batches that overtook an earlier one of their lane)`)
      const producerId = store.producerId!

      await server.close()
      serverOpen = false
      const db = await openDatabase(database)
      try {
        const { rows } = await db.query<{ lane: number, seq: string, cid: string, n: number }>(
          "SELECT lane, lane_seq::text AS seq, correlation_id AS cid, (event_data->>'n')::int AS n FROM audit_events WHERE producer_id = $1 ORDER BY lane, lane_seq", [producerId]
        )
        assert.equal(rows.length, EVENTS, 'every event stored exactly once')
        const lastSeq = new Map<number, number>()
        const lastN = new Map<string, number>()
        for (const row of rows) {
          const seq = Number(row.seq)
          assert.equal(seq, (lastSeq.get(row.lane) ?? 0) + 1, `lane ${row.lane}: seq ${seq} follows ${lastSeq.get(row.lane) ?? 0}`)
          lastSeq.set(row.lane, seq)
          assert.equal(row.lane, laneOf(row.cid, 4))
          assert.equal(row.n, (lastN.get(row.cid) ?? -1) + 1, `${row.cid}: event ${row.n} stored after event ${lastN.get(row.cid) ?? -1}`)
          lastN.set(row.cid, row.n)
        }
        for (const cid of cids) assert.equal(lastN.get(cid), next.get(cid)! - 1, `${cid}: all its events`)
      } finally {
        await db.close()
      }
    })
  })
}
