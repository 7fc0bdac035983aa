/**
 * Shared test fixtures: events, a scriptable sink and an in-memory dead letter.
 */
import { pino, type Logger } from 'pino'
import { Writable } from 'node:stream'
import { BatchSink, SinkError, newAuditEvent, type AuditEvent, type Batch, type DeadLetter, type DeadLetterEntry, type SendContext } from '../../lib/index.js'

/** A valid event whose correlation id and sequence number identify it. */
export function makeEvent (seq: number, correlationId = 'test'): AuditEvent {
  return newAuditEvent({
    event_type: 'test.event',
    event_category: 'test',
    event_action: 'create',
    event_outcome: 'success',
    correlation_id: correlationId,
    event_data: { seq }
  })
}

/** The `seq` of each stored event, in order. */
export function seqs (events: readonly unknown[]): number[] {
  return events.map((e) => (e as { event_data: { seq: number } }).event_data.seq)
}

/** What a ScriptedSink does on one attempt: succeed, or throw. */
export type Outcome = 'ok' | 'retryable' | 'rejected' | 'hang' | Error

/**
 * A sink whose attempts follow a script; after the script, every attempt
 * uses `fallback`. It records each attempt's batch id and size.
 */
export class ScriptedSink extends BatchSink {
  readonly stored: string[] = []
  readonly attempts: Array<{ id: string, count: number, attempt: number }> = []
  script: Outcome[]
  fallback: Outcome

  constructor (script: Outcome[] = [], options: ConstructorParameters<typeof BatchSink>[0] & { fallback?: Outcome } = {}) {
    super({ retry: { baseDelayMs: 1, maxDelayMs: 5, ...options.retry }, ...(options.logger ? { logger: options.logger } : {}), ...(options.concurrency ? { concurrency: options.concurrency } : {}) })
    this.script = [...script]
    this.fallback = options.fallback ?? 'ok'
  }

  protected async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    this.attempts.push({ id: batch.id, count: batch.events.length, attempt: ctx.attempt })
    const outcome = this.script.length > 0 ? this.script.shift()! : this.fallback
    await new Promise((resolve) => setImmediate(resolve))
    if (outcome === 'hang') {
      await new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })
      })
    }
    if (outcome === 'retryable') throw new SinkError('HTTP 503 Service Unavailable', { retryable: true, statusCode: 503 })
    if (outcome === 'rejected') throw new SinkError('HTTP 400 Bad Request', { retryable: false, statusCode: 400 })
    if (outcome instanceof Error) throw outcome
    this.stored.push(...batch.events)
  }
}

/** A dead letter that keeps entries in memory, or fails every write when `failing`. */
export class MemoryDeadLetter implements DeadLetter {
  readonly entries: DeadLetterEntry[] = []
  failing = false

  async write (entry: DeadLetterEntry): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    if (this.failing) throw new Error('disk full')
    this.entries.push(entry)
  }

  /** Every dead-lettered event, parsed. */
  events (): unknown[] {
    return this.entries.flatMap((e) => e.events.map((json) => JSON.parse(json) as unknown))
  }
}

/** A pino logger that writes into `lines`, for asserting on logs. */
export function captureLogger (level = 'debug'): { logger: Logger, lines: string[] } {
  const lines: string[] = []
  const dest = new Writable({
    write (chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean))
      cb()
    }
  })
  return { logger: pino({ level }, dest), lines }
}

/** A logger that discards everything, so expected errors do not clutter test output. */
export const silentLogger: Logger = pino({ level: 'silent' })
