/**
 * The public types are the contract. `npm run typecheck` compiles this file,
 * so each `@ts-expect-error` fails the build if a type loosens; the runtime
 * test pins the list of public exports.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as api from '../../lib/index.js'
import * as serverApi from '../../lib/server/index.js'
import type { AuditEvent, AuditStoreOptions, FlushResult, StoreStats, Batch, SendContext, EventValidator, ValidationIssue } from '../../lib/index.js'
import { BatchSink, MemorySink, createAuditStore, createEventValidator, newAuditEvent } from '../../lib/index.js'

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

  // The spec's nullable fields take null; an OpenAPI document is an option; a validator returns issues.
  const nullable: AuditEvent = { ...newAuditEvent({ event_type: 't', event_category: 'c', event_action: 'a', event_outcome: 'success', correlation_id: 'x' }), namespace: null, duration_ms: null, is_sensitive: null, parent_event_id: null, parent_event_date: null }
  const withDoc: AuditStoreOptions = { sink: new MemorySink(), openapi: './data-storage-v1.yaml' }
  const validator: EventValidator = createEventValidator({ openapi: '3.0.3' })
  const issues: ValidationIssue[] = validator(nullable)
  // @ts-expect-error actor_id is not nullable in the spec
  const notNullable: AuditEvent = { ...nullable, actor_id: null }
  void [withDoc, issues, notNullable]

  // A subclass of its own, not the test suite's ScriptedSink: what this checks is that users can write one.
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
    'AbortError', 'AuditEventSchema', 'AuditLossError', 'AuditStore', 'AuditStoreError', 'AuditValidationError', 'BatchSink', 'CloseTimeoutError',
    'DEAD_LETTER_FILE_PREFIX', 'DEFAULTS', 'DataStorageSink', 'DeadLetterError', 'FileDeadLetter', 'FlushError', 'GENESIS', 'InvalidOptionError',
    'MAX_EVENT_DATA_DEPTH', 'MemorySink', 'MissingPeerError', 'NoteFormatError', 'NoteSigner', 'SinkError', 'SpoolError', 'StoreClosedError',
    'TimeoutError', 'batchBody', 'batchBuffer', 'chainEvents', 'chainHash', 'collectMetrics', 'createAuditStore', 'createEventValidator',
    'eventDigest', 'formatNote', 'installShutdownHandler', 'laneOf', 'newAuditEvent', 'noteVerifies', 'parseNote', 'parseNotes', 'publicKeyOf',
    'readinessHandler', 'replayDeadLetters', 'servedMatchesRaw', 'validateAuditEvent', 'verifyChain'
  ])
  assert.deepEqual(Object.keys(serverApi).sort(), ['InvalidOptionError', 'MissingPeerError', 'startDataStorageServer'])
})
