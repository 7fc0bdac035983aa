/**
 * Store options: those of {@link createAuditStore}, `flush()` and `close()`,
 * and the checks of the store's options. The checks run in one fixed order
 * (the first bad option is the one named) and never touch the caller's
 * object. Two of them need something built (a signer for the trail's key, the
 * compiled event schema); the store supplies those as {@link StoreOptionBuilders},
 * so that this file only declares and checks.
 *
 * Invariants of a resolved store: `maxEventBytes + 2 <= maxBatchBytes` (one
 * event always fits a batch); `producerId` is set only with a spool and
 * lanes; `trail` only with lanes.
 */
import type { Logger } from 'pino'
import type { DeadLetter } from '../dead-letter/dead-letter.js'
import type { BatchSink } from '../delivery/batch-sink.js'
import { InvalidOptionError } from '../errors.js'
import type { CompiledEventSchema } from '../event/compiled-event-schema.js'
import type { OpenApiDocument } from '../event/openapi-document.js'
import { LOWERCASE_UUID } from '../protocol/wire.js'
import { MAX_DELAY_MS, booleanOption, integerOption, loggerOption } from './checks.js'
import { DEFAULTS } from './defaults.js'
import { resolveSpoolOptions, type ResolvedSpoolOptions, type SpoolOptions } from './spool.js'
import { resolveTrailOptions, type ResolvedTrailOptions, type SigningKeyCheck, type TrailOptions } from './trail.js'

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

/**
 * What checking the store's options needs built, supplied by the store.
 * @internal
 */
export interface StoreOptionBuilders {
  /** Checks option `trail`'s key; called only when a trail is given. */
  readonly checkSigningKey: SigningKeyCheck
  /**
   * Compiles option `openapi` (undefined: the generic schema), throwing an
   * {@link InvalidOptionError} naming `openapi` for a document that cannot be used.
   */
  readonly compileEventSchema: (openapi: unknown) => CompiledEventSchema
}

/**
 * Applies the store defaults and checks every option in order, without
 * touching the caller's object; `build` makes what two of the checks need.
 * @internal
 * @throws {@link InvalidOptionError} naming the first bad option
 */
export function checkStoreOptions (input: unknown, build: StoreOptionBuilders): ResolvedStoreOptions {
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
  const trail = resolveTrailOptions(o.trail, build.checkSigningKey)
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
    eventSchema: build.compileEventSchema(o.openapi),
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
