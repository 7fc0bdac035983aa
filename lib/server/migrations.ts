/**
 * The reference server's schema. Migrations run at start, in order, each
 * once, under an advisory lock so that two servers starting together on one
 * PostgreSQL database do not race.
 */
import type { Database, SqlClient } from './database.js'
import { STORED_COLUMNS, createPartition } from './partitions.js'

// Append only: a migration that has run is never edited. A string is SQL
// statements separated by ';'; a function runs in the migration's transaction.
const MIGRATIONS: ReadonlyArray<string | ((tx: SqlClient) => Promise<void>)> = [
  `CREATE TABLE IF NOT EXISTS audit_events (
     event_id uuid PRIMARY KEY,
     seq bigint GENERATED ALWAYS AS IDENTITY,
     event_date date NOT NULL,
     version text NOT NULL,
     event_type text NOT NULL,
     event_timestamp timestamptz NOT NULL,
     event_category text NOT NULL,
     event_action text NOT NULL,
     event_outcome text NOT NULL,
     correlation_id text NOT NULL,
     event_data jsonb NOT NULL,
     actor_type text,
     actor_id text,
     actor_ip text,
     resource_type text,
     resource_id text,
     parent_event_id uuid,
     namespace text,
     cluster_id text,
     severity text,
     duration_ms integer,
     error_code text,
     error_message text,
     retention_days integer,
     is_sensitive boolean
   );
   CREATE INDEX IF NOT EXISTS audit_events_correlation_id_idx ON audit_events (correlation_id);
   CREATE INDEX IF NOT EXISTS audit_events_event_timestamp_idx ON audit_events (event_timestamp, seq);
   CREATE TABLE IF NOT EXISTS idempotency_keys (
     key text PRIMARY KEY,
     request_hash text NOT NULL,
     status_code integer NOT NULL,
     response jsonb NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX IF NOT EXISTS idempotency_keys_created_at_idx ON idempotency_keys (created_at);`,
  // 2: the parent event's timestamp, which comes with parent_event_id (kubernaut's AuditEventRequest).
  'ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS parent_event_date timestamptz',
  // 3: range partitions by month (UTC) on event_timestamp.
  partitionByMonth,
  // 4: a trail in timeline order, for the trail browser's pages, export and histogram of one correlation id.
  'CREATE INDEX IF NOT EXISTS audit_events_correlation_timeline_idx ON audit_events (correlation_id, event_timestamp, seq)',
  // 5: ordered lanes (issue 15). A batch sent with the audit-stream-* headers stores, per row, its lane position,
  // the exact JSON text received and the client's chain hash; other rows leave them null, so adding them rewrites
  // nothing. (producer_id, lane, lane_seq) cannot be a unique index on a table partitioned by event_timestamp:
  // the row lock on trail_lanes keeps it unique instead. trail_notes keeps checkpoints and skips, unique on the
  // note's text hash (a btree entry cannot hold a long text); trail_producers the key pinned by a producer's first signed note.
  `ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS producer_id uuid, ADD COLUMN IF NOT EXISTS lane integer,
     ADD COLUMN IF NOT EXISTS lane_seq bigint, ADD COLUMN IF NOT EXISTS raw text, ADD COLUMN IF NOT EXISTS chain_hash bytea;
   CREATE INDEX IF NOT EXISTS audit_events_lane_seq_idx ON audit_events (producer_id, lane, lane_seq);
   CREATE TABLE IF NOT EXISTS trail_lanes (
     producer_id uuid NOT NULL,
     lane integer NOT NULL CHECK (lane >= 0),
     last_seq bigint NOT NULL CHECK (last_seq >= 0),
     head bytea NOT NULL CHECK (length(head) = 32),
     PRIMARY KEY (producer_id, lane)
   );
   CREATE TABLE IF NOT EXISTS trail_notes (
     note_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     producer_id uuid NOT NULL,
     lane integer NOT NULL CHECK (lane >= 0),
     kind text NOT NULL CHECK (kind IN ('checkpoint', 'skip')),
     from_seq bigint,
     seq bigint NOT NULL,
     head bytea NOT NULL CHECK (length(head) = 32),
     text text NOT NULL,
     text_hash bytea NOT NULL,
     received_at timestamptz NOT NULL DEFAULT now(),
     CHECK ((kind = 'skip') = (from_seq IS NOT NULL)),
     UNIQUE (producer_id, lane, kind, seq, text_hash)
   );
   CREATE TABLE IF NOT EXISTS trail_producers (
     producer_id uuid PRIMARY KEY,
     public_key text NOT NULL,
     pinned_at timestamptz NOT NULL DEFAULT now()
   )`
]

/**
 * Migration 3: replaces `audit_events` with a table range-partitioned by
 * month on `event_timestamp`, in the migration's one transaction: create the
 * new table with its DEFAULT partition and one partition per month the
 * existing rows cover, copy the rows (keeping event_id and seq), drop the old
 * table, rename. A partitioned table's primary key must hold the partition
 * key, so it becomes (event_id, event_timestamp); event ids are random UUIDs
 * the server generates, so event_id stays unique in practice. `seq` comes
 * from a sequence (identity columns on partitioned tables need PostgreSQL
 * 17), and `event_date` is generated from event_timestamp, so that COPY can
 * load rows without computing it.
 */
async function partitionByMonth (tx: SqlClient): Promise<void> {
  await tx.query('CREATE SEQUENCE audit_events_seq')
  await tx.query(`CREATE TABLE audit_events_next (
     event_id uuid NOT NULL,
     seq bigint NOT NULL DEFAULT nextval('audit_events_seq'),
     event_date date GENERATED ALWAYS AS ((event_timestamp AT TIME ZONE 'UTC')::date) STORED,
     version text NOT NULL,
     event_type text NOT NULL,
     event_timestamp timestamptz NOT NULL,
     event_category text NOT NULL,
     event_action text NOT NULL,
     event_outcome text NOT NULL,
     correlation_id text NOT NULL,
     event_data jsonb NOT NULL,
     actor_type text,
     actor_id text,
     actor_ip text,
     resource_type text,
     resource_id text,
     parent_event_id uuid,
     namespace text,
     cluster_id text,
     severity text,
     duration_ms integer,
     error_code text,
     error_message text,
     retention_days integer,
     is_sensitive boolean,
     parent_event_date timestamptz,
     PRIMARY KEY (event_id, event_timestamp)
   ) PARTITION BY RANGE (event_timestamp)`)
  await tx.query('CREATE TABLE audit_events_default PARTITION OF audit_events_next DEFAULT')
  const { rows } = await tx.query<{ year: number, month: number }>(
    "SELECT DISTINCT extract(year FROM event_timestamp AT TIME ZONE 'UTC')::int AS year, extract(month FROM event_timestamp AT TIME ZONE 'UTC')::int AS month FROM audit_events"
  )
  for (const m of rows) await createPartition(tx, m, 'audit_events_next', 'audit_events_default')
  await tx.query(`INSERT INTO audit_events_next (${STORED_COLUMNS}) SELECT ${STORED_COLUMNS} FROM audit_events`)
  await tx.query("SELECT setval('audit_events_seq', coalesce((SELECT max(seq) FROM audit_events), 0) + 1, false)")
  await tx.query('DROP TABLE audit_events')
  await tx.query('ALTER TABLE audit_events_next RENAME TO audit_events')
  await tx.query('ALTER SEQUENCE audit_events_seq OWNED BY audit_events.seq')
  await tx.query('CREATE INDEX audit_events_correlation_id_idx ON audit_events (correlation_id)')
  await tx.query('CREATE INDEX audit_events_event_timestamp_idx ON audit_events (event_timestamp, seq)')
}

// An arbitrary constant: the advisory lock id of this schema.
const MIGRATION_LOCK = 7_215_530_117

/**
 * Brings the schema up to date (or up to migration `target`, for tests of a
 * migration). Idempotent.
 * @internal
 */
export async function migrate (db: Database, target = MIGRATIONS.length): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await tx.query('CREATE TABLE IF NOT EXISTS audit_stream_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
    const { rows } = await tx.query<{ version: number }>('SELECT coalesce(max(version), 0)::int AS version FROM audit_stream_migrations')
    for (let version = (rows[0]?.version ?? 0) + 1; version <= target; version++) {
      const migration = MIGRATIONS[version - 1]!
      if (typeof migration === 'function') await migration(tx)
      else for (const statement of migration.split(';').map((s) => s.trim()).filter(Boolean)) await tx.query(statement)
      await tx.query('INSERT INTO audit_stream_migrations (version) VALUES ($1)', [version])
    }
  })
}
