/**
 * The public types are the contract. `npm run typecheck` compiles this file,
 * so each `@ts-expect-error` fails the build if a type loosens; the runtime
 * test pins the list of public exports.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as api from '../lib/index.js'
import * as serverApi from '../lib/server/index.js'
import type { AuditEvent, AuditStoreOptions, FlushResult, StoreStats, Batch, SendContext } from '../lib/index.js'
import { BatchSink, MemorySink, createAuditStore, newAuditEvent } from '../lib/index.js'

// Compile-time checks: none of these run.
function typeChecks (): void {
  const store = createAuditStore({ sink: new MemorySink() })
  const accepted: boolean = store.record(newAuditEvent({ event_type: 't', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: 'x' }))
  const flushed: Promise<FlushResult> = store.flush({ timeoutMs: 10 })
  const closed: Promise<StoreStats> = store.close()
  void [accepted, flushed, closed]

  // @ts-expect-error event_outcome is a closed union
  store.record({ ...newAuditEvent({ event_type: 't', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: 'x' }), event_outcome: 'maybe' })
  // @ts-expect-error correlation_id is required
  const missing: AuditEvent = { version: '1', event_type: 't', event_timestamp: '', event_category: 'c', event_action: 'a', event_outcome: 'success', event_data: {} }
  // @ts-expect-error sink is required
  const noSink: AuditStoreOptions = { batchSize: 10 }
  // @ts-expect-error options are readonly
  new MemorySink().events = []
  void [missing, noSink]

  class Custom extends BatchSink {
    protected async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
      const id: string = batch.id
      const events: readonly string[] = batch.events
      const signal: AbortSignal = ctx.signal
      void [id, events, signal]
    }
  }
  void Custom
}
void typeChecks

test('the public surface is exactly the documented exports', () => {
  assert.deepEqual(Object.keys(api).sort(), [
    'AbortError', 'AuditEventSchema', 'AuditLossError', 'AuditStore', 'AuditStoreError', 'AuditValidationError',
    'BatchSink', 'CloseTimeoutError', 'DEAD_LETTER_FILE_PREFIX', 'DEFAULTS', 'DataStorageSink', 'DeadLetterError', 'FileDeadLetter',
    'FlushError', 'InvalidOptionError', 'MemorySink', 'MissingPeerError', 'SinkError', 'StoreClosedError', 'TimeoutError',
    'batchBody', 'batchBuffer', 'collectMetrics', 'createAuditStore', 'installShutdownHandler', 'newAuditEvent', 'replayDeadLetters', 'validateAuditEvent'
  ])
  assert.deepEqual(Object.keys(serverApi).sort(), ['InvalidOptionError', 'MissingPeerError', 'startDataStorageServer'])
})
