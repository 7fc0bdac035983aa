/**
 * The tamper matrix of issue 15 through `GET /api/v1/audit/verify`, on
 * PGlite (in a directory) and PostgreSQL (DATABASE_URL): each lane is written
 * through the server (three batches of 10 realistic events, a signed
 * checkpoint after each), then the server is stopped, the database edited
 * with plain SQL as an attacker with database access would, the server
 * started again on the same data, and every lane verified.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chainHash, eventDigest } from '../../lib/chain/chain-hash.js'
import { openDatabase } from '../../lib/server/open-database.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'
import { TestLane, laneEvent, newSigner, postNotes, send, verify, type Reply } from '../helpers/lane.js'
import { noPostgres } from '../helpers/engines.js'

const engines = [
  { name: 'PGlite', postgres: false, skip: undefined as string | undefined },
  {
    name: 'PostgreSQL',
    postgres: true,
    skip: noPostgres
  }
]

const CASES = ['untouched', 'edit', 'delete', 'swap', 'recompute', 'replay', 'skip'] as const
type Case = typeof CASES[number]

interface Written { lane: TestLane, raws: string[], checkpoints: Map<number, string> }

for (const engine of engines) {
  describe(`the tamper matrix on ${engine.name}`, { skip: engine.skip }, () => {
    const signer = newSigner()
    const written = new Map<Case, Written>()
    const results = new Map<Case, Reply>()
    let dir: string | undefined
    let database: string
    let server: DataStorageServer | undefined

    const start = async (): Promise<DataStorageServer> => startDataStorageServer({ database, logger: silentLogger, trailPublicKeys: [signer.publicKey] })

    before(async () => {
      if (engine.postgres) database = process.env.DATABASE_URL!
      else {
        dir = await mkdtemp(join(tmpdir(), 'audit-lane-tamper-'))
        database = dir
      }
      server = await start()
      const t0 = Date.now()
      for (const name of CASES) {
        const cid = randomUUID()
        const lane = new TestLane({ signer })
        const raws: string[] = []
        const checkpoints = new Map<number, string>()
        for (let b = 0; b < 3; b++) {
          const batch = Array.from({ length: 10 }, (_, i) => JSON.stringify(laneEvent(cid, b * 10 + i)))
          raws.push(...batch)
          if (name === 'skip' && b === 1) {
            const skip = lane.skip(batch, 'exhausted')
            assert.equal((await postNotes(server.url, [skip])).status, 201)
          } else {
            const reply = await send(server.url, lane.batch(batch))
            assert.equal(reply.status, 201, JSON.stringify(reply.body))
          }
          const checkpoint = lane.checkpoint(lane.seq, new Date(t0 + b * 1000).toISOString())
          checkpoints.set(lane.seq, checkpoint)
          assert.equal((await postNotes(server.url, [checkpoint])).status, 201)
        }
        written.set(name, { lane, raws, checkpoints })
      }
      await server.close()

      // The attacker's edits, straight on the database.
      const db = await openDatabase(database)
      try {
        const p = (name: Case): string => written.get(name)!.lane.producerId
        await db.query("UPDATE audit_events SET event_data = jsonb_set(event_data, '{step}', '999') WHERE producer_id = $1 AND lane_seq = 15", [p('edit')])
        await db.query('DELETE FROM audit_events WHERE producer_id = $1 AND lane_seq = 15', [p('delete')])
        await db.query('UPDATE audit_events SET lane_seq = CASE lane_seq WHEN 15 THEN 17 ELSE 15 END WHERE producer_id = $1 AND lane_seq IN (15, 17)', [p('swap')])
        // Edit seq 15 and recompute the chain from there on, so that every stored row links again.
        const { lane, raws } = written.get('recompute')!
        const edited = JSON.parse(raws[14]!) as { event_data: Record<string, unknown> }
        edited.event_data.step = 999
        raws[14] = JSON.stringify(edited)
        let h = lane.heads[14]!
        for (let seq = 15; seq <= 30; seq++) {
          const raw = raws[seq - 1]!
          h = chainHash(lane.producerId, lane.lane, seq, h, eventDigest(raw))
          await db.query("UPDATE audit_events SET raw = $3, event_data = $4::jsonb, chain_hash = decode($5, 'hex') WHERE producer_id = $1 AND lane_seq = $2",
            [lane.producerId, seq, raw, JSON.stringify((JSON.parse(raw) as { event_data: unknown }).event_data), h.toString('hex')])
        }
        await db.query("UPDATE trail_lanes SET head = decode($2, 'hex') WHERE producer_id = $1", [lane.producerId, h.toString('hex')])
        // An older genuine checkpoint's text over the checkpoint at seq 20.
        await db.query("UPDATE trail_notes SET text = $2 WHERE producer_id = $1 AND kind = 'checkpoint' AND seq = 20", [p('replay'), written.get('replay')!.checkpoints.get(10)])
      } finally {
        await db.close()
      }

      server = await start()
      for (const name of CASES) results.set(name, await verify(server.url, written.get(name)!.lane))
    })
    after(async () => {
      await server?.close()
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    })

    const result = (name: Case): Record<string, unknown> => {
      const reply = results.get(name)!
      assert.equal(reply.status, 200, JSON.stringify(reply.body))
      return reply.body
    }

    test('an untouched lane verifies through its last seq', () => {
      const r = result('untouched')
      assert.equal(r.verified_through, 30)
      assert.equal(r.chained_through, 30)
      assert.equal(r.first_bad_seq, undefined)
      assert.equal(r.reason, undefined)
      assert.equal(r.checkpoints, 3)
      assert.deepEqual(r.skips, [])
    })

    test('one row\'s event_data edited in SQL fails as altered at exactly that seq', () => {
      const r = result('edit')
      assert.equal(r.first_bad_seq, 15)
      assert.equal(r.reason, 'altered')
      assert.ok((r.verified_through as number) < 15)
    })

    test('one row deleted fails as missing at that seq', () => {
      const r = result('delete')
      assert.equal(r.first_bad_seq, 15)
      assert.equal(r.reason, 'missing')
      assert.ok((r.verified_through as number) < 15)
    })

    test('two rows\' lane_seq swapped fails as reordered at the lower seq', () => {
      const r = result('swap')
      assert.equal(r.first_bad_seq, 15)
      assert.equal(r.reason, 'reordered')
      assert.ok((r.verified_through as number) < 15)
    })

    test('a chain recomputed after an edit stays verified below the edit and fails on the signature of the next checkpoint', () => {
      const r = result('recompute')
      assert.ok((r.verified_through as number) < 15, `verified_through ${String(r.verified_through)}`)
      assert.equal(r.verified_through, 10)
      assert.equal(r.first_bad_seq, 20)
      assert.equal(r.reason, 'signature')
    })

    test('an older genuine checkpoint copied over a newer one fails on the signature at that checkpoint\'s seq', () => {
      const r = result('replay')
      assert.equal(r.first_bad_seq, 20)
      assert.equal(r.reason, 'signature')
      assert.equal(r.verified_through, 10)
    })

    test('a skipped range shows in skips and does not fail verification', () => {
      const r = result('skip')
      assert.deepEqual(r.skips, [{ from: 11, to: 20, reason: 'exhausted' }])
      assert.equal(r.first_bad_seq, undefined)
      assert.equal(r.verified_through, 30)
    })
  })
}
