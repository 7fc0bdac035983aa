/**
 * Monthly partitions of audit_events, retention, the migration from an
 * unpartitioned table, and replicas sharing one PostgreSQL database:
 * migrations under an advisory lock, idempotency keys across replicas.
 * Each runs on PGlite and, with DATABASE_URL, on PostgreSQL.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { request } from 'undici'
import { newAuditEvent } from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import type { Database } from '../../lib/server/database.js'
import { openDatabase } from '../../lib/server/open-database.js'
import { migrate } from '../../lib/server/migrations.js'
import { addMonths, maintainPartitions, monthOf, partitionName } from '../../lib/server/partitions.js'
import { AuditRepository } from '../../lib/server/audit-repository.js'
import { silentLogger } from '../helpers/fixtures.js'
import { noPostgres } from '../helpers/engines.js'

const BATCH = '/api/v1/audit/events/batch'

/** A fresh database of its own: PGlite in memory, or a new PostgreSQL database dropped afterwards. */
async function freshDatabase (engine: 'pglite' | 'postgres', after: (fn: () => Promise<void>) => void): Promise<string> {
  if (engine === 'pglite') return 'memory://'
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await admin.connect()
  const name = `audit_part_${randomUUID().replaceAll('-', '')}`
  await admin.query(`CREATE DATABASE ${name}`)
  after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  })
  const url = new URL(process.env.DATABASE_URL!)
  url.pathname = `/${name}`
  return url.toString()
}

async function open (engine: 'pglite' | 'postgres', t: { after: (fn: () => Promise<void>) => void }, target?: number): Promise<Database> {
  const db = await openDatabase(await freshDatabase(engine, (fn) => t.after(fn)))
  t.after(() => db.close())
  await migrate(db, target)
  return db
}

const event = (cid: string, seq: number, timestamp = new Date()) => newAuditEvent({
  event_type: 't', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: cid, event_data: { seq }, event_timestamp: timestamp.toISOString()
})

async function insert (db: Database, events: ReturnType<typeof event>[]): Promise<void> {
  await new AuditRepository(db).insert(events, undefined, 'h', (ids) => ({ statusCode: 201, body: ids }))
}

// Which partition holds each event of `cid`, by seq.
async function placement (db: Database, cid: string): Promise<string[]> {
  const { rows } = await db.query<{ partition: string }>(
    "SELECT tableoid::regclass::text AS partition FROM audit_events WHERE correlation_id = $1 ORDER BY (event_data->>'seq')::int", [cid])
  return rows.map((r) => r.partition)
}

async function partitions (db: Database): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1")
  return rows.map((r) => r.name)
}

// The month `n` months from now, at its 15th day, noon UTC.
function midMonth (n: number, now = new Date()): Date {
  const m = addMonths(monthOf(now), n)
  return new Date(Date.UTC(m.year, m.month - 1, 15, 12))
}

for (const engine of ['pglite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? noPostgres : undefined
  describe(`partitions on ${engine === 'pglite' ? 'PGlite' : 'PostgreSQL'}`, { skip }, () => {
    test('maintenance creates the current month and the next two, and an event of any other month lands in the DEFAULT partition', async (t) => {
      const db = await open(engine, t)
      const done = await maintainPartitions(db, new Date())
      const now = monthOf(new Date())
      const expected = [0, 1, 2].map((n) => partitionName(addMonths(now, n)))
      assert.deepEqual(done.created, expected)
      assert.deepEqual(await partitions(db), [...expected, 'audit_events_default'].sort())
      assert.deepEqual((await maintainPartitions(db, new Date())).created, [], 'a second pass creates nothing')
      const cid = randomUUID()
      await insert(db, [event(cid, 0, midMonth(0)), event(cid, 1, midMonth(2)), event(cid, 2, new Date('2001-02-03T04:05:06Z')), event(cid, 3, midMonth(40))])
      assert.deepEqual(await placement(db, cid), [expected[0], expected[2], 'audit_events_default', 'audit_events_default'])
    })

    test('a partition created for a month the DEFAULT partition holds rows of takes those rows over', async (t) => {
      const db = await open(engine, t)
      await maintainPartitions(db, new Date())
      const cid = randomUUID()
      await insert(db, [event(cid, 0, midMonth(3)), event(cid, 1, midMonth(3)), event(cid, 2, midMonth(4))])
      assert.deepEqual(await placement(db, cid), ['audit_events_default', 'audit_events_default', 'audit_events_default'])
      const done = await maintainPartitions(db, midMonth(1))
      assert.deepEqual(done.created, [partitionName(addMonths(monthOf(new Date()), 3))])
      assert.deepEqual(await placement(db, cid), [done.created[0], done.created[0], 'audit_events_default'])
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE correlation_id = $1', [cid])
      assert.equal(rows[0]?.n, 3, 'no row lost or doubled by the move')
    })

    test('a time-filtered query touches only the partitions of its months (EXPLAIN)', async (t) => {
      const db = await open(engine, t)
      await maintainPartitions(db, new Date())
      const relations = async (since: Date, until: Date): Promise<string[]> => {
        const { rows } = await db.query<{ 'QUERY PLAN': unknown }>(
          'EXPLAIN (FORMAT JSON) SELECT event_id FROM audit_events WHERE event_timestamp >= $1 AND event_timestamp <= $2 ORDER BY event_timestamp, seq',
          [since.toISOString(), until.toISOString()])
        const names = new Set<string>()
        const walk = (node: unknown): void => {
          if (Array.isArray(node)) { for (const n of node) walk(n); return }
          if (typeof node !== 'object' || node === null) return
          for (const [key, value] of Object.entries(node)) {
            if (key === 'Relation Name' && typeof value === 'string') names.add(value)
            else walk(value)
          }
        }
        const plan = rows[0]?.['QUERY PLAN']
        walk(typeof plan === 'string' ? JSON.parse(plan) : plan)
        return [...names].sort()
      }
      const now = monthOf(new Date())
      assert.deepEqual(await relations(midMonth(1), midMonth(1)), [partitionName(addMonths(now, 1))])
      assert.deepEqual(await relations(midMonth(0), midMonth(1)), [partitionName(now), partitionName(addMonths(now, 1))])
      assert.deepEqual(await relations(new Date('2001-01-01T00:00:00Z'), new Date('2001-12-31T00:00:00Z')), ['audit_events_default'])
    })

    test('retention drops whole partitions older than N months and the DEFAULT partition rows older than that, and keeps the rest', async (t) => {
      const db = await open(engine, t)
      const now = new Date()
      await maintainPartitions(db, midMonth(-6, now))
      await maintainPartitions(db, midMonth(-3, now))
      await maintainPartitions(db, now)
      const cid = randomUUID()
      await insert(db, [-6, -5, -4, -3, 0, 1].map((n, i) => event(cid, i, midMonth(n, now))).concat(event(cid, 6, new Date('2001-01-01T00:00:00Z'))))
      const done = await maintainPartitions(db, now, 3)
      const current = monthOf(now)
      // Months -6, -5 and -4 ended more than 3 months ago; month -3 ends less than 3 months ago.
      assert.deepEqual(done.dropped, [-6, -5, -4].map((n) => partitionName(addMonths(current, n))).sort())
      assert.equal(done.deletedRows, 1)
      const { rows } = await db.query<{ seq: number }>("SELECT (event_data->>'seq')::int AS seq FROM audit_events WHERE correlation_id = $1 ORDER BY 1", [cid])
      assert.deepEqual(rows.map((r) => r.seq), [3, 4, 5])
      assert.deepEqual((await maintainPartitions(db, now, 3)).dropped, [], 'a second pass drops nothing')
    })

    test('migration 3 moves an unpartitioned table into monthly partitions, keeping ids, order and dates', async (t) => {
      const db = await open(engine, t, 2)
      await db.query(`INSERT INTO audit_events (event_id, event_date, version, event_type, event_timestamp, event_category, event_action, event_outcome, correlation_id, event_data)
        SELECT gen_random_uuid(), (ts AT TIME ZONE 'UTC')::date, '1.0', 't', ts, 'c', 'a', 'success', 'old', jsonb_build_object('seq', n)
        FROM (SELECT n, timestamptz '2024-01-31 23:30:00+00' + n * interval '1 hour' AS ts FROM generate_series(0, 9) AS n) AS x`)
      const before = await db.query<{ event_id: string, seq: string, event_date: string }>('SELECT event_id::text, seq::text, event_date::text FROM audit_events ORDER BY seq')
      await migrate(db)
      const after = await db.query<{ event_id: string, seq: string, event_date: string }>('SELECT event_id::text, seq::text, event_date::text FROM audit_events ORDER BY seq')
      assert.deepEqual(after.rows, before.rows)
      assert.deepEqual(await partitions(db), ['audit_events_default', 'audit_events_y2024m01', 'audit_events_y2024m02'])
      assert.deepEqual((await placement(db, 'old')), ['audit_events_y2024m01', ...Array(9).fill('audit_events_y2024m02')])
      await insert(db, [event('new', 0)])
      const { rows } = await db.query<{ newer: boolean }>("SELECT (SELECT seq FROM audit_events WHERE correlation_id = 'new') > (SELECT max(seq) FROM audit_events WHERE correlation_id = 'old') AS newer")
      assert.equal(rows[0]?.newer, true, 'seq continues after the moved rows')
    })
  })
}

test('four replicas starting together on one PostgreSQL database migrate once and create each partition once', { skip: noPostgres }, async (t) => {
  const url = await freshDatabase('postgres', (fn) => t.after(fn))
  const servers = await Promise.all([0, 1, 2, 3].map(() => startDataStorageServer({ database: url, logger: silentLogger })))
  t.after(() => Promise.all(servers.map((s) => s.close())).then(() => {}))
  const check = new pg.Client({ connectionString: url })
  await check.connect()
  const migrations = await check.query('SELECT count(*)::int AS n, count(DISTINCT version)::int AS versions FROM audit_stream_migrations')
  const parts = await check.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'audit_events'::regclass")
  await check.end()
  assert.equal(migrations.rows[0].n, migrations.rows[0].versions)
  assert.ok(migrations.rows[0].n >= 3)
  assert.equal(parts.rows[0].n, 4, 'the next three months and DEFAULT')
})

test('a retry that lands on another replica is answered as a replay and stored once', { skip: noPostgres }, async (t) => {
  const url = await freshDatabase('postgres', (fn) => t.after(fn))
  const [a, b] = await Promise.all([startDataStorageServer({ database: url, logger: silentLogger }), startDataStorageServer({ database: url, logger: silentLogger })])
  t.after(() => Promise.all([a!.close(), b!.close()]).then(() => {}))
  const cid = randomUUID()
  const body = JSON.stringify([event(cid, 0), event(cid, 1)])
  const post = async (base: string, key: string) => {
    const res = await request(base + BATCH, { method: 'POST', body, headers: { 'content-type': 'application/json', 'idempotency-key': key } })
    return { status: res.statusCode, replayed: res.headers['idempotent-replayed'], body: await res.body.json() }
  }
  const first = await post(a!.url, 'k1')
  const retry = await post(b!.url, 'k1')
  assert.equal(first.status, 201)
  assert.equal(retry.status, 201)
  assert.equal(retry.replayed, 'true')
  assert.deepEqual(retry.body, first.body)
  // The same key sent to both at once: one stores, the other waits and replays.
  const both = await Promise.all([post(a!.url, 'k2'), post(b!.url, 'k2')])
  assert.deepEqual(both.map((r) => r.status), [201, 201])
  assert.equal(both.filter((r) => r.replayed === 'true').length, 1)
  const check = new pg.Client({ connectionString: url })
  await check.connect()
  const { rows } = await check.query('SELECT count(*)::int AS n FROM audit_events WHERE correlation_id = $1', [cid])
  await check.end()
  assert.equal(rows[0].n, 4)
})

test('retentionMonths below 1 is refused', async () => {
  const { InvalidOptionError } = await import('../../lib/errors.js')
  await assert.rejects(startDataStorageServer({ retentionMonths: 0 }), InvalidOptionError)
})

test('retention on the last days of a month keeps the previous month until a whole month has passed since its end', async (t) => {
  const db = await openDatabase('memory://')
  t.after(() => db.close())
  await migrate(db)
  await maintainPartitions(db, new Date('2026-01-15T00:00:00Z'))
  // February 2026 ended on March 1: one month after that is April 1, not March 29 (setUTCMonth made March 31 minus a month March 3).
  assert.deepEqual((await maintainPartitions(db, new Date('2026-03-29T12:00:00Z'), 1)).dropped, ['audit_events_y2026m01'])
  assert.deepEqual((await maintainPartitions(db, new Date('2026-03-31T23:59:59Z'), 1)).dropped, [])
  assert.ok((await partitions(db)).includes('audit_events_y2026m02'))
  assert.deepEqual((await maintainPartitions(db, new Date('2026-04-01T00:00:00Z'), 1)).dropped, ['audit_events_y2026m02'])
})
