/**
 * 6. What a typed schema costs record(): the same events recorded with a
 * kubernaut-shaped OpenAPI document loaded and with the generic schema.
 * The document is generated at the real one's size (94 payload schemas
 * behind a discriminator with 142 mapped event_type values), or read from
 * BENCH_OPENAPI (e.g. kubernaut's api/openapi/data-storage-v1.yaml; then
 * the events are Gateway events, which that document accepts).
 * Target: the document costs at most 1.5x the generic schema.
 */
import { createEventValidator, type AuditEvent, type OpenApiDocument } from '../../../lib/index.js'
import { recordRate, scaled, type Row } from '../common.js'
import { compare, spread } from '../harness.js'

const PAYLOADS = 94
const MAPPED = 142

const nullableString = { type: 'string', nullable: true }

/** A document shaped like kubernaut's DataStorage spec, at its size. */
export function kubernautShapedDocument (): OpenApiDocument {
  const schemas: Record<string, unknown> = {}
  const mapping: Record<string, string> = {}
  const oneOf: unknown[] = []
  for (let i = 0; i < PAYLOADS; i++) {
    const values = valuesOf(i)
    for (const value of values) mapping[value] = `#/components/schemas/Payload${i}`
    oneOf.push({ $ref: `#/components/schemas/Payload${i}` })
    schemas[`Payload${i}`] = {
      type: 'object',
      required: ['event_type', 'resource_name', 'attempt'],
      properties: {
        event_type: { type: 'string', enum: values },
        resource_name: { type: 'string', description: 'name' },
        attempt: { type: 'integer', format: 'int32', minimum: 0 },
        phase: { type: 'string', enum: ['Pending', 'Running', 'Completed', 'Failed'] },
        reason: nullableString,
        details: { $ref: '#/components/schemas/Details' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        note: { type: 'string' }
      }
    }
  }
  schemas.Details = { type: 'object', properties: { observed_at: { type: 'string', format: 'date-time' }, score: { type: 'number', format: 'double' } } }
  schemas.AuditEventRequest = {
    type: 'object',
    required: ['version', 'event_type', 'event_timestamp', 'event_category', 'event_action', 'event_outcome', 'correlation_id', 'event_data'],
    properties: {
      version: { type: 'string', minLength: 1, maxLength: 20 },
      event_type: { type: 'string', minLength: 1, maxLength: 100 },
      event_timestamp: { type: 'string', format: 'date-time' },
      event_category: { type: 'string', minLength: 1, maxLength: 50, enum: ['gateway', 'notification', 'analysis', 'aiagent', 'signalprocessing', 'workflow', 'workflowexecution', 'orchestration', 'approval', 'effectiveness', 'actiontype', 'apifrontend', 'security', 'agentsession'] },
      event_action: { type: 'string', minLength: 1, maxLength: 50 },
      event_outcome: { type: 'string', enum: ['success', 'failure', 'pending'] },
      actor_type: { type: 'string' },
      actor_id: { type: 'string' },
      actor_ip: { type: 'string', maxLength: 45 },
      resource_type: { type: 'string' },
      resource_id: { type: 'string' },
      correlation_id: { type: 'string', minLength: 1, maxLength: 255 },
      parent_event_id: { type: 'string', format: 'uuid', nullable: true },
      namespace: nullableString,
      cluster_id: nullableString,
      severity: nullableString,
      duration_ms: { type: 'integer', nullable: true },
      parent_event_date: { type: 'string', format: 'date-time', nullable: true },
      error_code: nullableString,
      error_message: nullableString,
      retention_days: { type: 'integer', nullable: true },
      is_sensitive: { type: 'boolean', nullable: true },
      event_data: { oneOf, discriminator: { propertyName: 'event_type', mapping } }
    }
  }
  return { openapi: '3.0.3', info: { title: 'bench', version: '1' }, paths: {}, components: { schemas } }
}

// The first MAPPED - PAYLOADS payloads get two values, the rest one: 142 in all.
function valuesOf (i: number): string[] {
  return i < MAPPED - PAYLOADS ? [`svc${i}.thing.created`, `svc${i}.thing.updated`] : [`svc${i}.thing.created`]
}

export function makeEvents (count: number, gateway: boolean): AuditEvent[] {
  const events: AuditEvent[] = []
  for (let i = 0; i < count; i++) {
    const p = i % PAYLOADS
    const type = gateway ? 'gateway.signal.received' : valuesOf(p)[i % valuesOf(p).length]!
    const eventData = gateway
      ? { event_type: type, signal_type: 'alert', signal_name: 'HighMemoryUsage', namespace: 'payment', fingerprint: `fp-${i}`, severity: 'warning', resource_kind: 'Deployment', resource_name: 'payment-api', occurrence_count: i % 9 }
      : { event_type: type, resource_name: `deploy-${i % 97}`, attempt: i % 5, phase: 'Running', reason: null, details: { observed_at: '2026-05-01T10:00:00Z', score: 0.25 }, labels: { app: 'payment', tier: 'web' }, note: '' }
    const event: AuditEvent = {
      version: '1.0', event_type: type, event_timestamp: '2026-05-01T10:00:00.000Z', event_category: gateway ? 'gateway' : 'orchestration',
      event_action: 'created', event_outcome: i % 17 === 0 ? 'failure' : 'success', correlation_id: `rr-${(i * 2654435761 >>> 0).toString(16)}`,
      actor_type: 'service', actor_id: 'remediation-orchestrator', resource_type: 'RemediationRequest', resource_id: `rr-${i}`,
      namespace: 'kubernaut-system', severity: 'info', duration_ms: i % 250, event_data: eventData
    }
    events.push(event)
  }
  return events
}

export async function schemaCost (reps: number): Promise<Row[]> {
  const path = process.env.BENCH_OPENAPI
  const document = path === undefined || path === '' ? kubernautShapedDocument() : path
  const pool = makeEvents(10_000, path !== undefined && path !== '')
  const validate = createEventValidator(document)
  const invalid = pool.findIndex((event) => validate(event).length > 0)
  if (invalid !== -1) throw new Error(`schema bench event ${invalid} is invalid: ${JSON.stringify(validate(pool[invalid]))}`)
  const total = scaled(1_000_000)
  const run = (openapi: OpenApiDocument | string | undefined) => (): Promise<number> => recordRate(pool, total, openapi === undefined ? {} : { openapi })
  const [g, d] = await compare([{ name: 'record(), generic schema', run: run(undefined) }, { name: 'record(), kubernaut-shaped document', run: run(document) }], { reps, warmup: 1 })
  const cost = g!.median / d!.median
  const note = `${total} events; ${typeof document === 'string' ? document : `generated document: ${PAYLOADS} payloads, ${MAPPED} mapped values`}`
  return [
    { scenario: '6. schema cost', contender: g!.name, unit: 'events/s', median: g!.median, spread: spread(g!), note },
    { scenario: '6. schema cost', contender: d!.name, unit: 'events/s', median: d!.median, spread: spread(d!), ratio: { against: 'generic (cost)', value: cost, target: '<= 1.5', met: cost <= 1.5 }, note }
  ]
}
