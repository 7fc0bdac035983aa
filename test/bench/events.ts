/**
 * Benchmark events: realistic audit events of a chosen serialized size.
 */
import { newAuditEvent, type AuditEvent } from '../../lib/index.js'

const ACTIONS = ['create', 'update', 'delete', 'read', 'approve']

/** `count` distinct events of about `bytes` bytes serialized (at least ~350). */
export function makeEvents (count: number, bytes = 500): AuditEvent[] {
  const events: AuditEvent[] = []
  for (let i = 0; i < count; i++) {
    const event = newAuditEvent({
      event_type: `order.${ACTIONS[i % ACTIONS.length]}`,
      event_category: 'orders',
      event_action: ACTIONS[i % ACTIONS.length]!,
      event_outcome: i % 17 === 0 ? 'failure' : 'success',
      correlation_id: `req-${(i * 2654435761 >>> 0).toString(16)}`,
      actor_type: 'user',
      actor_id: `user-${i % 997}`,
      actor_ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      resource_type: 'order',
      resource_id: `order-${100000 + i}`,
      namespace: 'shop',
      severity: 'info',
      duration_ms: i % 250,
      event_data: {
        order_id: 100000 + i,
        items: [{ sku: `SKU-${i % 311}`, qty: 1 + (i % 3), price_cents: 1999 }, { sku: `SKU-${i % 173}`, qty: 1, price_cents: 499 }],
        currency: 'EUR',
        channel: i % 2 === 0 ? 'web' : 'mobile',
        note: ''
      }
    })
    const size = Buffer.byteLength(JSON.stringify(event))
    ;(event.event_data as { note: string }).note = 'x'.repeat(Math.max(0, bytes - size))
    events.push(event)
  }
  return events
}

/** The mean serialized size of `events`. */
export function meanBytes (events: readonly AuditEvent[]): number {
  return events.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0) / events.length
}
