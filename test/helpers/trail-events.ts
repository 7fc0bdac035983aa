/**
 * Deterministic audit trails for the trail browser's tests and screenshots:
 * what a remediation looks like in kubernaut's DataStorage.
 */
import type { AuditEvent } from '../../lib/index.js'

const STEPS = [
  ['gateway.signal.received', 'gateway', 'receive', 'gateway', 'Signal'],
  ['remediation.orchestrator.lifecycle.started', 'orchestration', 'start', 'remediationorchestrator', 'RemediationRequest'],
  ['aianalysis.analysis.completed', 'analysis', 'analyze', 'aianalysis', 'AIAnalysis'],
  ['workflow.execution.started', 'workflow', 'execute', 'workflowexecution', 'Deployment'],
  ['workflow.execution.step.completed', 'workflow', 'execute', 'workflowexecution', 'Pod'],
  ['notification.message.sent', 'notification', 'send', 'notification', 'NotificationRequest']
] as const

/** The outcome of event `i`: mostly success, a burst of failures in the middle, a few pending. */
export function outcomeOf (i: number, count: number): AuditEvent['event_outcome'] {
  if (i > count * 0.55 && i < count * 0.62 && i % 3 !== 0) return 'failure'
  if (i % 17 === 0) return 'failure'
  return i % 11 === 0 ? 'pending' : 'success'
}

/** `count` events of one trail, one every `stepMs` from `start`. */
export function trailEvents (correlationId: string, count: number, start = Date.UTC(2026, 2, 14, 9, 0, 0), stepMs = 1_000): AuditEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const [type, category, action, actor, kind] = STEPS[i % STEPS.length]!
    const outcome = outcomeOf(i, count)
    return {
      version: '1.0',
      event_type: type,
      event_timestamp: new Date(start + i * stepMs).toISOString(),
      event_category: category,
      event_action: action,
      event_outcome: outcome,
      correlation_id: correlationId,
      actor_type: 'service',
      actor_id: i % 4 === 0 ? 'alice' : actor,
      resource_type: kind,
      resource_id: `${kind.toLowerCase()}-${i % 5}`,
      namespace: i % 2 === 0 ? 'payments' : 'checkout',
      severity: outcome === 'failure' ? 'high' : 'low',
      duration_ms: (i * 37) % 900,
      ...(outcome === 'failure' ? { error_code: 'ERR_TIMEOUT', error_message: 'the step did not finish within 30s' } : {}),
      event_data: { seq: i, step: type, cluster: { name: 'prod-eu-1', nodes: [i % 3, (i + 1) % 3] }, replicas: { before: 2, after: 2 + (i % 3) } }
    }
  })
}

/** Stores `events` in batches of 1000 through the server's batch endpoint. */
export async function seed (url: string, token: string | undefined, events: readonly AuditEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1_000) {
    const res = await fetch(`${url}/api/v1/audit/events/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(events.slice(i, i + 1_000))
    })
    if (res.status !== 201) throw new Error(`seeding failed: ${res.status} ${await res.text()}`)
  }
}
