/**
 * Metrics options: the registry, prefix and labels {@link collectMetrics}
 * registers a store's metrics with. The registry is described here by the
 * four methods used, so the package's types need no prom-client; the metric
 * names and labels are checked where the metrics are made.
 */

/**
 * What {@link collectMetrics} needs of a prom-client `Registry`, written out
 * so that the package's types do not depend on prom-client (an optional peer):
 * any prom-client 14 or 15 `Registry` fits.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client'
 * const registry: MetricsRegistry = new Registry()
 * ```
 */
export interface MetricsRegistry {
  /** Registers a metric (prom-client calls it for each metric made with `registers`). */
  registerMetric (metric: never): void
  /** The metric registered under `name`, if any. */
  getSingleMetric (name: string): unknown
  /** Unregisters the metric called `name`. */
  removeSingleMetric (name: string): void
  /** The text exposition of every metric. */
  metrics (): Promise<string>
}

/**
 * Options of {@link collectMetrics}.
 *
 * @example
 * ```ts
 * collectMetrics(store, { registry, prefix: 'billing_audit_', labels: { region: 'eu' } })
 * ```
 */
export interface MetricsOptions {
  /**
   * The prom-client registry to register with.
   * @default prom-client's global `register`
   */
  readonly registry?: MetricsRegistry
  /**
   * Prefix of every metric name.
   * @default 'audit_'
   */
  readonly prefix?: string
  /**
   * Constant labels added to every sample, e.g. `{ service: 'billing' }`.
   * @default none
   */
  readonly labels?: Readonly<Record<string, string>>
}
