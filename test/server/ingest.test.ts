/**
 * Both ingest paths (COPY and the jsonb INSERT) on both engines store the
 * same rows, keep a batch atomic with its idempotency key, keep order,
 * ignore fields that are not columns, and let a key past its 24 hours be used again.
 */
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { newAuditEvent, type AuditEvent } from '../../lib/index.js'
import type { Database } from '../../lib/server/database.js'
import { openDatabase } from '../../lib/server/open-database.js'
import { migrate } from '../../lib/server/migrations.js'
import { maintainPartitions } from '../../lib/server/partitions.js'
import { AuditRepository, type IngestMethod } from '../../lib/server/audit-repository.js'
import { noPostgres } from '../helpers/engines.js'


const awkward = (cid: string, seq: number): AuditEvent => newAuditEvent({
  event_type: 'ingest.test', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: cid,
  actor_id: 'tab\there, newline\nthere, cr\r, backslash \\ and \\N, quote " \' , unicode é 漢 🎉',
  resource_id: '\\.', namespace: '', duration_ms: 2_147_483_647, is_sensitive: false, severity: 'info',
  event_data: { seq, text: 'a\tb\nc\\d', nested: { list: [1, 'two', null, true], empty: {} }, unicode: '🎉' }
})

/** A migrated database of `engine` (closed after the test), its repository with `method`, and a fresh correlation id. */
async function repositoryOn (t: TestContext, engine: 'pglite' | 'postgres', method: IngestMethod, { partitions = true } = {}): Promise<{ db: Database, repo: AuditRepository, cid: string }> {
  const db = await openDatabase(engine === 'pglite' ? 'memory://' : process.env.DATABASE_URL!)
  t.after(() => db.close())
  await migrate(db)
  if (partitions) await maintainPartitions(db, new Date())
  return { db, repo: new AuditRepository(db, method), cid: randomUUID() }
}

for (const engine of ['pglite', 'postgres'] as const) {
  for (const method of ['copy', 'insert'] as IngestMethod[]) {
    describe(`${method} on ${engine === 'pglite' ? 'PGlite' : 'PostgreSQL'}`, { skip: engine === 'postgres' ? noPostgres : undefined }, () => {
      test('stores awkward text, nulls and jsonb exactly, in batch order', async (t) => {
        const { repo, cid } = await repositoryOn(t, engine, method)
        const events = Array.from({ length: 50 }, (_, i) => awkward(cid, i))
        const outcome = await repo.insert(events, `k-${cid}`, 'h', (ids) => ({ statusCode: 201, body: { event_ids: ids } }))
        assert.equal(outcome.kind, 'stored')
        const page = await repo.find({ correlation_id: cid, limit: 100, offset: 0 })
        assert.equal(page.total, 50)
        for (const [i, row] of page.data.entries()) {
          const sent = events[i]!
          assert.equal(row.event_id, outcome.kind === 'stored' ? outcome.eventIds[i] : undefined)
          for (const field of ['actor_id', 'resource_id', 'namespace', 'duration_ms', 'is_sensitive', 'severity', 'event_type'] as const) {
            assert.deepEqual(row[field], sent[field], field)
          }
          assert.deepEqual(row.event_data, sent.event_data)
          assert.equal(row.event_timestamp, new Date(sent.event_timestamp).toISOString())
          assert.equal(row.actor_type, undefined, 'an absent field is stored as NULL')
        }
      })

      test('a batch with one value the database refuses stores nothing and leaves its key unclaimed', async (t) => {
        const { repo, cid } = await repositoryOn(t, engine, method, { partitions: false })
        const events = [awkward(cid, 0), { ...awkward(cid, 1), duration_ms: 2 ** 40 }, awkward(cid, 2)]
        await assert.rejects(repo.insert(events, `k-${cid}`, 'h', (ids) => ({ statusCode: 201, body: ids })), (err: { code?: string }) => err.code?.startsWith('22') === true)
        assert.equal((await repo.find({ correlation_id: cid, limit: 10, offset: 0 })).total, 0)
        const retried = await repo.insert([awkward(cid, 0)], `k-${cid}`, 'h2', (ids) => ({ statusCode: 201, body: ids }))
        assert.equal(retried.kind, 'stored', 'the key was rolled back with the batch')
      })

      test('a batch whose refused or unencodable value comes late (COPY\'s third or fourth chunk) stores nothing, leaves its key unclaimed, and the connection serves the next batches', { timeout: 120_000 }, async (t) => {
        const { db, cid } = await repositoryOn(t, engine, method)
        // The rows of each chunk of COPY input, per COPY, as the engine reads them.
        const copies: number[][] = []
        const watched: Database = {
          engine: db.engine,
          query: (sql, params) => db.query(sql, params),
          close: () => db.close(),
          transaction: (fn) => db.transaction((tx) => fn({
            query: (sql, params) => tx.query(sql, params),
            ...(tx.copyFrom === undefined
              ? {}
              : {
                  copyFrom: (target: string, input: Iterable<string>) => {
                    const rows: number[] = []
                    copies.push(rows)
                    return tx.copyFrom!(target, (function * () {
                      for (const chunk of input) {
                        assert.ok(chunk.endsWith('\n'), 'a chunk ends at a row')
                        rows.push(chunk.split('\n').length - 1)
                        yield chunk
                      }
                    })())
                  }
                })
          }))
        }
        const repo = new AuditRepository(watched, method)
        const key = `k-${cid}`
        const events = Array.from({ length: 350 }, (_, i) => i === 250 ? { ...awkward(cid, i), duration_ms: 2 ** 40 } : awkward(cid, i))
        await assert.rejects(repo.insert(events, key, 'h', (ids) => ({ statusCode: 201, body: ids })), (err: { code?: string }) => err.code?.startsWith('22') === true)
        assert.equal((await repo.find({ correlation_id: cid, limit: 10, offset: 0 })).total, 0)
        // A value that cannot be encoded at all, in the fourth chunk: the input stops there and the COPY is abandoned.
        const unencodable = events.map((e, i) => i === 320 ? { ...awkward(cid, i), event_data: { toJSON () { throw new Error('cannot encode') } } } as unknown as AuditEvent : { ...e, duration_ms: 1 })
        await assert.rejects(repo.insert(unencodable, key, 'h', (ids) => ({ statusCode: 201, body: ids })), /cannot encode/)
        assert.equal((await repo.find({ correlation_id: cid, limit: 10, offset: 0 })).total, 0)
        const good = events.map((e) => ({ ...e, duration_ms: 1 }))
        // The key was rolled back both times: it stores now, once, and then answers as a replay.
        assert.equal((await repo.insert(good, key, 'h', (ids) => ({ statusCode: 201, body: ids }))).kind, 'stored')
        assert.equal((await repo.insert(good, key, 'h', (ids) => ({ statusCode: 201, body: ids }))).kind, 'replayed')
        // Again and again on the same pool: no connection was left inside a COPY.
        for (let round = 1; round < 3; round++) {
          assert.equal((await repo.insert(good, `${key}-${round}`, 'h', (ids) => ({ statusCode: 201, body: ids }))).kind, 'stored')
        }
        const page = await repo.find({ correlation_id: cid, limit: 3 * 350, offset: 0 })
        assert.equal(page.total, 3 * 350)
        // The rounds share timestamps, so find's order interleaves them: count each seq instead.
        const seen = page.data.map((row) => (row.event_data as { seq: number }).seq).sort((a, b) => a - b)
        assert.deepEqual(seen, good.flatMap((_, i) => [i, i, i]))
        if (method === 'copy') {
          // The unencodable batch stopped after its third chunk; each stored batch went as 100, 100, 100 and 50 rows.
          assert.deepEqual(copies.slice(1), [[100, 100, 100], [100, 100, 100, 50], [100, 100, 100, 50], [100, 100, 100, 50]])
        } else assert.equal(copies.length, 0)
      })

      test('a field that is not a column is ignored, even one jsonb would refuse', async (t) => {
        const { repo, cid } = await repositoryOn(t, engine, method)
        const events = [awkward(cid, 0), { ...awkward(cid, 1), not_a_column: 'a\u0000b', lone: '\ud800' } as AuditEvent, awkward(cid, 2)]
        assert.equal((await repo.insert(events, undefined, 'h', (ids) => ({ statusCode: 201, body: ids }))).kind, 'stored')
        const page = await repo.find({ correlation_id: cid, limit: 10, offset: 0 })
        assert.deepEqual(page.data.map((row) => (row.event_data as { seq: number }).seq), [0, 1, 2])
        assert.ok(page.data.every((row) => !('not_a_column' in row) && !('lone' in row)))
      })

      test('a key past its 24 hours is taken over by another body, whose response a replay then gives', async (t) => {
        const { db, repo, cid } = await repositoryOn(t, engine, method)
        const key = `k-${cid}`
        const respond = (ids: string[]): { statusCode: number, body: unknown } => ({ statusCode: 201, body: { event_ids: ids } })
        assert.equal((await repo.insert([awkward(cid, 0)], key, 'first', respond)).kind, 'stored')
        assert.equal((await repo.insert([awkward(cid, 1)], key, 'second', respond)).kind, 'conflict', 'a live key with another body')
        await db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1", [key])
        const taken = await repo.insert([awkward(cid, 1), awkward(cid, 2)], key, 'second', respond)
        assert.equal(taken.kind, 'stored')
        const replayed = await repo.insert([awkward(cid, 1), awkward(cid, 2)], key, 'second', respond)
        assert.equal(replayed.kind, 'replayed')
        assert.deepEqual(replayed.kind === 'replayed' ? replayed.response.body : undefined, { event_ids: taken.kind === 'stored' ? taken.eventIds : [] })
        assert.equal((await repo.find({ correlation_id: cid, limit: 10, offset: 0 })).total, 3)
      })
    })
  }
}
