/**
 * The reference server's schema. Migrations run at start, in order, each
 * once, under an advisory lock so that two servers starting together on one
 * PostgreSQL database do not race.
 */
import type { Database } from './database.js'

// Append only: a migration that has run is never edited.
const MIGRATIONS: readonly string[] = [
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
  // A trail in timeline order, for the trail browser's pages, export and histogram of one correlation id.
  'CREATE INDEX IF NOT EXISTS audit_events_correlation_timeline_idx ON audit_events (correlation_id, event_timestamp, seq)'
]

// An arbitrary constant: the advisory lock id of this schema.
const MIGRATION_LOCK = 7_215_530_117

/**
 * Brings the schema up to date. Idempotent.
 * @internal
 */
export async function migrate (db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await tx.query('CREATE TABLE IF NOT EXISTS audit_stream_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
    const { rows } = await tx.query<{ version: number }>('SELECT coalesce(max(version), 0)::int AS version FROM audit_stream_migrations')
    for (let version = (rows[0]?.version ?? 0) + 1; version <= MIGRATIONS.length; version++) {
      for (const statement of MIGRATIONS[version - 1]!.split(';').map((s) => s.trim()).filter(Boolean)) await tx.query(statement)
      await tx.query('INSERT INTO audit_stream_migrations (version) VALUES ($1)', [version])
    }
  })
}
