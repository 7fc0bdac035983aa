/**
 * Readiness of a store for its host: whether audit delivery works right now,
 * as a summary an orchestrator's readiness probe can act on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'

/** A store's buffer is "high" from this share of `bufferSize` pending. */
const HIGH_WATER_RATIO = 0.8
/** How long a success (a delivery or a probe) counts as "answered recently", in milliseconds. */
const ANSWERED_WINDOW_MS = 30_000

/**
 * One DataStorage endpoint as the sink sees it.
 *
 * @example
 * ```ts
 * for (const e of store.health().endpoints ?? []) console.log(e.url, e.up, e.stored)
 * ```
 */
export interface EndpointHealth {
  /** The endpoint's origin, e.g. `http://10.0.0.7:8080`. */
  readonly url: string
  /** Whether it is in rotation: `false` while it is backed off after failures, until a probe of `/health/ready` succeeds. */
  readonly up: boolean
  /** Send attempts made to it. */
  readonly attempts: number
  /** Batches it stored. */
  readonly stored: number
  /** Attempts that failed there (refused, timed out, 5xx or any other error). */
  readonly failed: number
  /** Failures in a row since its last success. */
  readonly consecutiveFailures: number
  /** Milliseconds since it last stored a batch or answered a probe with 200, if it ever did. */
  readonly lastAnsweredMsAgo?: number
}

/**
 * What {@link AuditStore.health} answers.
 *
 * @example
 * ```ts
 * const { ready, reasons } = store.health()
 * if (!ready) log.warn({ reasons }, 'audit delivery not ready')
 * ```
 */
export interface StoreHealth {
  /** Whether the store can deliver: an endpoint answered recently, and the buffer is below its high-water mark. */
  readonly ready: boolean
  /** Why it is not ready; empty when it is. */
  readonly reasons: string[]
  /** Per-endpoint health, for a sink that has endpoints ({@link DataStorageSink}). */
  readonly endpoints?: readonly EndpointHealth[]
}

/** Symbol under which a sink offers its {@link DeliveryHealth}. @internal */
export const kDeliveryHealth = Symbol('audit-stream.delivery-health')

/**
 * When a sink last reached its destination. A sink that probes (the
 * DataStorage sink probes `/health/ready` while idle) must keep answering;
 * for one that cannot, an idle store with nothing pending is not held to it.
 * @internal
 */
export class DeliveryHealth {
  // performance.now() of the last delivery or probe that succeeded; undefined until one has.
  #answeredAt: number | undefined
  readonly #probes: boolean
  readonly #endpoints: (() => EndpointHealth[]) | undefined
  // Called on every summary: a sink starts probing idle endpoints once someone watches its health.
  readonly #onWatched: (() => void) | undefined

  constructor (options: { probes: boolean, endpoints?: () => EndpointHealth[], onWatched?: () => void }) {
    this.#probes = options.probes
    this.#endpoints = options.endpoints
    this.#onWatched = options.onWatched
  }

  /** A delivery or a probe succeeded. */
  answered (now = performance.now()): void {
    this.#answeredAt = now
  }

  /** The summary for a store in `state`. */
  summary (state: { readonly pending: number, readonly bufferSize: number, readonly closing: boolean, readonly spoolFailed?: boolean }, now = performance.now()): StoreHealth {
    this.#onWatched?.()
    const reasons: string[] = []
    if (state.closing) reasons.push('the store is closing')
    if (this.#answeredAt === undefined) reasons.push('no DataStorage endpoint has answered yet')
    else if (now - this.#answeredAt > ANSWERED_WINDOW_MS && (this.#probes || state.pending > 0)) {
      reasons.push(`no DataStorage endpoint answered in the last ${ANSWERED_WINDOW_MS / 1000} s`)
    }
    const highWater = Math.ceil(state.bufferSize * HIGH_WATER_RATIO)
    if (state.pending >= highWater) reasons.push(`the buffer is above its high-water mark (${state.pending} of ${state.bufferSize} events pending)`)
    if (state.spoolFailed === true) reasons.push('the spool is not writable (delivering from memory only)')
    const endpoints = this.#endpoints?.()
    // An answer in the last 30 s says little once every replica has since been taken out of rotation.
    if (endpoints !== undefined && endpoints.length > 0 && endpoints.every((e) => !e.up)) reasons.push('every DataStorage endpoint is out of rotation')
    return { ready: reasons.length === 0, reasons, ...(endpoints === undefined ? {} : { endpoints }) }
  }
}

/**
 * The sink's health tracker, or a new one for a sink that offers none.
 * @internal
 */
export function deliveryHealthOf (sink: object): DeliveryHealth {
  const offered = (sink as { [kDeliveryHealth]?: unknown })[kDeliveryHealth]
  return offered instanceof DeliveryHealth ? offered : new DeliveryHealth({ probes: false })
}

// A Fastify-style reply: code(), header() and send(), written out in the signature so that typedoc shows it.
type ReplyLike = { code (statusCode: number): unknown, header (name: string, value: string): unknown, send (body: string): unknown }

/**
 * A readiness endpoint for a store: answers 200 when `store.health()` is
 * ready and 503 when not, with `{ ready, reasons, endpoints }` as JSON and
 * `cache-control: no-store`. Works as a handler of Node's `http` server, of
 * Express (`(req, res)`), and of Fastify (`(request, reply)`).
 *
 * @param store - anything with a synchronous `health()`, normally an {@link AuditStore}
 * @returns a `(req, res)` handler
 * @example
 * ```ts
 * // Kubernetes: readinessProbe: { httpGet: { path: /ready, port: 8080 } }
 * const ready = readinessHandler(store)
 * http.createServer((req, res) => req.url === '/ready' ? ready(req, res) : app(req, res)).listen(8080)
 * // Express: app.get('/ready', readinessHandler(store))
 * // Fastify: fastify.get('/ready', readinessHandler(store))
 * ```
 */
export function readinessHandler (store: { health (): StoreHealth }): (req: IncomingMessage | unknown, res: ServerResponse | { code (statusCode: number): unknown, header (name: string, value: string): unknown, send (body: string): unknown }) => void {
  return (_req, res) => {
    const health = store.health()
    const statusCode = health.ready ? 200 : 503
    const body = JSON.stringify(health)
    if (typeof (res as ReplyLike).code === 'function' && typeof (res as ReplyLike).send === 'function') {
      const reply = res as ReplyLike
      reply.code(statusCode)
      reply.header('content-type', 'application/json')
      reply.header('cache-control', 'no-store')
      reply.send(body)
      return
    }
    const http = res as ServerResponse
    http.writeHead(statusCode, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) })
    http.end(body)
  }
}
