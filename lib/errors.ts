/**
 * Every error audit-stream throws or rejects with. Each class has a fixed
 * `code` string so callers can branch without `instanceof` across realms.
 *
 * One file on purpose, though past 300 lines: the error classes are one
 * table (a base class, and per subclass its name, code and default message,
 * as undici's lib/core/errors.js), which test/errors.test.ts checks row by
 * row and a caller reads in one place. Its length is the TSDoc every public
 * class and the types they carry (ValidationIssue, ProblemDocument,
 * SinkErrorOptions) need; the code is a few lines per class.
 */
import type { FlushResult, StoreStats } from './accounting/stats.js'

/**
 * One problem found in an event: where it is and what is wrong.
 *
 * @example
 * ```ts
 * for (const issue of validateAuditEvent(input)) console.log(`${issue.path}: ${issue.message}`)
 * ```
 */
export interface ValidationIssue {
  /** Dotted path of the offending field (`event_type`, `event_data`); `''` for the event itself. */
  readonly path: string
  /** What is wrong, in plain words. */
  readonly message: string
}

/**
 * Options every audit-stream error accepts.
 *
 * @example
 * ```ts
 * throw new DeadLetterError('queue unavailable', { cause: err })
 * ```
 */
export interface AuditStoreErrorOptions {
  /** The underlying error, kept as the standard `cause`. */
  readonly cause?: unknown
}

/**
 * Base class of every audit-stream error.
 *
 * @example
 * ```ts
 * try { store.record(event) } catch (err) {
 *   if (err instanceof AuditStoreError && err.code === 'AUDIT_ERR_INVALID_EVENT') { ... }
 * }
 * ```
 */
export class AuditStoreError extends Error {
  /** A stable machine-readable code, such as `AUDIT_ERR_INVALID_EVENT`. */
  readonly code: string

  /**
   * @param message - what went wrong
   * @param code - the stable code
   * @param options - `cause`, when wrapping another error
   */
  constructor (message: string, code = 'AUDIT_ERR', options: AuditStoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AuditStoreError'
    this.code = code
  }
}

/**
 * An event failed validation, could not be serialized, or is larger than `maxEventBytes`.
 *
 * @example
 * ```ts
 * try { store.record(input) } catch (err) {
 *   if (err instanceof AuditValidationError) console.error(err.issues)
 * }
 * ```
 */
export class AuditValidationError extends AuditStoreError {
  /** Every problem found, in schema order. */
  readonly issues: readonly ValidationIssue[]

  /**
   * @param issues - the problems found
   * @param message - overrides the message built from the issues
   */
  constructor (issues: readonly ValidationIssue[], message?: string) {
    super(message ?? `Invalid audit event: ${issues.map(formatIssue).join('; ')}`, 'AUDIT_ERR_INVALID_EVENT')
    this.name = 'AuditValidationError'
    this.issues = issues
  }
}

function formatIssue (issue: ValidationIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`
}

/**
 * An option has a value of the wrong type or out of range, or conflicts with another option.
 *
 * @example
 * ```ts
 * try { createAuditStore({ sink, batchSize: 0 }) } catch (err) {
 *   if (err instanceof InvalidOptionError) console.error(err.option, err.message)
 * }
 * ```
 */
export class InvalidOptionError extends AuditStoreError {
  /** The name of the offending option. */
  readonly option: string

  /**
   * @param option - the option's name, e.g. `batchSize`
   * @param expected - what was expected, e.g. `an integer >= 1`
   * @param received - the value that arrived
   * @param options - `cause`: the error that showed the value unusable (a file system error for `spool.dir`, say)
   */
  constructor (option: string, expected: string, received: unknown, options: AuditStoreErrorOptions = {}) {
    super(`Expected \`${option}\` to be ${expected}, got ${describeValue(received)}${options.cause instanceof Error ? ` (${options.cause.message})` : ''}`, 'AUDIT_ERR_INVALID_OPTION', options)
    this.name = 'InvalidOptionError'
    this.option = option
  }
}

function describeValue (value: unknown): string {
  if (value === null) return '`null`'
  if (value === undefined) return '`undefined`'
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object'
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value)
  return `\`${shown.length > 60 ? shown.slice(0, 57) + '...' : shown}\` (${typeof value})`
}

/**
 * The store is closing or closed and takes no more events.
 *
 * @example
 * ```ts
 * store.write(event, (err) => { if (err instanceof StoreClosedError) console.warn('store already closed') })
 * ```
 */
export class StoreClosedError extends AuditStoreError {
  /** @param message - overrides the default message */
  constructor (message = 'The audit store is closed') {
    super(message, 'AUDIT_ERR_CLOSED')
    this.name = 'StoreClosedError'
  }
}

/**
 * A flush settled, but some events accepted (or refused) before it are not in the sink.
 *
 * @example
 * ```ts
 * try { await store.flush() } catch (err) {
 *   if (err instanceof FlushError) console.error(`${err.result.deadLettered} dead-lettered, ${err.result.lost} lost`)
 * }
 * ```
 */
export class FlushError extends AuditStoreError {
  /** What happened to the events covered by this flush. */
  readonly result: FlushResult

  /** @param result - the flush's counts */
  constructor (result: FlushResult) {
    super(
      `Flush incomplete: ${result.written} written, ${result.deadLettered} dead-lettered, ` +
        `${result.dropped} dropped, ${result.lost} lost`,
      'AUDIT_ERR_FLUSH_INCOMPLETE'
    )
    this.name = 'FlushError'
    this.result = result
  }
}

/**
 * An operation did not finish within its `timeoutMs`. Nothing was lost by the timeout itself.
 *
 * @example
 * ```ts
 * await store.flush({ timeoutMs: 1000 }).catch((err) => { if (err instanceof TimeoutError) console.warn('still delivering') })
 * ```
 */
export class TimeoutError extends AuditStoreError {
  /** @param message - what timed out */
  constructor (message = 'The operation timed out') {
    super(message, 'AUDIT_ERR_TIMEOUT')
    this.name = 'TimeoutError'
  }
}

/**
 * An operation was aborted through its `AbortSignal`; `cause` is the signal's reason.
 *
 * @example
 * ```ts
 * const controller = new AbortController()
 * store.flush({ signal: controller.signal }).catch((err) => { if (err instanceof AbortError) console.log(err.cause) })
 * ```
 */
export class AbortError extends AuditStoreError {
  /**
   * @param message - what was aborted
   * @param options - `cause`: the signal's reason
   */
  constructor (message = 'The operation was aborted', options: AuditStoreErrorOptions = {}) {
    super(message, 'AUDIT_ERR_ABORTED', options)
    this.name = 'AbortError'
  }
}

/**
 * `close()` ran out of time: sends were aborted and unsent events dead-lettered with reason `shutdown`.
 *
 * @example
 * ```ts
 * await store.close({ timeoutMs: 5000 }).catch((err) => {
 *   if (err instanceof CloseTimeoutError) console.error(`${err.stats.deadLettered} events left in the dead letter`)
 * })
 * ```
 */
export class CloseTimeoutError extends AuditStoreError {
  /** The store's counters once shutdown finished. */
  readonly stats: StoreStats

  /**
   * @param timeoutMs - the timeout that expired
   * @param stats - the final counters
   */
  constructor (timeoutMs: number, stats: StoreStats) {
    super(
      `close() timed out after ${timeoutMs} ms: unsent events were dead-lettered ` +
        `(${stats.deadLettered} dead-lettered, ${stats.lost} lost in total)`,
      'AUDIT_ERR_CLOSE_TIMEOUT'
    )
    this.name = 'CloseTimeoutError'
    this.stats = stats
  }
}

/**
 * Over the store's life some events were dropped or lost (not stored and not dead-lettered).
 *
 * @example
 * ```ts
 * await store.close().catch((err) => { if (err instanceof AuditLossError) process.exitCode = 1 })
 * ```
 */
export class AuditLossError extends AuditStoreError {
  /** The store's final counters. */
  readonly stats: StoreStats

  /** @param stats - the final counters */
  constructor (stats: StoreStats) {
    super(
      `Audit events were lost: ${stats.dropped} dropped, ${stats.lost} lost ` +
        `(${stats.written} written, ${stats.deadLettered} dead-lettered)`,
      'AUDIT_ERR_LOSS'
    )
    this.name = 'AuditLossError'
    this.stats = stats
  }
}

/**
 * An RFC 7807 problem document, as a DataStorage service returns with an error status.
 *
 * @example
 * ```ts
 * const problem: ProblemDocument | undefined = entry.error?.problem
 * console.log(problem?.title, problem?.field_errors)
 * ```
 */
export interface ProblemDocument {
  /** A URI reference naming the problem type. */
  readonly type?: string
  /** A short summary of the problem type. */
  readonly title?: string
  /** The HTTP status. */
  readonly status?: number
  /** What went wrong with this request. */
  readonly detail?: string
  /** Per-field validation messages, keyed by item and field, e.g. `"[3].event_type"`. */
  readonly field_errors?: Readonly<Record<string, string>>
  /** For a 409 about a lane (`…/lane/sequence-gap` or `…/sequence-conflict`): the seq the lane expects next. */
  readonly expected_seq?: number
}

/**
 * How a sink classifies a failed send.
 *
 * @example
 * ```ts
 * throw new SinkError('HTTP 429', { retryable: true, statusCode: 429, retryAfterMs: 2000 })
 * ```
 */
export interface SinkErrorOptions extends AuditStoreErrorOptions {
  /** Whether another attempt may succeed. */
  readonly retryable: boolean
  /**
   * Whether the batch should be split in halves and each half sent on its own
   * (a 400/422 that names some events, a 413). A single event is then rejected.
   */
  readonly split?: boolean
  /** The server's problem document, kept in the dead-letter entry. */
  readonly problem?: ProblemDocument
  /** The HTTP status, when there was a response. */
  readonly statusCode?: number
  /** The server's requested wait before the next attempt, in milliseconds. */
  readonly retryAfterMs?: number
}

/**
 * Thrown by a sink's `sendBatch` to classify a failure. Any other error a
 * sink throws is treated as retryable.
 *
 * @example
 * ```ts
 * throw new SinkError('HTTP 503 Service Unavailable', { retryable: true, statusCode: 503, retryAfterMs: 1000 })
 * ```
 */
export class SinkError extends AuditStoreError {
  /** Whether another attempt may succeed. */
  readonly retryable: boolean
  /** The HTTP status, when there was a response. */
  readonly statusCode: number | undefined
  /** The server's requested wait before the next attempt, in milliseconds. */
  readonly retryAfterMs: number | undefined
  /** Whether the batch should be split and its halves sent on their own. */
  readonly split: boolean
  /** The server's problem document, when it sent one. */
  readonly problem: ProblemDocument | undefined

  /**
   * @param message - what failed
   * @param options - classification and `cause`
   */
  constructor (message: string, options: SinkErrorOptions) {
    super(message, 'AUDIT_ERR_SINK', options)
    this.name = 'SinkError'
    this.retryable = options.retryable
    this.statusCode = options.statusCode
    this.retryAfterMs = options.retryAfterMs
    this.split = options.split ?? false
    this.problem = options.problem
  }
}

/**
 * The dead letter could not store an entry; its events are counted as lost.
 *
 * @example
 * ```ts
 * await deadLetter.write(entry).catch((err) => { if (err instanceof DeadLetterError) console.error(err.cause) })
 * ```
 */
export class DeadLetterError extends AuditStoreError {
  /**
   * @param message - what failed
   * @param options - `cause`: the underlying I/O error
   */
  constructor (message: string, options: AuditStoreErrorOptions = {}) {
    super(message, 'AUDIT_ERR_DEAD_LETTER', options)
    this.name = 'DeadLetterError'
  }
}

/**
 * An optional peer dependency that a feature needs is not installed.
 *
 * @example
 * ```ts
 * try { collectMetrics(store) } catch (err) { if (err instanceof MissingPeerError) console.error(err.packageName) }
 * ```
 */
export class MissingPeerError extends AuditStoreError {
  /** The npm package to install. */
  readonly packageName: string

  /**
   * @param packageName - the package to install
   * @param feature - what needs it
   * @param options - `cause`: the module resolution error
   */
  constructor (packageName: string, feature: string, options: AuditStoreErrorOptions = {}) {
    super(`${feature} needs ${packageName}: install it with \`npm install ${packageName}\``, 'AUDIT_ERR_MISSING_PEER', options)
    this.name = 'MissingPeerError'
    this.packageName = packageName
  }
}

/**
 * The spool could not make events durable: a disk error (ENOSPC, EIO, ...)
 * failed it, or the store closed first. The store goes on delivering from
 * memory; a caller of `persisted()` learns that it did not get durability.
 *
 * @example
 * ```ts
 * await store.persisted().catch((err) => { if (err instanceof SpoolError) respond503(err.cause) })
 * ```
 */
export class SpoolError extends AuditStoreError {
  /**
   * @param message - what was not made durable
   * @param options - `cause`: the underlying I/O error
   */
  constructor (message: string, options: AuditStoreErrorOptions = {}) {
    super(message, 'AUDIT_ERR_SPOOL', options)
    this.name = 'SpoolError'
  }
}

/**
 * A trail note (a checkpoint or a skip) is malformed: a missing, extra or
 * misplaced line, a value out of range, a bad signature line, or too large.
 *
 * @example
 * ```ts
 * try { parseNote(text) } catch (err) {
 *   if (err instanceof NoteFormatError) console.error(`refused note: ${err.message}`)
 * }
 * ```
 */
export class NoteFormatError extends AuditStoreError {
  /**
   * @param message - what is wrong with the note
   * @param options - `cause`, when wrapping another error
   */
  constructor (message = 'Malformed trail note', options: AuditStoreErrorOptions = {}) {
    super(message, 'AUDIT_ERR_NOTE_FORMAT', options)
    this.name = 'NoteFormatError'
  }
}
