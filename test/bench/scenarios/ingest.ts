/**
 * 9. Ingest: the reference server's write path against its engine's own, in
 * batches of 1000 events of ~550 B. Each repetition of each contender is
 * checked to have stored exactly the rows it sent.
 * - PostgreSQL (needs DATABASE_URL; a database of its own, truncated before
 *   each repetition): a direct pg `COPY … FROM STDIN` of rows encoded
 *   beforehand, one COPY per batch on one connection (what PostgreSQL takes
 *   with nothing in between); the repository's two paths in this process
 *   (`COPY`, and `INSERT … jsonb_to_recordset`); the server over HTTP (an
 *   `audit-stream serve` child; bodies serialized beforehand and POSTed two
 *   at a time, each with an idempotency key, as DataStorageSink sends them).
 * - PGlite in memory and in a directory, each repetition on a fresh database
 *   (opened, or a new `serve` child started, outside the timing): a direct
 *   `COPY … FROM '/dev/blob'` of rows encoded beforehand (the engine's own
 *   limit), the repository's paths in this process, and the server over HTTP.
 * - `npm start`: the quickstart's wall time as a child process, start-up
 *   included (QUICKSTART_EVENTS = 100 000, scaled by BENCH_SCALE).
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { Pool } from 'undici'
import type { AuditEvent } from '../../../lib/index.js'
import { AuditRepository, type IngestMethod } from '../../../lib/server/audit-repository.js'
import type { Database } from '../../../lib/server/database.js'
import { openDatabase } from '../../../lib/server/open-database.js'
import { migrate } from '../../../lib/server/migrations.js'
import { maintainPartitions } from '../../../lib/server/partitions.js'
import { scaled, type Row } from '../common.js'
import { makeEvents, meanBytes } from '../events.js'
import { compare, spread, type Contender, type Measured } from '../harness.js'
import { ROOT, noPostgres, startServe, stop, withDatabase } from '../servers.js'

const SCENARIO = '9. ingest'
const BATCH = 1000
const PATH = '/api/v1/audit/events/batch'
const PGLITE_GOAL = 25_000
const NPM_START_GOAL_S = 3

type Where = 'memory' | 'disk'

// The table's columns after event_id, in COPY order. Written out here rather
// than taken from the server: the baseline must not move with the code it judges.
const COLUMNS = ['version', 'event_type', 'event_timestamp', 'event_category', 'event_action', 'event_outcome', 'correlation_id', 'event_data',
  'actor_type', 'actor_id', 'actor_ip', 'resource_type', 'resource_id', 'parent_event_id', 'namespace', 'cluster_id', 'severity',
  'duration_ms', 'error_code', 'error_message', 'retention_days', 'is_sensitive', 'parent_event_date']
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

const COPY_TARGET = `audit_events (event_id, ${COLUMNS.join(', ')})`

/** A batch in COPY's text format, with fresh event ids. */
function copyRows (events: readonly AuditEvent[]): string {
  const lines = events.map((event) => [randomUUID(), ...COLUMNS.map((name) => {
    const value = (event as Record<string, unknown>)[name]
    if (value === undefined || value === null) return '\\N'
    return (typeof value === 'object' ? JSON.stringify(value) : String(value)).replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!)
  })].join('\t'))
  return lines.join('\n') + '\n'
}

function batchesOf (events: readonly AuditEvent[], total: number): AuditEvent[][] {
  const batches: AuditEvent[][] = []
  for (let i = 0; i < total; i += BATCH) batches.push(Array.from({ length: Math.min(BATCH, total - i) }, (_, j) => events[(i + j) % events.length]!))
  return batches
}

const rate = (total: number, started: number): number => total / ((performance.now() - started) / 1000)

function checkStored (who: string, stored: number, total: number): void {
  if (stored !== total) throw new Error(`ingest: ${who} stored ${stored} rows of ${total}`)
}

/** POSTs every body to the server, `inFlight` at a time; events/s. */
async function postAll (url: string, bodies: readonly string[], total: number, inFlight = 2): Promise<number> {
  const pool = new Pool(url, { connections: inFlight })
  try {
    let next = 0
    const started = performance.now()
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!
        const res = await pool.request({ path: PATH, method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() }, body })
        await res.body.dump()
        if (res.statusCode !== 201) throw new Error(`ingest: the server answered ${res.statusCode}`)
      }
    }))
    return rate(total, started)
  } finally {
    await pool.close()
  }
}

/** The number of events the server at `url` holds. */
async function countOver (url: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/audit/events?limit=1`)
  const { pagination } = await res.json() as { pagination: { total: number } }
  return pagination.total
}

/** The repository's `method` storing every batch, one idempotency key each; events/s. */
async function viaRepository (db: Database, method: IngestMethod, batches: readonly AuditEvent[][], total: number): Promise<number> {
  const repo = new AuditRepository(db, method)
  const started = performance.now()
  for (const batch of batches) await repo.insert(batch, randomUUID(), 'h', (ids) => ({ statusCode: 201, body: { event_ids: ids } }))
  return rate(total, started)
}

async function countIn (db: Database): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events')
  return rows[0]!.n
}

async function freshSchema (db: Database): Promise<void> {
  await migrate(db)
  await maintainPartitions(db, new Date())
}

function row (m: Measured, unit: string, extra: Partial<Row> = {}): Row {
  return { scenario: SCENARIO, contender: m.name, unit, median: m.median, spread: spread(m), ...extra }
}

async function postgres (reps: number, events: AuditEvent[]): Promise<Row[]> {
  const skipped = noPostgres()
  if (skipped !== undefined) {
    process.stderr.write(`ingest: PostgreSQL rows ${skipped}\n`)
    return [{ scenario: SCENARIO, contender: 'PostgreSQL', unit: 'events/s', median: 0, spread: '', note: skipped }]
  }
  const total = scaled(50_000)
  const batches = batchesOf(events, total)
  const bodies = batches.map((batch) => JSON.stringify(batch))
  const copies = batches.map((batch) => Buffer.from(copyRows(batch)))
  return withDatabase(async (url) => {
    const db = await openDatabase(url)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const server = await startServe(url)
    try {
      await freshSchema(db)
      const truncate = async (): Promise<void> => { await client.query('TRUNCATE audit_events, idempotency_keys') }
      const count = async (): Promise<number> => Number((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events')).rows[0]!.n)
      const checked = (name: string, run: () => Promise<number>): Contender => ({
        name,
        run: async () => {
          await truncate()
          const value = await run()
          checkStored(name, await count(), total)
          return value
        }
      })
      const [direct, copy, insert, http] = await compare([
        checked('PostgreSQL: direct pg COPY FROM STDIN', async () => {
          const started = performance.now()
          for (const text of copies) await pipeline(Readable.from([text]), client.query(copyFrom(`COPY ${COPY_TARGET} FROM STDIN`)))
          return rate(total, started)
        }),
        checked('PostgreSQL: repository COPY', () => viaRepository(db, 'copy', batches, total)),
        checked('PostgreSQL: repository INSERT jsonb_to_recordset', () => viaRepository(db, 'insert', batches, total)),
        checked('PostgreSQL: reference server over HTTP', () => postAll(server.url, bodies, total))
      ], { reps, warmup: 1 })
      const against = (m: Measured): number => m.median / direct!.median
      return [
        row(direct!, 'events/s', { note: `${total} events of ${Math.round(meanBytes(events))} B in batches of ${BATCH}; COPY text encoded before timing` }),
        row(copy!, 'events/s', { ratio: { against: 'direct COPY', value: against(copy!), target: 'informational', met: true } }),
        row(insert!, 'events/s', { ratio: { against: 'direct COPY', value: against(insert!), target: 'informational', met: true } }),
        row(http!, 'events/s', { ratio: { against: 'direct COPY', value: against(http!), target: '>= 0.8', met: against(http!) >= 0.8 }, note: 'an audit-stream serve child; two batches in flight, each with an idempotency key' })
      ]
    } finally {
      await stop(server.child)
      await client.end()
      await db.close()
    }
  })
}

async function pglite (reps: number, events: AuditEvent[]): Promise<Row[]> {
  const total = scaled(50_000)
  const batches = batchesOf(events, total)
  const bodies = batches.map((batch) => JSON.stringify(batch))
  const copies = batches.map(copyRows)
  const label = (where: Where): string => `PGlite ${where === 'memory' ? 'memory://' : 'on disk'}`
  // A fresh database each repetition: memory://, or a new directory removed afterwards.
  const withLocation = async (where: Where, run: (location: string) => Promise<number>): Promise<number> => {
    const dir = where === 'disk' ? mkdtempSync(join(tmpdir(), 'bench-ingest-')) : undefined
    try {
      return await run(dir ?? 'memory://')
    } finally {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    }
  }
  const inProcess = (where: Where, name: string, run: (db: Database) => Promise<number>): Contender => ({
    name: `${label(where)}: ${name}`,
    run: () => withLocation(where, async (location) => {
      const db = await openDatabase(location)
      try {
        await freshSchema(db)
        const value = await run(db)
        checkStored(`${label(where)}: ${name}`, await countIn(db), total)
        return value
      } finally {
        await db.close()
      }
    })
  })
  const direct = (where: Where): Contender => inProcess(where, "direct COPY FROM '/dev/blob'", async (db) => {
    const started = performance.now()
    for (const text of copies) await db.transaction(async (tx) => { await tx.copyFrom!(COPY_TARGET, [text]) })
    return rate(total, started)
  })
  const repository = (where: Where, method: IngestMethod): Contender =>
    inProcess(where, `repository ${method === 'copy' ? 'COPY' : 'INSERT jsonb_to_recordset'}`, (db) => viaRepository(db, method, batches, total))
  const http = (where: Where): Contender => ({
    name: `${label(where)}: reference server over HTTP`,
    run: () => withLocation(where, async (location) => {
      const server = await startServe(location)
      try {
        const value = await postAll(server.url, bodies, total)
        checkStored(`${label(where)}: reference server`, await countOver(server.url), total)
        return value
      } finally {
        await stop(server.child)
      }
    })
  })
  const [memDirect, memCopy, memInsert, memHttp, diskDirect, diskHttp] = await compare(
    [direct('memory'), repository('memory', 'copy'), repository('memory', 'insert'), http('memory'), direct('disk'), http('disk')], { reps, warmup: 1 })
  const against = (m: Measured, floor: Measured): NonNullable<Row['ratio']> => ({ against: 'direct COPY', value: m.median / floor.median, target: 'informational', met: true })
  return [
    row(memDirect!, 'events/s', { note: `${total} events in batches of ${BATCH}, each repetition on a fresh database; COPY text encoded before timing` }),
    row(memCopy!, 'events/s', { ratio: against(memCopy!, memDirect!) }),
    row(memInsert!, 'events/s', { ratio: against(memInsert!, memDirect!) }),
    row(memHttp!, 'events/s', {
      ratio: { against: `${PGLITE_GOAL.toLocaleString('en-US')} events/s`, value: memHttp!.median / PGLITE_GOAL, target: '>= 1', met: memHttp!.median >= PGLITE_GOAL },
      note: `${(memHttp!.median / memDirect!.median).toFixed(2)}x the direct COPY in memory; an audit-stream serve child`
    }),
    row(diskDirect!, 'events/s', { ratio: { against: 'direct COPY in memory', value: diskDirect!.median / memDirect!.median, target: 'informational', met: true } }),
    row(diskHttp!, 'events/s', { ratio: against(diskHttp!, diskDirect!) })
  ]
}

/** `npm start` run to its end; seconds, and the quickstart's own figure for its pipeline. */
async function npmStart (events: number): Promise<{ seconds: number, pipelineMs: number }> {
  // Under `npm run bench`, npm_execpath is the npm that runs us.
  const npm = process.env.npm_execpath
  const [command, args] = npm !== undefined && npm !== '' ? [process.execPath, [npm, 'start']] : ['npm', ['start']]
  const started = performance.now()
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, QUICKSTART_EVENTS: String(events) }, stdio: ['ignore', 'pipe', 'ignore'] })
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  const seconds = (performance.now() - started) / 1000
  if (code !== 0 || !new RegExp(`: ${events} of ${events} events`).test(stdout)) throw new Error(`ingest: npm start exited with ${code}: ${stdout.slice(-500)}`)
  return { seconds, pipelineMs: Number(/\((\d+) ms\)/.exec(stdout)?.[1] ?? Number.NaN) }
}

async function quickstart (reps: number): Promise<Row[]> {
  const events = scaled(100_000)
  const pipelineMs: number[] = []
  const [m] = await compare([{
    name: `npm start (QUICKSTART_EVENTS=${events})`,
    run: async () => {
      const run = await npmStart(events)
      pipelineMs.push(run.pipelineMs)
      return run.seconds
    }
  }], { reps, warmup: 1 })
  const sorted = pipelineMs.slice(1).sort((a, b) => a - b)
  return [row(m!, 's', {
    ratio: { against: `${NPM_START_GOAL_S} s`, value: m!.median / NPM_START_GOAL_S, target: '<= 1', met: m!.median <= NPM_START_GOAL_S },
    note: `wall time of the child process; of it, record() to flush() took ${Math.round(sorted[sorted.length >> 1]!)} ms (median, the quickstart's own figure)`
  })]
}

export async function ingest (reps: number): Promise<Row[]> {
  const events = makeEvents(5_000, 500)
  return [...await postgres(reps, events), ...await pglite(reps, events), ...await quickstart(reps)]
}
