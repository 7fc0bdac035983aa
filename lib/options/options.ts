/**
 * The options of the store, its trail and the reference server, their
 * defaults and their validation.
 */
import type { KeyObject } from 'node:crypto'
import type { Logger } from 'pino'
import type { BatchSink } from '../delivery/batch-sink.js'
import type { DeadLetter } from '../dead-letter/dead-letter.js'
import { NoteSigner, publicKeyOf } from '../chain/signed-note.js'
import { InvalidOptionError } from '../errors.js'
import type { CompiledEventSchema } from '../event/event-validator.js'
import { compileEventSchema, type OpenApiDocument } from '../event/openapi-schema.js'
import { LOWERCASE_UUID } from '../protocol/wire.js'
import { MAX_DELAY_MS, booleanOption, integerOption, loggerOption, objectOption } from './checks.js'
import { DEFAULTS } from './defaults.js'
import { resolveSpoolOptions, type ResolvedSpoolOptions, type SpoolOptions } from './spool.js'

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

/**
 * Options of {@link createAuditStore} and the {@link AuditStore} constructor.
 *
 * @example
 * ```ts
 * const options: AuditStoreOptions = { sink, batchSize: 500, flushIntervalMs: 200, deadLetter }
 * const store = createAuditStore(options)
 * ```
 */
export interface AuditStoreOptions {
  /** Where batches go. Required. A sink serves one store only. */
  readonly sink: BatchSink
  /**
   * Events the store holds before `record()` drops and `write()` asks the producer to wait.
   * Counts events in every stage that are not settled yet.
   * @default 10000
   * Range: integer >= 1.
   */
  readonly bufferSize?: number
  /**
   * Events per batch at most.
   * @default 1000
   * Range: integer >= 1.
   */
  readonly batchSize?: number
  /**
   * Bytes of one batch's JSON array body at most.
   * @default 4194304 (4 MiB)
   * Range: integer >= maxEventBytes + 2.
   */
  readonly maxBatchBytes?: number
  /**
   * Bytes of one serialized event at most; a larger event is invalid.
   * @default 1048576 (1 MiB)
   * Range: integer >= 1.
   */
  readonly maxEventBytes?: number
  /**
   * Longest time a batch waits for more events after its first one, in milliseconds.
   * @default 1000
   * Range: integer >= 1.
   */
  readonly flushIntervalMs?: number
  /**
   * Takes invalid events from the stream and batches that could not be delivered.
   * Without one, such events are counted as lost.
   * @default none
   */
  readonly deadLetter?: DeadLetter
  /**
   * The logger. The store and its stages log through children of it with a `component` field.
   * @default pino at level `warn` on stderr
   */
  readonly logger?: Logger
  /**
   * Longest time `close()` waits for delivery before it aborts sends and dead-letters the rest, in milliseconds.
   * @default 30000
   * Range: integer >= 1.
   */
  readonly closeTimeoutMs?: number
  /**
   * The event schema: an OpenAPI 3.0 document (parsed, or the path of a
   * `.yaml`/`.json` file) whose `AuditEventRequest` and everything it
   * references, such as kubernaut's typed `event_data` payloads, is compiled
   * with ajv. Without one, the generic schema ({@link AuditEventSchema}).
   * Either way, what PostgreSQL cannot store is refused too.
   * @default the generic schema
   */
  readonly openapi?: OpenApiDocument | string
  /**
   * Whether the store flushes by itself when the process is about to exit
   * with events undelivered (on `beforeExit`, bounded by `closeTimeoutMs`).
   * Either way, events still unsettled at `exit` are logged at error level.
   * The hook holds the store weakly: it never keeps a store alive.
   * @default true
   */
  readonly flushOnExit?: boolean
  /**
   * A crash-safe local spool: every accepted event is also appended to disk
   * until it is settled, replayed by the next store on the same directory
   * after a crash, and `persisted()` waits for it. See {@link SpoolOptions}.
   * @default none (events live in memory only until delivered)
   */
  readonly spool?: SpoolOptions
  /**
   * Ordered lanes: an event goes to lane `laneOf(correlation_id, lanes)`
   * (CRC-32 of the id modulo `lanes`), so that every event of one
   * correlation id keeps its order. Each lane numbers its events from 1 and
   * chains their hashes; a batch holds events of one lane only and carries
   * its place in the lane in the `audit-stream-*` request headers. `0` turns
   * lanes off: batches are neither ordered nor chained, and the sink's
   * `concurrency` applies instead of `maxInFlightPerLane`.
   * @default 4
   * Range: integer 0 to 256.
   */
  readonly lanes?: number
  /**
   * Batches of one lane in flight at the same time; the lanes are
   * independent. A batch that arrives at the server ahead of an earlier one
   * of its lane is answered 409 (sequence gap) and sent again once the earlier
   * one settles, without counting as a retry.
   * Order within a lane rests on that answer: against a server that ignores
   * the lane headers, use 1 for strict order. A custom sink gets up to
   * `lanes × maxInFlightPerLane` `sendBatch` calls at once.
   * @default 2
   * Range: integer 1 to 16.
   */
  readonly maxInFlightPerLane?: number
  /**
   * The producer id (a UUID) the lanes belong to. The spool keeps it, so a
   * store that replays a spool goes on with the same producer and lanes; set
   * it only with `spool` (without one, a restarted store would begin every
   * lane at seq 1 again under the same id, which the server refuses).
   * @default the spool's, else a random UUID
   */
  readonly producerId?: string
  /**
   * Signed checkpoints of each lane's chain head: see {@link TrailOptions}.
   * Without it, no checkpoints are made, and skip notes (for ranges that were
   * dead-lettered or lost) are posted unsigned.
   * @default none
   */
  readonly trail?: TrailOptions
}

/**
 * Checkpoints and skips of a store's lanes, signed with an Ed25519 key and
 * written in the C2SP-style note format of `audit-stream verify`.
 *
 * @example
 * ```ts
 * const signingKey = crypto.createPrivateKey(readFileSync('trail-key.pem'))
 * createAuditStore({ url, trail: { signingKey, file: '/var/lib/app/audit.notes' } })
 * ```
 */
export interface TrailOptions {
  /** The Ed25519 private key, as a `KeyObject` or a PKCS#8 PEM string. Required. */
  readonly signingKey: KeyObject | string
  /**
   * The key name on every signature line.
   * @default 'audit-stream'
   */
  readonly keyName?: string
  /**
   * A lane is checkpointed once this many more of its events are settled.
   * @default 1000
   * Range: integer >= 1.
   */
  readonly everyEvents?: number
  /**
   * Every lane whose head moved is checkpointed at this interval, in milliseconds (and at close).
   * @default 10000
   * Range: integer 1 to 2147483647.
   */
  readonly intervalMs?: number
  /**
   * A local file every note (checkpoint and skip) is appended to, kept away
   * from the server's database: `audit-stream verify --checkpoints <file>`
   * then catches a database whose newest events were deleted.
   * @default none
   */
  readonly file?: string
}

/**
 * Options of {@link AuditStore.flush}.
 *
 * @example
 * ```ts
 * await store.flush({ timeoutMs: 5_000, signal: AbortSignal.timeout(10_000) })
 * ```
 */
export interface FlushOptions {
  /** Aborts the wait (not the delivery) with an {@link AbortError}. */
  readonly signal?: AbortSignal
  /**
   * Longest wait, in milliseconds; then the flush rejects with a {@link TimeoutError}.
   * @default no timeout
   */
  readonly timeoutMs?: number
}

/**
 * Options of {@link AuditStore.close}.
 *
 * @example
 * ```ts
 * await store.close({ timeoutMs: 10_000 })
 * ```
 */
export interface CloseOptions {
  /**
   * Overrides the store's `closeTimeoutMs` for this close.
   * @default the store's closeTimeoutMs
   */
  readonly timeoutMs?: number
}

/** Store options with every default applied. @internal */
export interface ResolvedStoreOptions {
  readonly sink: BatchSink
  readonly bufferSize: number
  readonly batchSize: number
  readonly maxBatchBytes: number
  readonly maxEventBytes: number
  readonly flushIntervalMs: number
  readonly deadLetter: DeadLetter | undefined
  readonly logger: Logger | undefined
  readonly closeTimeoutMs: number
  readonly eventSchema: CompiledEventSchema
  readonly flushOnExit: boolean
  readonly spool: ResolvedSpoolOptions | undefined
  readonly lanes: number
  readonly maxInFlightPerLane: number
  readonly producerId: string | undefined
  readonly trail: ResolvedTrailOptions | undefined
}

/** Trail options with every default applied (`signingKey` optional: unsigned skip notes only). @internal */
export interface ResolvedTrailOptions {
  readonly signingKey: KeyObject | string | undefined
  readonly keyName: string
  readonly everyEvents: number
  readonly intervalMs: number
  readonly file: string | undefined
}

/**
 * Applies the store defaults and validates, without touching the caller's object.
 * @internal
 * @throws {@link InvalidOptionError} naming the first bad option
 */
export function resolveStoreOptions (input: unknown): ResolvedStoreOptions {
  if (typeof input !== 'object' || input === null) throw new InvalidOptionError('options', 'an object', input)
  const o = input as Record<string, unknown>
  const sink = o.sink as BatchSink | undefined
  if (typeof sink !== 'object' || sink === null || typeof (sink as { write?: unknown }).write !== 'function') {
    throw new InvalidOptionError('sink', 'a BatchSink', sink)
  }
  const deadLetter = o.deadLetter as DeadLetter | undefined
  if (deadLetter !== undefined && (typeof deadLetter !== 'object' || deadLetter === null || typeof deadLetter.write !== 'function')) {
    throw new InvalidOptionError('deadLetter', 'an object with a write(entry) method', deadLetter)
  }
  const maxEventBytes = integerOption('maxEventBytes', o.maxEventBytes, DEFAULTS.maxEventBytes, 1)
  const maxBatchBytes = integerOption('maxBatchBytes', o.maxBatchBytes, Math.max(DEFAULTS.maxBatchBytes, maxEventBytes + 2), 3)
  if (maxEventBytes + 2 > maxBatchBytes) {
    throw new InvalidOptionError('maxEventBytes', `an integer <= maxBatchBytes - 2 (${maxBatchBytes - 2}), so one event fits a batch`, maxEventBytes)
  }
  const spool = resolveSpoolOptions(o.spool)
  const lanes = integerOption('lanes', o.lanes, DEFAULTS.lanes, 0, 256)
  const producerId = producerIdOption(o.producerId)
  const trail = resolveTrailOptions(o.trail)
  // A producer's lanes go on only where their heads are kept: a second store under a fixed id
  // without a spool would start every lane at seq 1 again, and the server would refuse it all.
  if (producerId !== undefined && spool === undefined) throw new InvalidOptionError('producerId', 'set only with `spool`, which keeps the lanes\' heads across restarts', producerId)
  if (lanes === 0 && producerId !== undefined) throw new InvalidOptionError('producerId', 'set only with lanes (`lanes` >= 1)', producerId)
  if (lanes === 0 && trail !== undefined) throw new InvalidOptionError('trail', 'set only with lanes (`lanes` >= 1): a trail signs the lanes\' chains', 'a trail with lanes: 0')
  return {
    sink,
    bufferSize: integerOption('bufferSize', o.bufferSize, DEFAULTS.bufferSize, 1),
    batchSize: integerOption('batchSize', o.batchSize, DEFAULTS.batchSize, 1),
    maxBatchBytes,
    maxEventBytes,
    flushIntervalMs: integerOption('flushIntervalMs', o.flushIntervalMs, DEFAULTS.flushIntervalMs, 1, MAX_DELAY_MS),
    deadLetter,
    logger: loggerOption('logger', o.logger),
    closeTimeoutMs: integerOption('closeTimeoutMs', o.closeTimeoutMs, DEFAULTS.closeTimeoutMs, 1, MAX_DELAY_MS),
    eventSchema: compileEventSchema(o.openapi, false),
    flushOnExit: booleanOption('flushOnExit', o.flushOnExit, DEFAULTS.flushOnExit),
    spool,
    lanes,
    maxInFlightPerLane: integerOption('maxInFlightPerLane', o.maxInFlightPerLane, DEFAULTS.maxInFlightPerLane, 1, 16),
    producerId,
    trail
  }
}


function producerIdOption (value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !LOWERCASE_UUID.test(value)) throw new InvalidOptionError('producerId', 'a lowercase UUID', value)
  return value
}

/**
 * Applies the trail defaults and validates; the key itself is checked when the signer is made.
 * @internal
 */
export function resolveTrailOptions (input: unknown): ResolvedTrailOptions | undefined {
  if (input === undefined) return undefined
  const o = objectOption('trail', input)
  const d = DEFAULTS.trail
  const key = o.signingKey
  if (typeof key !== 'string' && (typeof key !== 'object' || key === null)) {
    throw new InvalidOptionError('trail.signingKey', 'an Ed25519 private key (KeyObject or PKCS#8 PEM)', key)
  }
  if (o.file !== undefined && (typeof o.file !== 'string' || o.file.length === 0)) throw new InvalidOptionError('trail.file', 'a non-empty file path', o.file)
  if (o.keyName !== undefined && typeof o.keyName !== 'string') throw new InvalidOptionError('trail.keyName', 'a string', o.keyName)
  // The key is checked now, so that a wrong one fails the constructor before the store takes anything.
  const keyName = (o.keyName as string | undefined) ?? d.keyName
  void new NoteSigner(key as KeyObject | string, keyName)
  return {
    signingKey: key as KeyObject | string,
    keyName,
    everyEvents: integerOption('trail.everyEvents', o.everyEvents, d.everyEvents, 1),
    intervalMs: integerOption('trail.intervalMs', o.intervalMs, d.intervalMs, 1, MAX_DELAY_MS),
    file: o.file as string | undefined
  }
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
