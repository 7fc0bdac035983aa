/**
 * audit-stream/server: the reference DataStorage server, for local
 * development, examples and integration tests. Its database drivers are
 * optional peer dependencies: `@electric-sql/pglite` for `memory://` and
 * directories, `pg` for `postgres://` URLs.
 *
 * @packageDocumentation
 */
export { startDataStorageServer } from './datastorage-server.js'
export type { DataStorageServer } from './datastorage-server.js'
export type { DataStorageServerOptions } from './server-options.js'
export { InvalidOptionError, MissingPeerError } from '../errors.js'
