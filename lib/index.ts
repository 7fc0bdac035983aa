/**
 * audit-stream: batched, retried delivery of audit events to a DataStorage
 * service, with a flush that drains every stage. This entry is the client
 * only; the reference server is `audit-stream/server`.
 *
 * @packageDocumentation
 */
export { AuditStore, createAuditStore } from './store/store.js'
export type { DropEventInfo } from './store/drop-event.js'
export { BatchSink } from './delivery/batch-sink.js'
export type { SendContext, NotesContext } from './delivery/send-context.js'
export type { BatchEventInfo, RetryEventInfo, DeadLetterEventInfo } from './delivery/sink-events.js'
export { batchBody, batchBuffer } from './batching/batch.js'
export type { Batch, BatchTrail } from './batching/batch.js'
export { AuditEventSchema, newAuditEvent, validateAuditEvent } from './event/event.js'
export type { AuditEvent, AuditEventInit, AuditEventDefaults } from './event/event.js'
export { createEventValidator } from './event/event-validator.js'
export type { OpenApiDocument } from './event/openapi-document.js'
export type { EventValidator, EventValidatorOptions } from './event/event-validator.js'
export { MAX_EVENT_DATA_DEPTH } from './event/storable-json.js'
export { MemorySink } from './sinks/memory-sink.js'
export { DataStorageSink } from './sinks/datastorage-sink.js'
export type { MemorySinkOptions } from './sinks/memory-sink.js'
export { FileDeadLetter, DEAD_LETTER_FILE_PREFIX } from './dead-letter/file-dead-letter.js'
export type { FileDeadLetterOptions } from './dead-letter/file-dead-letter.js'
export { replayDeadLetters } from './dead-letter/replay.js'
export type { ReplayOptions, ReplayProgress, ReplayResult } from './dead-letter/replay.js'
export type { DeadLetter, DeadLetterEntry, DeadLetterErrorInfo, DeadLetterReason } from './dead-letter/dead-letter.js'
export { installShutdownHandler } from './store/shutdown.js'
export { collectMetrics } from './metrics.js'
export { readinessHandler } from './delivery/health.js'
export type { StoreHealth, EndpointHealth } from './delivery/health.js'
export { DEFAULTS } from './options/defaults.js'
export type { AuditStoreOptions, FlushOptions, CloseOptions } from './options/store.js'
export type { BatchSinkOptions, DataStorageSinkOptions, TlsOptions } from './options/sink.js'
export type { RetryOptions } from './options/retry.js'
export type { ShutdownOptions } from './options/shutdown.js'
export type { MetricsOptions, MetricsRegistry } from './options/metrics.js'
export type { SpoolOptions } from './options/spool.js'
export type { TrailOptions } from './options/trail.js'
export type { FlushResult, StoreStats } from './accounting/stats.js'
export { GENESIS, eventDigest, chainHash, chainEvents } from './chain/chain-hash.js'
export { laneOf } from './lanes/lane-choice.js'
export { NoteSigner, noteVerifies, publicKeyOf } from './chain/note-signature.js'
export { formatNote } from './chain/format-note.js'
export { parseNote, parseNotes } from './chain/parse-note.js'
export type { TrailNote, CheckpointNote, SkipNote, NoteSignature, ParsedNote } from './chain/signed-note.js'
export { verifyChain } from './chain/verify-chain.js'
export type { ChainRow, VerifyReason, VerifyResult, VerifySkip, VerifyChainInput } from './chain/verify-chain.js'
export { servedMatchesRaw } from './chain/served-form.js'
export {
  AuditStoreError,
  AuditValidationError,
  InvalidOptionError,
  StoreClosedError,
  FlushError,
  TimeoutError,
  AbortError,
  CloseTimeoutError,
  AuditLossError,
  SinkError,
  DeadLetterError,
  MissingPeerError,
  SpoolError,
  NoteFormatError
} from './errors.js'
export type { ValidationIssue, AuditStoreErrorOptions, SinkErrorOptions, ProblemDocument } from './errors.js'
