/**
 * Every option of audit-stream, its default and its validation, in one place.
 */
import type { KeyObject } from 'node:crypto'
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { BatchSink } from '../delivery/batch-sink.js'
import type { DeadLetter } from '../dead-letter/dead-letter.js'
import { NoteSigner, publicKeyOf } from '../chain/note-signature.js'
import { InvalidOptionError } from '../errors.js'
import type { CompiledEventSchema } from '../event/compiled-event-schema.js'
import { compileEventSchema } from '../event/event-validator.js'
import type { OpenApiDocument } from '../event/openapi-document.js'
import { BATCH_PATH, CHECKPOINTS_PATH, LOWERCASE_UUID, READY_PATH } from '../protocol/wire.js'

/**
 * How a sink retries a failed batch: exponential backoff with jitter.
 *
 * @example
 * ```ts
 * const retry: RetryOptions = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 10_000, multiplier: 2, jitter: 0.2 }
 * ```
 */
export interface RetryOptions {
  /**
   * Attempts per batch, the first included. After the last one the batch goes to the dead letter.
   * @default 3
   * Range: integer >= 1.
   */
  readonly maxAttempts?: number
  /**
   * Wait before the second attempt, in milliseconds.
   * @default 1000
   * Range: integer >= 0.
   */
  readonly baseDelayMs?: number
  /**
   * Upper bound of any wait, including a server's `Retry-After`, in milliseconds.
   * @default 30000
   * Range: integer >= baseDelayMs.
   */
  readonly maxDelayMs?: number
  /**
   * Factor applied to the wait after each failed attempt.
   * @default 2
   * Range: number >= 1.
   */
  readonly multiplier?: number
  /**
   * Random spread of each wait, as a fraction of it: 0.1 means ±10 %.
   * @default 0.1
   * Range: 0 to 1.
   */
  readonly jitter?: number
}

/**
 * Options every {@link BatchSink} takes. Unknown keys are ignored so subclasses can extend them.
 *
 * @example
 * ```ts
 * new DataStorageSink({ url, retry: { maxAttempts: 5, baseDelayMs: 500 }, concurrency: 2 })
 * ```
 */
export interface BatchSinkOptions {
  /** The retry policy. Each field has its own default; see {@link RetryOptions}. */
  readonly retry?: RetryOptions
  /**
   * The sink's logger. When absent, the sink uses the logger of the store it is attached to.
   * @default the store's logger
   */
  readonly logger?: Logger
  /**
   * Batches sent at the same time. With 1, a write is answered only once its batch is settled.
   * @default 1
   * Range: integer 1 to 64.
   */
  readonly concurrency?: number
}

/**
 * TLS settings for an HTTPS DataStorage service, with a client certificate for mTLS.
 *
 * @example
 * ```ts
 * new DataStorageSink({ url, tls: { ca: readFileSync('ca.pem'), cert: readFileSync('client.pem'), key: readFileSync('client.key') } })
 * ```
 */
export interface TlsOptions {
  /** CA certificate(s) to trust, PEM. @default the system's CAs */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>
  /** Client certificate chain for mTLS, PEM. @default none */
  readonly cert?: string | Buffer
  /** Client private key for mTLS, PEM. @default none */
  readonly key?: string | Buffer
  /** Whether to verify the server's certificate. @default true */
  readonly rejectUnauthorized?: boolean
}

/**
 * Options of {@link DataStorageSink}: the HTTP client of a DataStorage service.
 *
 * @example
 * ```ts
 * new DataStorageSink({ url: 'https://ds:8443', tokenFile: '/run/secrets/token', compression: 'gzip', requestTimeoutMs: 10_000 })
 * ```
 */
export interface DataStorageSinkOptions extends BatchSinkOptions {
  /**
   * The service's base URL, e.g. `https://datastorage:8443`, or the URLs of
   * several replicas of it, over which batches are spread (round robin over
   * those in rotation; a retry prefers another replica than the last attempt's).
   * Required. A path in a URL prefixes `path`.
   */
  readonly url: string | readonly string[]
  /**
   * The batch endpoint's path.
   * @default '/api/v1/audit/events/batch'
   */
  readonly path?: string
  /**
   * Extra request headers. Names are matched without regard to case: the sink's own headers
   * (`content-type`, `content-encoding`, `content-length`, `idempotency-key`, `user-agent`, and
   * `authorization` when it has a token) replace the user's, whatever their case.
   * @default none
   */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * A bearer token, or a function returning one (or a Promise of one), called before each attempt.
   * The lookup counts against the attempt's `requestTimeoutMs`; the function gets the attempt's
   * `signal`, aborted at that deadline or at shutdown.
   * @default none
   */
  readonly token?: string | ((context: { readonly signal: AbortSignal }) => string | Promise<string>)
  /**
   * A file holding the bearer token, read at start and again after a 401: rotated service-account tokens.
   * Takes precedence over `token`.
   * @default none
   */
  readonly tokenFile?: string
  /** TLS settings for HTTPS and mTLS. @default none */
  readonly tls?: TlsOptions
  /**
   * An undici Dispatcher to send through (an Agent, Pool or mock). The sink never closes it.
   * @default a Pool the sink owns and closes when it finishes
   */
  readonly dispatcher?: Dispatcher
  /**
   * Connections of the sink's own Pool.
   * @default 4
   * Range: integer 1 to 256.
   */
  readonly connections?: number
  /**
   * Deadline of one attempt, from sending the request to reading the response, in milliseconds.
   * @default 30000
   * Range: integer >= 1.
   */
  readonly requestTimeoutMs?: number
  /**
   * Request body compression. `'gzip'` sends `Content-Encoding: gzip`.
   * @default 'none'
   */
  readonly compression?: 'none' | 'gzip'
  /**
   * Batches sent at the same time. Two overlap building and sending the next
   * batch with the server's work on the current one; a flush still waits for both.
   * @default 2
   * Range: integer 1 to 64.
   */
  readonly concurrency?: number
  /**
   * How long a replica that refused a connection, timed out or answered
   * 502/503/504 stays out of rotation before `GET /health/ready` probes it;
   * doubled for each failure in a row, up to 5 s (a probe is one cheap GET). In milliseconds.
   * @default 1000
   * Range: integer 1 to 600000.
   */
  readonly replicaBackoffMs?: number
  /**
   * Interval at which endpoints that were quiet that long are probed with
   * `GET /health/ready`, so that {@link AuditStore.health} stays current
   * while no batch is sent, in milliseconds.
   * @default 10000
   * Range: integer 100 to 600000.
   */
  readonly probeIntervalMs?: number
}

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
 * Options of {@link installShutdownHandler}.
 *
 * @example
 * ```ts
 * installShutdownHandler([ordersStore, authStore], { signals: ['SIGTERM'], timeoutMs: 10_000 })
 * ```
 */
export interface ShutdownOptions {
  /**
   * Signals that start a graceful shutdown. A second one exits at once.
   * @default ['SIGTERM', 'SIGINT']
   */
  readonly signals?: readonly NodeJS.Signals[]
  /**
   * Time the stores get to deliver everything, in milliseconds; then sends are aborted and the rest dead-lettered.
   * @default 30000
   * Range: integer >= 1.
   */
  readonly timeoutMs?: number
  /**
   * Whether to call `process.exit` when done (0 when nothing was lost, 1 otherwise). With `false` only `process.exitCode` is set.
   * @default true
   */
  readonly exit?: boolean
  /**
   * The logger.
   * @default pino at level `warn` on stderr
   */
  readonly logger?: Logger
}

/**
 * What {@link collectMetrics} needs of a prom-client `Registry`, written out
 * so that the package's types do not depend on prom-client (an optional peer):
 * any prom-client 14 or 15 `Registry` fits.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client'
 * const registry: MetricsRegistry = new Registry()
 * ```
 */
export interface MetricsRegistry {
  /** Registers a metric (prom-client calls it for each metric made with `registers`). */
  registerMetric (metric: never): void
  /** The metric registered under `name`, if any. */
  getSingleMetric (name: string): unknown
  /** Unregisters the metric called `name`. */
  removeSingleMetric (name: string): void
  /** The text exposition of every metric. */
  metrics (): Promise<string>
}

/**
 * Options of {@link collectMetrics}.
 *
 * @example
 * ```ts
 * collectMetrics(store, { registry, prefix: 'billing_audit_', labels: { region: 'eu' } })
 * ```
 */
export interface MetricsOptions {
  /**
   * The prom-client registry to register with.
   * @default prom-client's global `register`
   */
  readonly registry?: MetricsRegistry
  /**
   * Prefix of every metric name.
   * @default 'audit_'
   */
  readonly prefix?: string
  /**
   * Constant labels added to every sample, e.g. `{ service: 'billing' }`.
   * @default none
   */
  readonly labels?: Readonly<Record<string, string>>
}

/**
 * Options of the crash-safe local spool (option `spool` of a store). See README "Durability".
 *
 * @example
 * ```ts
 * const store = createAuditStore({ sink, spool: { dir: '/var/lib/myservice/audit-spool', durability: 'os' } })
 * ```
 */
export interface SpoolOptions {
  /** The spool's directory, created if needed; one store at a time (a pid lock file). Required. */
  readonly dir: string
  /**
   * What `persisted()` waits for. `'process'`: the events are written to the
   * kernel (one writev per tick), so they survive `kill -9`. `'os'`: also
   * fdatasync'd (group commit), so they survive power loss on hardware that honours fsync.
   * @default 'process'
   */
  readonly durability?: 'process' | 'os'
  /**
   * Bytes of spool on disk at most; then `record()` drops (reason `spool-full`) and `write()` waits.
   * @default 1073741824 (1 GiB)
   * Range: integer >= 1.
   */
  readonly maxBytes?: number
  /**
   * Bytes per segment file before the next one is started.
   * @default 67108864 (64 MiB)
   * Range: integer from 1 to 1073741824 (1 GiB: recovery reads a segment whole, and Node reads at most 2 GiB at once).
   */
  readonly segmentBytes?: number
  /**
   * How often the checkpoint of settled events is written, in milliseconds; the segments it covers are then deleted.
   * @default 1000
   * Range: integer from 1 to 2147483647.
   */
  readonly checkpointIntervalMs?: number
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

/** Retry options with every default applied. */
export type ResolvedRetryOptions = Required<RetryOptions>

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

/** Spool options with every default applied. @internal */
export type ResolvedSpoolOptions = Required<SpoolOptions>

/**
 * Every default, frozen.
 *
 * @example
 * ```ts
 * console.log(DEFAULTS.batchSize, DEFAULTS.retry.maxAttempts) // 1000 3
 * ```
 */
/** setTimeout's longest delay: a longer one fires at once. */
const MAX_DELAY_MS = 2_147_483_647

export const DEFAULTS = Object.freeze({
  /** See {@link AuditStoreOptions.bufferSize}. */
  bufferSize: 10_000,
  /** See {@link AuditStoreOptions.batchSize}. */
  batchSize: 1_000,
  /** See {@link AuditStoreOptions.maxBatchBytes}. */
  maxBatchBytes: 4 * 1024 * 1024,
  /** See {@link AuditStoreOptions.maxEventBytes}. */
  maxEventBytes: 1024 * 1024,
  /** See {@link AuditStoreOptions.flushIntervalMs}. */
  flushIntervalMs: 1_000,
  /** See {@link AuditStoreOptions.closeTimeoutMs}. */
  closeTimeoutMs: 30_000,
  /** See {@link AuditStoreOptions.flushOnExit}. */
  flushOnExit: true,
  /** See {@link AuditStoreOptions.lanes}. */
  lanes: 4,
  /** See {@link AuditStoreOptions.maxInFlightPerLane}. */
  maxInFlightPerLane: 2,
  /** See {@link TrailOptions}. */
  trail: Object.freeze({
    /** See {@link TrailOptions.keyName}. */
    keyName: 'audit-stream',
    /** See {@link TrailOptions.everyEvents}. */
    everyEvents: 1_000,
    /** See {@link TrailOptions.intervalMs}. */
    intervalMs: 10_000
  }),
  /** See {@link SpoolOptions}. */
  spool: Object.freeze({
    /** See {@link SpoolOptions.durability}. */
    durability: 'process' as 'process' | 'os',
    /** See {@link SpoolOptions.maxBytes}. */
    maxBytes: 1024 * 1024 * 1024,
    /** See {@link SpoolOptions.segmentBytes}. */
    segmentBytes: 64 * 1024 * 1024,
    /** See {@link SpoolOptions.checkpointIntervalMs}. */
    checkpointIntervalMs: 1_000
  }),
  /** See {@link BatchSinkOptions.concurrency}. */
  concurrency: 1,
  /** See {@link DataStorageSinkOptions.path}. */
  path: BATCH_PATH,
  /** See {@link DataStorageSinkOptions.connections}. */
  connections: 4,
  /** See {@link DataStorageSinkOptions.requestTimeoutMs}. */
  requestTimeoutMs: 30_000,
  /** See {@link DataStorageSinkOptions.compression}. */
  compression: 'none' as 'none' | 'gzip',
  /** See {@link DataStorageSinkOptions.concurrency}. */
  dataStorageConcurrency: 2,
  /** See {@link DataStorageSinkOptions.replicaBackoffMs}. */
  replicaBackoffMs: 1_000,
  /** See {@link DataStorageSinkOptions.probeIntervalMs}. */
  probeIntervalMs: 10_000,
  /** See {@link ShutdownOptions}. */
  shutdown: Object.freeze({
    /** See {@link ShutdownOptions.signals}. */
    signals: Object.freeze(['SIGTERM', 'SIGINT'] as NodeJS.Signals[]),
    /** See {@link ShutdownOptions.timeoutMs}. */
    timeoutMs: 30_000,
    /** See {@link ShutdownOptions.exit}. */
    exit: true
  }),
  /** See {@link DataStorageServerOptions}. */
  server: Object.freeze({
    /** See {@link DataStorageServerOptions.port}. */
    port: 0,
    /** See {@link DataStorageServerOptions.host}. */
    host: '127.0.0.1',
    /** See {@link DataStorageServerOptions.database}. */
    database: 'memory://',
    /** See {@link DataStorageServerOptions.bodyLimitBytes}. */
    bodyLimitBytes: 8 * 1024 * 1024,
    /** See {@link DataStorageServerOptions.maxBatchItems}. */
    maxBatchItems: 10_000,
    /** See {@link DataStorageServerOptions.drainDelayMs}. */
    drainDelayMs: 0,
    /** See {@link DataStorageServerOptions.ui}. */
    ui: true
  }),
  /** See {@link RetryOptions}. */
  retry: Object.freeze({
    /** See {@link RetryOptions.maxAttempts}. */
    maxAttempts: 3,
    /** See {@link RetryOptions.baseDelayMs}. */
    baseDelayMs: 1_000,
    /** See {@link RetryOptions.maxDelayMs}. */
    maxDelayMs: 30_000,
    /** See {@link RetryOptions.multiplier}. */
    multiplier: 2,
    /** See {@link RetryOptions.jitter}. */
    jitter: 0.1
  })
})

/**
 * Checks that `value` is an integer within bounds, or absent.
 * @internal
 */
export function integerOption (name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`
    throw new InvalidOptionError(name, `an integer ${range}`, value)
  }
  return value
}

function numberOption (name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `a number from ${min} to ${max}`, value)
  }
  return value
}

function objectOption (name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(name, 'an object', value)
  }
  return value as Record<string, unknown>
}

/**
 * Applies the retry defaults and validates.
 * @internal
 */
export function resolveRetryOptions (input: unknown): ResolvedRetryOptions {
  const o = objectOption('retry', input)
  const d = DEFAULTS.retry
  const baseDelayMs = integerOption('retry.baseDelayMs', o.baseDelayMs, d.baseDelayMs, 0)
  const maxDelayMs = integerOption('retry.maxDelayMs', o.maxDelayMs, Math.max(d.maxDelayMs, baseDelayMs), 0)
  if (maxDelayMs < baseDelayMs) {
    throw new InvalidOptionError('retry.maxDelayMs', `an integer >= retry.baseDelayMs (${baseDelayMs})`, maxDelayMs)
  }
  return {
    maxAttempts: integerOption('retry.maxAttempts', o.maxAttempts, d.maxAttempts, 1),
    baseDelayMs,
    maxDelayMs,
    multiplier: numberOption('retry.multiplier', o.multiplier, d.multiplier, 1, 100),
    jitter: numberOption('retry.jitter', o.jitter, d.jitter, 0, 1)
  }
}

function loggerOption (name: string, value: unknown): Logger | undefined {
  if (value === undefined) return undefined
  const l = value as Partial<Logger> | null
  if (typeof l !== 'object' || l === null || typeof l.child !== 'function' || typeof l.warn !== 'function') {
    throw new InvalidOptionError(name, 'a pino logger', value)
  }
  return value as Logger
}

/**
 * Applies the sink defaults and validates. Unknown keys are ignored.
 * @internal
 */
export function resolveSinkOptions (input: unknown): { retry: ResolvedRetryOptions, logger: Logger | undefined, concurrency: number } {
  const o = objectOption('options', input)
  return {
    retry: resolveRetryOptions(o.retry),
    logger: loggerOption('logger', o.logger),
    concurrency: integerOption('concurrency', o.concurrency, DEFAULTS.concurrency, 1, 64)
  }
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

/**
 * Applies the spool defaults and validates.
 * @internal
 */
export function resolveSpoolOptions (input: unknown): ResolvedSpoolOptions | undefined {
  if (input === undefined) return undefined
  const o = objectOption('spool', input)
  const d = DEFAULTS.spool
  if (typeof o.dir !== 'string' || o.dir.length === 0) throw new InvalidOptionError('spool.dir', 'a non-empty directory path', o.dir)
  const durability = o.durability ?? d.durability
  if (durability !== 'process' && durability !== 'os') throw new InvalidOptionError('spool.durability', "'process' or 'os'", durability)
  return {
    dir: o.dir,
    durability,
    maxBytes: integerOption('spool.maxBytes', o.maxBytes, d.maxBytes, 1),
    segmentBytes: integerOption('spool.segmentBytes', o.segmentBytes, d.segmentBytes, 1, 2 ** 30),
    checkpointIntervalMs: integerOption('spool.checkpointIntervalMs', o.checkpointIntervalMs, d.checkpointIntervalMs, 1, MAX_DELAY_MS)
  }
}

function booleanOption (name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, 'a boolean', value)
  return value
}

/**
 * Validates a per-call timeout.
 * @internal
 */
export function timeoutOption (name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  return integerOption(name, value, 0, 0, MAX_DELAY_MS)
}

/** DataStorage sink options with every default applied. @internal */
export interface ResolvedDataStorageSinkOptions {
  /** The first endpoint's origin and path. */
  readonly origin: string
  readonly path: string
  /** Every endpoint, in the order given. */
  readonly endpoints: ReadonlyArray<{ readonly origin: string, readonly path: string, readonly probePath: string, readonly notesPath: string }>
  readonly replicaBackoffMs: number
  readonly probeIntervalMs: number
  readonly headers: Readonly<Record<string, string>>
  readonly token: string | ((context: { readonly signal: AbortSignal }) => string | Promise<string>) | undefined
  readonly tokenFile: string | undefined
  readonly tls: TlsOptions | undefined
  readonly dispatcher: Dispatcher | undefined
  readonly connections: number
  readonly requestTimeoutMs: number
  readonly compression: 'none' | 'gzip'
}


/**
 * Applies the DataStorage sink defaults and validates.
 * @internal
 * @throws {@link InvalidOptionError} naming the first bad option
 */
export function resolveDataStorageSinkOptions (input: unknown): ResolvedDataStorageSinkOptions {
  const o = objectOption('options', input)
  const list: unknown[] = Array.isArray(o.url) ? o.url as unknown[] : [o.url]
  if (list.length === 0) throw new InvalidOptionError('url', 'an http: or https: URL, or a non-empty array of them', o.url)
  const path = o.path ?? DEFAULTS.path
  if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidOptionError('path', 'a string starting with /', path)
  const endpoints = list.map((item, i) => {
    let url: URL
    try {
      url = new URL(String(item))
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol')
    } catch {
      throw new InvalidOptionError(Array.isArray(o.url) ? `url[${i}]` : 'url', 'an http: or https: URL', item)
    }
    // Only the origin and the path are used: credentials, a query or a fragment would be dropped without a word.
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
      throw new InvalidOptionError(Array.isArray(o.url) ? `url[${i}]` : 'url', 'an http: or https: URL without credentials, query or fragment (use token or headers for credentials)', url.username !== '' || url.password !== '' ? '<URL with credentials>' : item)
    }
    const prefix = url.pathname.replace(/\/+$/, '')
    // The probe goes under the URL's path too: behind a proxy that routes by prefix, /health/ready alone reaches something else.
    return { origin: url.origin, path: prefix + path, probePath: prefix + READY_PATH, notesPath: prefix + CHECKPOINTS_PATH }
  })
  if (new Set(endpoints.map((e) => e.origin)).size !== endpoints.length) throw new InvalidOptionError('url', 'URLs of distinct origins', o.url)
  const headers = objectOption('headers', o.headers)
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw new InvalidOptionError(`headers.${name}`, 'a string', value)
  }
  const token = o.token
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') {
    throw new InvalidOptionError('token', 'a string or a function returning one', token)
  }
  const tokenFile = o.tokenFile
  if (tokenFile !== undefined && (typeof tokenFile !== 'string' || tokenFile === '')) {
    throw new InvalidOptionError('tokenFile', 'a file path', tokenFile)
  }
  const dispatcher = o.dispatcher as Dispatcher | undefined
  if (dispatcher !== undefined && (typeof dispatcher !== 'object' || dispatcher === null || typeof dispatcher.request !== 'function')) {
    throw new InvalidOptionError('dispatcher', 'an undici Dispatcher', dispatcher)
  }
  const compression = o.compression ?? DEFAULTS.compression
  if (compression !== 'none' && compression !== 'gzip') throw new InvalidOptionError('compression', "'none' or 'gzip'", compression)
  return {
    origin: endpoints[0]!.origin,
    path: endpoints[0]!.path,
    endpoints,
    replicaBackoffMs: integerOption('replicaBackoffMs', o.replicaBackoffMs, DEFAULTS.replicaBackoffMs, 1, 600_000),
    probeIntervalMs: integerOption('probeIntervalMs', o.probeIntervalMs, DEFAULTS.probeIntervalMs, 100, 600_000),
    headers: headers as Record<string, string>,
    token: token as ResolvedDataStorageSinkOptions['token'],
    tokenFile,
    tls: o.tls === undefined ? undefined : objectOption('tls', o.tls) as TlsOptions,
    dispatcher,
    connections: integerOption('connections', o.connections, DEFAULTS.connections, 1, 256),
    requestTimeoutMs: integerOption('requestTimeoutMs', o.requestTimeoutMs, DEFAULTS.requestTimeoutMs, 1, MAX_DELAY_MS),
    compression
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

/** Shutdown options with every default applied. @internal */
export interface ResolvedShutdownOptions {
  readonly signals: readonly NodeJS.Signals[]
  readonly timeoutMs: number
  readonly exit: boolean
  readonly logger: Logger | undefined
}

/**
 * Applies the shutdown defaults and validates.
 * @internal
 * @throws {@link InvalidOptionError} naming the first bad option
 */
export function resolveShutdownOptions (input: unknown): ResolvedShutdownOptions {
  const o = objectOption('options', input)
  const d = DEFAULTS.shutdown
  const signals = o.signals ?? d.signals
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every((s) => typeof s === 'string' && s.startsWith('SIG'))) {
    throw new InvalidOptionError('signals', 'a non-empty array of signal names', signals)
  }
  const exit = o.exit ?? d.exit
  if (typeof exit !== 'boolean') throw new InvalidOptionError('exit', 'a boolean', exit)
  return {
    signals: signals as NodeJS.Signals[],
    timeoutMs: integerOption('timeoutMs', o.timeoutMs, d.timeoutMs, 1, MAX_DELAY_MS),
    exit,
    logger: loggerOption('logger', o.logger)
  }
}
