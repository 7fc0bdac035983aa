/**
 * The DataStorage replicas a {@link DataStorageSink} sends to, each over its
 * own undici Pool, with failover.
 *
 * Why not undici's BalancedPool: it picks the upstream itself (weighted by
 * its own error count), so a retry cannot ask for "another replica than the
 * last attempt's"; it has no notion of a replica out of rotation until a
 * probe of `/health/ready` succeeds; and it exposes no per-upstream counts.
 * A Pool per origin with the selection below gives all three.
 *
 * Rotation: a replica that refuses connections, times out or answers
 * 502/503/504 is taken out for `backoffMs`, doubled per failure in a row up
 * to {@link MAX_BACKOFF_MS}; once that has passed, `GET /health/ready` is
 * probed and only a 200 puts it back. When every replica is out, the one due
 * soonest is used anyway: the sink's retry budget, not the rotation, decides
 * when to give up. With one URL nothing is ever taken out.
 */
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import type { EndpointHealth } from '../delivery/health.js'

/** Longest time a replica stays out before it is probed, in milliseconds. */
const MAX_BACKOFF_MS = 5_000
/** Longest wait for a probe's answer, in milliseconds. */
const PROBE_TIMEOUT_MS = 5_000

/** One replica. @internal */
export interface Replica {
  readonly origin: string
  readonly path: string
  // `/health/ready` under the URL's own path prefix.
  readonly probePath: string
  readonly notesPath: string
  readonly dispatcher: Dispatcher
  // Invariant: false from a failure that took it out until a probe answered 200.
  up: boolean
  // performance.now() from which a probe may try it; meaningful while !up.
  dueAt: number
  // Set while a probe of it is under way: one at a time.
  probing: boolean
  // performance.now() of its last stored batch or 200 probe.
  answeredAt: number | undefined
  attempts: number
  stored: number
  failed: number
  consecutiveFailures: number
}

/** @internal */
export class ReplicaSet {
  readonly #replicas: Replica[]
  readonly #backoffMs: number
  readonly #probeIntervalMs: number
  readonly #onAnswered: () => void
  // Round-robin cursor over the replicas in rotation.
  #next = 0
  // Probes due replicas; unref'd, cleared by close(). Idle replicas are probed only once health is watched.
  #timer: NodeJS.Timeout | undefined
  #watched = false
  #closed = false
  // Aborts the probes under way on close(), so that closing the Pools does not wait for an unresponsive replica.
  readonly #closing = new AbortController()

  constructor (endpoints: ReadonlyArray<{ origin: string, path: string, probePath: string, notesPath: string }>, dispatcherFor: (origin: string) => Dispatcher, options: { backoffMs: number, probeIntervalMs: number, onAnswered: () => void }) {
    this.#replicas = endpoints.map((e) => ({
      origin: e.origin, path: e.path, probePath: e.probePath, notesPath: e.notesPath, dispatcher: dispatcherFor(e.origin), up: true, dueAt: 0, probing: false,
      answeredAt: undefined, attempts: 0, stored: 0, failed: 0, consecutiveFailures: 0
    }))
    this.#backoffMs = options.backoffMs
    this.#probeIntervalMs = options.probeIntervalMs
    this.#onAnswered = options.onAnswered
    if (this.#replicas.length > 1) this.#startTimer()
  }

  /** The replica for the next attempt: in rotation, round robin, not `avoid` when another is in rotation. */
  pick (avoid?: Replica): Replica {
    const up = this.#replicas.filter((r) => r.up)
    const others = up.filter((r) => r !== avoid)
    const candidates = others.length > 0 ? others : up
    if (candidates.length > 0) return candidates[this.#next++ % candidates.length]!
    // Every replica is out: the one due soonest, preferring another than the last.
    const byDue = [...this.#replicas].sort((a, b) => a.dueAt - b.dueAt)
    return byDue.find((r) => r !== avoid) ?? byDue[0]!
  }

  /** An attempt stored its batch there. */
  succeeded (replica: Replica): void {
    replica.stored++
    replica.consecutiveFailures = 0
    replica.up = true
    replica.answeredAt = performance.now()
    this.#onAnswered()
  }

  /** An attempt failed there; `takeOut` for a replica that cannot take requests (refused, timed out, 502/503/504). */
  failed (replica: Replica, takeOut: boolean): void {
    replica.failed++
    replica.consecutiveFailures++
    if (takeOut && this.#replicas.length > 1) this.#takeOut(replica)
  }

  /** Starts probing idle replicas too, so that a watched health stays current without traffic. */
  watch (): void {
    if (this.#watched || this.#closed) return
    this.#watched = true
    this.#startTimer()
    this.#tick()
  }

  /** Per-replica health and counts. */
  health (): EndpointHealth[] {
    const now = performance.now()
    return this.#replicas.map((r) => ({
      url: r.origin, up: r.up, attempts: r.attempts, stored: r.stored, failed: r.failed, consecutiveFailures: r.consecutiveFailures,
      ...(r.answeredAt === undefined ? {} : { lastAnsweredMsAgo: Math.round(now - r.answeredAt) })
    }))
  }

  /** Stops probing. The dispatchers are the sink's to close. */
  close (): void {
    this.#closed = true
    clearInterval(this.#timer)
    this.#closing.abort()
  }

  get dispatchers (): Dispatcher[] {
    return this.#replicas.map((r) => r.dispatcher)
  }

  #takeOut (replica: Replica): void {
    const wait = Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2 ** Math.min(20, replica.consecutiveFailures - 1))
    replica.up = false
    replica.dueAt = performance.now() + wait
  }

  #startTimer (): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setInterval(() => this.#tick(), Math.min(this.#backoffMs, this.#probeIntervalMs, 1_000))
    this.#timer.unref()
  }

  #tick (): void {
    const now = performance.now()
    for (const r of this.#replicas) {
      if (r.probing) continue
      const due = r.up
        ? this.#watched && (r.answeredAt === undefined || now - r.answeredAt >= this.#probeIntervalMs)
        : now >= r.dueAt
      if (due) this.#probe(r)
    }
  }

  #probe (replica: Replica): void {
    replica.probing = true
    void ready(replica, this.#closing.signal).then((ok) => {
      replica.probing = false
      if (this.#closed) return
      if (ok) {
        replica.up = true
        replica.consecutiveFailures = 0
        replica.answeredAt = performance.now()
        this.#onAnswered()
      } else if (this.#replicas.length > 1) {
        replica.consecutiveFailures++
        this.#takeOut(replica)
      }
    })
  }
}

// Whether the replica's readiness answers 200; any error is a no.
async function ready (replica: Replica, closing: AbortSignal): Promise<boolean> {
  try {
    const res = await replica.dispatcher.request({ origin: replica.origin, path: replica.probePath, method: 'GET', signal: AbortSignal.any([closing, AbortSignal.timeout(PROBE_TIMEOUT_MS)]) })
    await res.body.dump()
    return res.statusCode === 200
  } catch {
    return false
  }
}
