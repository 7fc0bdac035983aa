/**
 * Shared test fixtures: events, an in-memory dead letter and loggers. The
 * test sink is ScriptedSink (scripted-sink.ts).
 */
import { pino, type Logger } from 'pino'
import { Writable } from 'node:stream'
import { newAuditEvent, type AuditEvent, type DeadLetter, type DeadLetterEntry } from '../../lib/index.js'

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
