/**
 * Monthly partitions of `audit_events`, as kubernaut's DataStorage keeps
 * them: range partitions on `event_timestamp`, one per calendar month in UTC,
 * named `audit_events_yYYYYmMM`, and a DEFAULT partition that takes an event
 * for a month no partition covers, so that no event is ever refused.
 *
 * Order of operations when a month gets its partition while the DEFAULT
 * partition already holds rows of that month (PostgreSQL refuses to create a
 * partition whose range the DEFAULT partition has rows in): in one
 * transaction, under the partition lock, (1) lock `audit_events` so that no
 * insert lands in between, (2) delete the month's rows from the DEFAULT
 * partition into a temporary table, (3) create the partition, (4) insert the
 * rows back through the parent. Either all of it commits or none of it.
 *
 * Every replica runs the same maintenance on start and daily; the advisory
 * lock makes them take turns, and each step is a no-op once done.
 */
import type { Database, SqlClient } from './database.js'

/** A month in UTC: `month` is 1 to 12. @internal */
export interface Month {
  readonly year: number
  readonly month: number
}

/** What one maintenance pass did. @internal */
export interface PartitionMaintenance {
  /** Partitions created (names). */
  readonly created: string[]
  /** Partitions dropped by retention (names). */
  readonly dropped: string[]
  /** Rows deleted by retention from the DEFAULT partition. */
  readonly deletedRows: number
}

/** Months ahead of the current one that get their partition in advance. */
export const MONTHS_AHEAD = 2

// An arbitrary constant, distinct from the migration lock: the advisory lock id of partition maintenance.
const PARTITION_LOCK = 7_215_530_118

const NAME = /^audit_events_y(\d{4,})m(\d{2})$/

/** The partition's name for `m`. @internal */
export function partitionName (m: Month): string {
  return `audit_events_y${String(m.year).padStart(4, '0')}m${String(m.month).padStart(2, '0')}`
}

/** `m` plus `n` months (n may be negative). @internal */
export function addMonths (m: Month, n: number): Month {
  const index = m.year * 12 + (m.month - 1) + n
  return { year: Math.floor(index / 12), month: (index % 12) + 1 }
}

/** The UTC month of `date`. @internal */
export function monthOf (date: Date): Month {
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1 }
}

// A timestamptz literal of the month's first instant, in UTC: the text is ours, never user input.
function bound (m: Month): string {
  return `${String(m.year).padStart(4, '0')}-${String(m.month).padStart(2, '0')}-01 00:00:00+00`
}

// The month's first instant in ms; setUTCFullYear, unlike Date.UTC, keeps years 0 to 99 as they are.
function startOf (m: Month): number {
  const d = new Date(0)
  d.setUTCFullYear(m.year, m.month - 1, 1)
  return d.getTime()
}

/**
 * `now` minus `n` calendar months, on the same day clamped to the target
 * month's last (setUTCMonth would make March 31 minus one month March 3).
 * @internal
 */
export function monthsBefore (now: Date, n: number): Date {
  const target = addMonths(monthOf(now), -n)
  const lastDay = new Date(startOf(addMonths(target, 1)) - 86_400_000).getUTCDate()
  const d = new Date(now)
  d.setUTCFullYear(target.year, target.month - 1, Math.min(now.getUTCDate(), lastDay))
  return d
}

/**
 * Creates the partition of month `m` unless it exists, moving the month's
 * rows out of the DEFAULT partition first. Runs inside `tx`. Returns whether
 * it created one.
 * @internal
 */
export async function createPartition (tx: SqlClient, m: Month, parent = 'audit_events', defaultPartition = 'audit_events_default'): Promise<boolean> {
  const name = partitionName(m)
  const exists = await tx.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [name])
  if (exists.rows[0]?.oid !== null && exists.rows[0]?.oid !== undefined) return false
  const from = bound(m)
  const to = bound(addMonths(m, 1))
  const stray = await tx.query(`SELECT 1 FROM ${defaultPartition} WHERE event_timestamp >= '${from}' AND event_timestamp < '${to}' LIMIT 1`)
  if (stray.rows.length === 0) {
    await tx.query(`CREATE TABLE ${name} PARTITION OF ${parent} FOR VALUES FROM ('${from}') TO ('${to}')`)
    return true
  }
  await tx.query(`LOCK TABLE ${parent} IN ACCESS EXCLUSIVE MODE`)
  await tx.query(`CREATE TEMPORARY TABLE audit_events_moving ON COMMIT DROP AS
    WITH moved AS (DELETE FROM ${defaultPartition} WHERE event_timestamp >= '${from}' AND event_timestamp < '${to}' RETURNING *)
    SELECT * FROM moved`)
  await tx.query(`CREATE TABLE ${name} PARTITION OF ${parent} FOR VALUES FROM ('${from}') TO ('${to}')`)
  await tx.query(`INSERT INTO ${parent} (${MOVED_COLUMNS}) SELECT ${MOVED_COLUMNS} FROM audit_events_moving`)
  await tx.query('DROP TABLE audit_events_moving')
  return true
}

/** Every column of migration 3's table but the generated `event_date`, for moving its rows. @internal */
export const STORED_COLUMNS = 'event_id, seq, version, event_type, event_timestamp, event_category, event_action, event_outcome, ' +
  'correlation_id, event_data, actor_type, actor_id, actor_ip, resource_type, resource_id, parent_event_id, namespace, ' +
  'cluster_id, severity, duration_ms, error_code, error_message, retention_days, is_sensitive, parent_event_date'

// What moving rows between partitions keeps: STORED_COLUMNS and the lane columns of migration 5. Only the
// schema as migrated to the end moves rows (migration 3 creates partitions while its DEFAULT partition is empty).
const MOVED_COLUMNS = `${STORED_COLUMNS}, producer_id, lane, lane_seq, raw, chain_hash`

/**
 * One maintenance pass: partitions for the month of `now` and the
 * {@link MONTHS_AHEAD} after it; with `retentionMonths`, drops every
 * partition whose whole range ends at or before `now` minus that many months,
 * and deletes the DEFAULT partition's rows older than that.
 * @internal
 */
export async function maintainPartitions (db: Database, now: Date, retentionMonths?: number): Promise<PartitionMaintenance> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK])
    const created: string[] = []
    const current = monthOf(now)
    for (let ahead = 0; ahead <= MONTHS_AHEAD; ahead++) {
      const m = addMonths(current, ahead)
      if (await createPartition(tx, m)) created.push(partitionName(m))
    }
    const dropped: string[] = []
    let deletedRows = 0
    if (retentionMonths !== undefined) {
      const cutoff = monthsBefore(now, retentionMonths)
      const { rows } = await tx.query<{ name: string }>(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass"
      )
      for (const { name } of rows) {
        const match = NAME.exec(name)
        if (match === null) continue
        const end = addMonths({ year: Number(match[1]), month: Number(match[2]) }, 1)
        if (startOf(end) <= cutoff.getTime()) {
          await tx.query(`DROP TABLE ${name}`)
          dropped.push(name)
        }
      }
      const deleted = await tx.query<{ n: number }>(
        'WITH d AS (DELETE FROM audit_events_default WHERE event_timestamp < $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [cutoff.toISOString()]
      )
      deletedRows = Number(deleted.rows[0]?.n ?? 0)
    }
    return { created, dropped: dropped.sort(), deletedRows }
  })
}
