/**
 * Choosing and loading a database engine for a location. The engines are
 * loaded with `import()` only when used, so neither optional driver is
 * needed by a process that does not open that kind of database.
 */
import { MissingPeerError } from '../errors.js'
import type { Database } from './database.js'

/**
 * Opens `memory://` (PGlite in memory), a `postgres://` or `postgresql://`
 * URL (PostgreSQL through pg), or a directory path (PGlite on disk). The
 * engines are imported only when used: both drivers are optional peer
 * dependencies, and a missing one is a {@link MissingPeerError}.
 * @internal
 */
export async function openDatabase (location: string): Promise<Database> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    const { PostgresDatabase } = await importDriver('pg', () => import('./postgres-database.js'))
    return PostgresDatabase.open(location)
  }
  const { PgliteDatabase } = await importDriver('@electric-sql/pglite', () => import('./pglite-database.js'))
  return PgliteDatabase.open(location === 'memory://' ? undefined : location)
}

// Only the driver's own absence becomes a MissingPeerError; any other failure is rethrown as it is.
async function importDriver<T> (packageName: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (err) {
    const e = err as { code?: unknown, message?: unknown }
    const notFound = e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND'
    if (notFound && typeof e.message === 'string' && e.message.includes(`'${packageName}'`)) {
      throw new MissingPeerError(packageName, 'startDataStorageServer', { cause: err })
    }
    throw err
  }
}
