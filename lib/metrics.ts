/**
 * Prometheus metrics for a store, with prom-client (an optional peer
 * dependency, loaded only when metrics are asked for).
 */
import { createRequire } from 'node:module'
import type * as Prometheus from 'prom-client'
import type { DeadLetterEventInfo, BatchEventInfo } from './delivery/sink-events.js'
import { InvalidOptionError, MissingPeerError } from './errors.js'
import type { EndpointHealth } from './delivery/health.js'
import type { MetricsOptions } from './options/metrics.js'
import { AuditStore } from './store/store.js'
import type { DropEventInfo } from './store/drop-event.js'

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

function loadPromClient (): typeof Prometheus {
  try {
    return createRequire(import.meta.url)('prom-client') as typeof Prometheus
  } catch (err) {
    throw new MissingPeerError('prom-client', 'collectMetrics', { cause: err })
  }
}

/**
 * Registers Prometheus metrics for `store`:
 *
 * - counters `audit_events_accepted_total`, `audit_events_dropped_total{reason}`,
 *   `audit_events_written_total`, `audit_events_dead_lettered_total{reason}`,
 *   `audit_events_lost_total`, `audit_batch_retries_total`;
 * - a histogram `audit_batch_duration_seconds` (first attempt to stored);
 * - gauges `audit_events_pending` and `audit_batches_in_flight`;
 * - per DataStorage replica (label `replica`, its origin): a gauge
 *   `audit_replica_up` (1 in rotation, 0 out) and counters
 *   `audit_replica_attempts_total`, `audit_replica_stored_total` and
 *   `audit_replica_failed_total`, from `store.health().endpoints`.
 *
 * Totals are read from the store's stats at scrape time; reasons are counted
 * from its `'drop'` and `'dead-letter'` events. One store per registry and prefix.
 *
 * @param store - the store to observe
 * @param options - see {@link MetricsOptions}
 * @returns a function that stops observing and unregisters the metrics
 * @throws {@link MissingPeerError} when prom-client is not installed
 * @throws {@link InvalidOptionError} for a bad option, or names already registered
 * @example
 * ```ts
 * import { Registry } from 'prom-client'
 * const registry = new Registry()
 * collectMetrics(store, { registry, labels: { service: 'billing' } })
 * // GET /metrics → await registry.metrics()
 * ```
 */
export function collectMetrics (store: AuditStore, options: MetricsOptions = {}): () => void {
  if (!(store instanceof AuditStore)) throw new InvalidOptionError('store', 'an AuditStore', store)
  const client = loadPromClient()
  // MetricsRegistry is prom-client's Registry written structurally; a real one is all that fits.
  const registry = (options.registry as Prometheus.Registry | undefined) ?? client.register
  const prefix = options.prefix ?? 'audit_'
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) throw new InvalidOptionError('prefix', 'a Prometheus metric name prefix', prefix)
  const labels = { ...options.labels }
  for (const [name, value] of Object.entries(labels)) {
    if (!METRIC_NAME.test(name) || typeof value !== 'string') throw new InvalidOptionError(`labels.${name}`, 'a label name with a string value', value)
  }
  const names = Object.keys(labels)
  const taken = ['events_accepted_total', 'events_pending'].map((n) => prefix + n).filter((n) => registry.getSingleMetric(n) !== undefined)
  if (taken.length > 0) throw new InvalidOptionError('prefix', `a prefix whose metrics are not registered yet (${taken.join(', ')})`, prefix)

  const registers = [registry]
  const fromStats = (type: 'counter' | 'gauge', name: string, help: string, read: () => number): Prometheus.Metric => {
    const Metric = type === 'counter' ? client.Counter : client.Gauge
    return new Metric({
      name: prefix + name,
      help,
      labelNames: names,
      registers,
      collect (this: Prometheus.Counter | Prometheus.Gauge) {
        this.reset()
        this.inc(labels, read())
      }
    })
  }
  const metrics: Prometheus.Metric[] = [
    fromStats('counter', 'events_accepted_total', 'Events taken into the store.', () => store.stats().accepted),
    fromStats('counter', 'events_written_total', 'Events stored by the sink.', () => store.stats().written),
    fromStats('counter', 'events_lost_total', 'Events neither stored nor dead-lettered.', () => store.stats().lost),
    fromStats('counter', 'batch_retries_total', 'Send attempts that were retried.', () => store.stats().retries),
    fromStats('gauge', 'events_pending', 'Events in the store not settled yet.', () => store.stats().pending),
    fromStats('gauge', 'batches_in_flight', 'Batches being sent now.', () => store.stats().inFlight)
  ]
  const dropped = new client.Counter({ name: `${prefix}events_dropped_total`, help: 'Events refused or invalid, by reason.', labelNames: [...names, 'reason'], registers })
  const deadLettered = new client.Counter({ name: `${prefix}events_dead_lettered_total`, help: 'Events handed to the dead letter, by reason.', labelNames: [...names, 'reason'], registers })
  const duration = new client.Histogram({
    name: `${prefix}batch_duration_seconds`,
    help: 'Time from a batch\'s first send attempt to stored.',
    labelNames: names,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers
  })
  metrics.push(dropped, deadLettered, duration)
  const perReplica = (type: 'counter' | 'gauge', name: string, help: string, read: (e: EndpointHealth) => number): Prometheus.Metric => {
    const Metric = type === 'counter' ? client.Counter : client.Gauge
    return new Metric({
      name: prefix + name, help, labelNames: [...names, 'replica'], registers,
      collect (this: Prometheus.Counter | Prometheus.Gauge) {
        this.reset()
        for (const e of store.health().endpoints ?? []) this.inc({ ...labels, replica: e.url }, read(e))
      }
    })
  }
  metrics.push(
    perReplica('gauge', 'replica_up', 'Whether a DataStorage replica is in rotation (1) or out until a probe succeeds (0).', (e) => e.up ? 1 : 0),
    perReplica('counter', 'replica_attempts_total', 'Send attempts made to a DataStorage replica.', (e) => e.attempts),
    perReplica('counter', 'replica_stored_total', 'Batches a DataStorage replica stored.', (e) => e.stored),
    perReplica('counter', 'replica_failed_total', 'Send attempts that failed at a DataStorage replica.', (e) => e.failed)
  )
  // Zero samples for the known reasons, so a dashboard sees 0 rather than no data.
  for (const reason of ['full', 'closed', 'invalid']) dropped.inc({ ...labels, reason }, 0)
  for (const reason of ['invalid', 'rejected', 'exhausted', 'shutdown']) deadLettered.inc({ ...labels, reason }, 0)

  const onDrop = (info: DropEventInfo): void => { dropped.inc({ ...labels, reason: info.reason }, info.count) }
  const onDeadLetter = (info: DeadLetterEventInfo): void => { if (info.stored) deadLettered.inc({ ...labels, reason: info.reason }, info.count) }
  const onBatch = (info: BatchEventInfo): void => { duration.observe(labels, info.durationMs / 1000) }
  store.on('drop', onDrop)
  store.on('dead-letter', onDeadLetter)
  store.on('batch', onBatch)
  return () => {
    store.off('drop', onDrop)
    store.off('dead-letter', onDeadLetter)
    store.off('batch', onBatch)
    for (const metric of metrics) registry.removeSingleMetric((metric as unknown as { name: string }).name)
  }
}
