/**
 * The one frozen DEFAULTS object: every option's default, grouped as the
 * options are (top-level store and sink fields, then `trail`, `spool`,
 * `shutdown`, `server` and `retry`). Each option's TSDoc `@default` states the
 * same value, and the resolvers take their fallbacks from here.
 */
import { BATCH_PATH } from '../protocol/wire.js'

/**
 * Every default, frozen.
 *
 * @example
 * ```ts
 * console.log(DEFAULTS.batchSize, DEFAULTS.retry.maxAttempts) // 1000 3
 * ```
 */
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
  /** See {@link server!DataStorageServerOptions | DataStorageServerOptions}. */
  server: Object.freeze({
    /** See {@link server!DataStorageServerOptions.port | DataStorageServerOptions.port}. */
    port: 0,
    /** See {@link server!DataStorageServerOptions.host | DataStorageServerOptions.host}. */
    host: '127.0.0.1',
    /** See {@link server!DataStorageServerOptions.database | DataStorageServerOptions.database}. */
    database: 'memory://',
    /** See {@link server!DataStorageServerOptions.bodyLimitBytes | DataStorageServerOptions.bodyLimitBytes}. */
    bodyLimitBytes: 8 * 1024 * 1024,
    /** See {@link server!DataStorageServerOptions.maxBatchItems | DataStorageServerOptions.maxBatchItems}. */
    maxBatchItems: 10_000,
    /** See {@link server!DataStorageServerOptions.drainDelayMs | DataStorageServerOptions.drainDelayMs}. */
    drainDelayMs: 0,
    /** See {@link server!DataStorageServerOptions.ui | DataStorageServerOptions.ui}. */
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
