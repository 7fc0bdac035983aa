import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  AbortError, AuditLossError, AuditStoreError, AuditValidationError, CloseTimeoutError, DeadLetterError,
  FlushError, InvalidOptionError, MissingPeerError, NoteFormatError, SinkError, SpoolError, StoreClosedError, TimeoutError, type StoreStats
} from '../lib/index.js'

const stats: StoreStats = { accepted: 3, dropped: 1, invalid: 0, written: 2, deadLettered: 0, lost: 0, retries: 0, batches: 1, pending: 0, inFlight: 0, recovered: 0, spooled: { events: 0, bytes: 0 }, spoolCorrupt: { bytes: 0, events: 0 } }
const cause = new Error('root cause')

const cases = [
  { make: () => new AuditValidationError([{ path: 'event_type', message: 'Expected string' }]), name: 'AuditValidationError', code: 'AUDIT_ERR_INVALID_EVENT' },
  { make: () => new InvalidOptionError('batchSize', 'an integer >= 1', 0), name: 'InvalidOptionError', code: 'AUDIT_ERR_INVALID_OPTION' },
  { make: () => new StoreClosedError(), name: 'StoreClosedError', code: 'AUDIT_ERR_CLOSED' },
  { make: () => new FlushError({ written: 1, deadLettered: 1, dropped: 0, lost: 0 }), name: 'FlushError', code: 'AUDIT_ERR_FLUSH_INCOMPLETE' },
  { make: () => new TimeoutError(), name: 'TimeoutError', code: 'AUDIT_ERR_TIMEOUT' },
  { make: () => new AbortError('aborted', { cause }), name: 'AbortError', code: 'AUDIT_ERR_ABORTED' },
  { make: () => new CloseTimeoutError(100, stats), name: 'CloseTimeoutError', code: 'AUDIT_ERR_CLOSE_TIMEOUT' },
  { make: () => new AuditLossError(stats), name: 'AuditLossError', code: 'AUDIT_ERR_LOSS' },
  { make: () => new SinkError('HTTP 503', { retryable: true, statusCode: 503, retryAfterMs: 1000, cause }), name: 'SinkError', code: 'AUDIT_ERR_SINK' },
  { make: () => new DeadLetterError('disk full', { cause }), name: 'DeadLetterError', code: 'AUDIT_ERR_DEAD_LETTER' },
  { make: () => new MissingPeerError('prom-client', 'collectMetrics', { cause }), name: 'MissingPeerError', code: 'AUDIT_ERR_MISSING_PEER' },
  { make: () => new SpoolError('disk full', { cause }), name: 'SpoolError', code: 'AUDIT_ERR_SPOOL' },
  { make: () => new NoteFormatError('missing line'), name: 'NoteFormatError', code: 'AUDIT_ERR_NOTE_FORMAT' }
]

for (const { make, name, code } of cases) {
  test(`${name} carries name ${name}, code ${code} and is an AuditStoreError`, () => {
    const err = make()
    assert.equal(err.name, name)
    assert.equal(err.code, code)
    assert.ok(err instanceof AuditStoreError)
    assert.ok(err instanceof Error)
    assert.ok(err.message.length > 0)
  })
}

test('codes are unique across error classes', () => {
  const codes = cases.map((c) => c.make().code)
  assert.equal(new Set(codes).size, codes.length)
})

test('wrapping errors keep the original as cause', () => {
  assert.equal(new AbortError('x', { cause }).cause, cause)
  assert.equal(new SinkError('x', { retryable: false, cause }).cause, cause)
  assert.equal(new DeadLetterError('x', { cause }).cause, cause)
})

test('InvalidOptionError names the option, the expectation and the value received', () => {
  const err = new InvalidOptionError('batchSize', 'an integer >= 1', 0)
  assert.equal(err.message, 'Expected `batchSize` to be an integer >= 1, got `0` (number)')
  assert.equal(err.option, 'batchSize')
})

test('FlushError and AuditLossError carry their counts', () => {
  const result = { written: 5, deadLettered: 2, dropped: 1, lost: 0 }
  assert.deepEqual(new FlushError(result).result, result)
  assert.deepEqual(new AuditLossError(stats).stats, stats)
  assert.match(new FlushError(result).message, /2 dead-lettered, 1 dropped/)
})

test('SinkError carries its classification', () => {
  const err = new SinkError('HTTP 429', { retryable: true, statusCode: 429, retryAfterMs: 2000 })
  assert.equal(err.retryable, true)
  assert.equal(err.statusCode, 429)
  assert.equal(err.retryAfterMs, 2000)
})

test('AuditValidationError lists each issue in its message', () => {
  const err = new AuditValidationError([{ path: 'event_type', message: 'Expected string' }, { path: '', message: 'too big' }])
  assert.equal(err.issues.length, 2)
  assert.match(err.message, /event_type: Expected string; too big/)
})
