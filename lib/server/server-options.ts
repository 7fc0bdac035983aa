/**
 * The reference server's options and their resolver. Resolving builds what
 * the server checks with: the event schema compiled from option `openapi`
 * (unknown top-level fields accepted, as the DataStorage service does) and
 * the trusted trail keys as public KeyObjects, so that a bad document or key
 * fails at start, not at the first request.
 */
import type { KeyObject } from 'node:crypto'
import type { Logger } from 'pino'
import { publicKeyOf } from '../chain/note-signature.js'
import { InvalidOptionError } from '../errors.js'
import type { CompiledEventSchema } from '../event/compiled-event-schema.js'
import { compileEventSchema } from '../event/event-validator.js'
import type { OpenApiDocument } from '../event/openapi-document.js'
import { integerOption, loggerOption, objectOption } from '../options/checks.js'
import { DEFAULTS } from '../options/defaults.js'

/**
 * Options of {@link startDataStorageServer}.
 *
 * @example
 * ```ts
 * await startDataStorageServer({ port: 8080, database: './audit-data', token: process.env.TOKEN })
 * ```
 */
export interface DataStorageServerOptions {
  /**
   * TCP port; 0 picks a free one.
   * @default 0
   */
  readonly port?: number
  /**
   * Address to listen on.
   * @default '127.0.0.1'
   */
  readonly host?: string
  /**
   * `'memory://'` (PGlite in memory), a directory (PGlite persisted there) or a
   * `postgres://` URL (a real PostgreSQL server). A fresh in-memory database
   * runs initdb; from its third one on, a process starts them from a copy of
   * the second one's fresh data directory, several times faster, each still a
   * database of its own.
   * @default 'memory://'
   */
  readonly database?: string
  /**
   * When set, every request except the health endpoints must carry
   * `authorization: Bearer <token>`, checked before routing (an unknown path gets 401, not 404).
   * @default none
   */
  readonly token?: string
  /**
   * Largest request body, counted after gzip decoding, in bytes.
   * @default 8388608 (8 MiB)
   * Range: integer >= 1024.
   */
  readonly bodyLimitBytes?: number
  /**
   * Most events in one `POST /api/v1/audit/events/batch`; a longer batch gets 413.
   * @default 10000
   * Range: integer 1 to 1000000.
   */
  readonly maxBatchItems?: number
  /**
   * How long `close()` keeps serving after it begins, with `/health/ready`
   * answering 503, so that a load balancer stops sending requests before the
   * server stops accepting them, in milliseconds.
   * @default 0
   * Range: integer 0 to 600000.
   */
  readonly drainDelayMs?: number
  /**
   * Whether to serve the trail browser page at `/ui` (the page itself needs no
   * token; the data it reads does).
   * @default true
   */
  readonly ui?: boolean
  /**
   * Retention of stored events, in whole months: on start and daily, every
   * monthly partition of `audit_events` whose range ended more than this
   * many months ago is dropped (and the DEFAULT partition's rows older than
   * that are deleted), logged with the partitions' names and counts.
   * @default none: keep everything
   * Range: integer 1 to 1200.
   */
  readonly retentionMonths?: number
  /**
   * The logger.
   * @default pino at level `warn` on stderr
   */
  readonly logger?: Logger
  /**
   * The event schema: an OpenAPI 3.0 document (parsed, or the path of a
   * `.yaml`/`.json` file) whose `AuditEventRequest` and everything it
   * references, such as kubernaut's typed `event_data` payloads, is compiled
   * with ajv; unknown top-level fields are accepted and ignored, as the
   * DataStorage service does. Without one, the generic schema (`AuditEventSchema` of the main entry).
   * Either way, what PostgreSQL cannot store is refused too.
   * @default the generic schema
   */
  readonly openapi?: OpenApiDocument | string
  /**
   * The Ed25519 public keys (KeyObjects or SPKI PEM text) whose signatures
   * the server trusts on checkpoints and skips (`POST /api/v1/audit/checkpoints`)
   * and checks in `GET /api/v1/audit/verify`. When given, every note must be
   * signed by one of them (else 422). Without them, a producer's first signed
   * note pins the key it sends, and later notes must verify with that key.
   * @default none: each producer's key is pinned by its first signed note
   */
  readonly trailPublicKeys?: ReadonlyArray<KeyObject | string>
}

/** Server options with every default applied. @internal */
export interface ResolvedServerOptions {
  readonly port: number
  readonly host: string
  readonly database: string
  readonly token: string | undefined
  readonly bodyLimitBytes: number
  readonly maxBatchItems: number
  readonly drainDelayMs: number
  readonly ui: boolean
  readonly retentionMonths: number | undefined
  readonly logger: Logger | undefined
  readonly eventSchema: CompiledEventSchema
  readonly trailPublicKeys: readonly KeyObject[]
}

/**
 * Applies the server defaults and validates.
 * @internal
 * @throws {@link InvalidOptionError} naming the first bad option
 */
export function resolveServerOptions (input: unknown): ResolvedServerOptions {
  const o = objectOption('options', input)
  const d = DEFAULTS.server
  const host = o.host ?? d.host
  if (typeof host !== 'string' || host === '') throw new InvalidOptionError('host', 'a host name or address', host)
  const database = o.database ?? d.database
  if (typeof database !== 'string' || database === '') throw new InvalidOptionError('database', "'memory://', a directory or a postgres:// URL", database)
  const token = o.token
  if (token !== undefined && (typeof token !== 'string' || token === '')) throw new InvalidOptionError('token', 'a non-empty string', token)
  const ui = o.ui ?? d.ui
  if (typeof ui !== 'boolean') throw new InvalidOptionError('ui', 'a boolean', ui)
  return {
    port: integerOption('port', o.port, d.port, 0, 65_535),
    host,
    database,
    token,
    bodyLimitBytes: integerOption('bodyLimitBytes', o.bodyLimitBytes, d.bodyLimitBytes, 1024),
    maxBatchItems: integerOption('maxBatchItems', o.maxBatchItems, d.maxBatchItems, 1, 1_000_000),
    drainDelayMs: integerOption('drainDelayMs', o.drainDelayMs, d.drainDelayMs, 0, 600_000),
    retentionMonths: o.retentionMonths === undefined ? undefined : integerOption('retentionMonths', o.retentionMonths, 0, 1, 1200),
    logger: loggerOption('logger', o.logger),
    eventSchema: compileEventSchema(o.openapi, true),
    trailPublicKeys: publicKeysOption('trailPublicKeys', o.trailPublicKeys),
    ui
  }
}

// Ed25519 public keys (a private key is taken for its public half); none when absent.
function publicKeysOption (name: string, value: unknown): KeyObject[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new InvalidOptionError(name, 'an array of Ed25519 public keys (KeyObject or PEM)', value)
  return value.map((key: unknown) => {
    try {
      return publicKeyOf(key as KeyObject | string)
    } catch (err) {
      throw new InvalidOptionError(name, 'an array of Ed25519 public keys (KeyObject or PEM)', value, { cause: err })
    }
  })
}
