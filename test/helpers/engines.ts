/**
 * The database engines a storage test runs on: PGlite always, PostgreSQL when
 * DATABASE_URL is set (.ci/run starts one), skipped with the reason otherwise.
 */
export const engines = [
  { name: 'PGlite', database: 'memory://' as string | undefined, skip: undefined as string | undefined },
  {
    name: 'PostgreSQL',
    database: process.env.DATABASE_URL,
    skip: process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '' ? 'DATABASE_URL is not set (.ci/run starts PostgreSQL; see README)' : undefined
  }
]
