/**
 * The database engines a storage test runs on: PGlite always, PostgreSQL when
 * DATABASE_URL is set (.ci/run starts one), skipped with the reason otherwise.
 */

/** Why a PostgreSQL test is skipped here, or undefined when DATABASE_URL names a database. */
export const noPostgres = process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '' ? 'DATABASE_URL is not set (.ci/run starts PostgreSQL; see README)' : undefined

/** PGlite in memory and PostgreSQL at DATABASE_URL; `database` is undefined only on a skipped engine. */
export const engines = [
  { name: 'PGlite', database: 'memory://' as string | undefined, skip: undefined as string | undefined },
  { name: 'PostgreSQL', database: process.env.DATABASE_URL, skip: noPostgres }
]
