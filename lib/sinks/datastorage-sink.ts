/**
 * The production sink: an HTTP client of a DataStorage service's audit API,
 * over undici.
 */
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { Pool } from 'undici'
import { batchBuffer, type Batch } from '../batching/batch.js'
import { BatchSink } from '../delivery/batch-sink.js'
import type { NotesContext, SendContext } from '../delivery/send-context.js'
import { InvalidOptionError, SinkError } from '../errors.js'
import { DeliveryHealth, kDeliveryHealth, type EndpointHealth } from '../delivery/health.js'
import { DEFAULTS } from '../options/defaults.js'
import { resolveDataStorageSinkOptions, type DataStorageSinkOptions, type ResolvedDataStorageSinkOptions } from '../options/sink.js'
import { ReplicaSet, type Replica } from './replica-set.js'
import { HEAD_HEADER, LANE_HEADER, LANE_HEADERS, PREV_HASH_HEADER, PRODUCER_HEADER, SEQ_HEADER } from '../protocol/wire.js'
import { statusError } from '../delivery/retry-policy.js'
import { parseProblem, parseRetryAfter, readLimited } from './error-response.js'

const gzipAsync = promisify(gzip)
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string }
const USER_AGENT = `audit-stream/${version}`

/**
 * Sends batches to `POST {url}{path}` as a JSON array built from the
 * already-serialized events, with the batch id as `idempotency-key` on every
 * attempt. 201 and 202 count as stored.
 *
 * With several URLs (replicas of the service behind no load balancer, or
 * several load balancers), batches are spread over them round robin; a
 * replica that refuses connections, times out or answers 502/503/504 is out
 * of rotation for `replicaBackoffMs` (doubling) until `GET /health/ready`
 * answers 200, and a retry prefers another replica than the last attempt's,
 * with the same idempotency key. {@link DataStorageSink.replicas} and
 * `store.health().endpoints` give per-replica health and counts.
 *
 * Failures are classified by the retry policy of {@link BatchSink}: network errors,
 * attempt timeouts, 408/425/429, 5xx (but 501 and 505), 401 and 403 are
 * retried, honouring `Retry-After`; 400/422 and 413 split the batch in halves
 * so that only the events the server really refuses reach the dead letter;
 * other 4xx dead-letter the batch as `rejected`.
 *
 * @example
 * ```ts
 * const sink = new DataStorageSink({
 *   url: 'https://datastorage.internal:8443',
 *   tokenFile: '/var/run/secrets/tokens/datastorage',
 *   compression: 'gzip'
 * })
 * const store = createAuditStore({ sink, deadLetter: new FileDeadLetter({ dir: '/var/lib/app/audit-dlq' }) })
 * // Three replicas:
 * new DataStorageSink({ url: ['http://ds-0.ds:8080', 'http://ds-1.ds:8080', 'http://ds-2.ds:8080'] })
 * ```
 */
export class DataStorageSink extends BatchSink {
  readonly #options: ResolvedDataStorageSinkOptions
  readonly #replicas: ReplicaSet
  // The replica of each batch's last attempt, so that its retry goes elsewhere.
  readonly #lastReplica = new WeakMap<Batch, Replica>()
  // Only Pools we made are ours to close; an injected dispatcher belongs to the caller.
  readonly #ownsDispatcher: boolean
  /** @internal */
  readonly [kDeliveryHealth]: DeliveryHealth
  // Invariant: the token file's content as last read; re-read after a 401.
  #fileToken: string | undefined
  #fileTokenStale = false
  // The user's headers by lowercase name, without those the sink always sets itself.
  readonly #userHeaders: Record<string, string>

  /**
   * @param options - see {@link DataStorageSinkOptions}
   * @throws {@link InvalidOptionError} for a bad option, or a `tokenFile` that cannot be read
   */
  constructor (options: DataStorageSinkOptions) {
    super({ ...options, concurrency: options.concurrency ?? DEFAULTS.dataStorageConcurrency })
    this.#options = resolveDataStorageSinkOptions(options)
    if (this.#options.tokenFile !== undefined) {
      try {
        this.#fileToken = readFileSync(this.#options.tokenFile, 'utf8').trim()
      } catch (err) {
        throw new InvalidOptionError('tokenFile', `a readable file (${(err as Error).message})`, this.#options.tokenFile)
      }
    }
    this.#userHeaders = userHeaders(this.#options.headers)
    this.#ownsDispatcher = this.#options.dispatcher === undefined
    const poolOptions: Pool.Options = { connections: this.#options.connections }
    if (this.#options.tls !== undefined) poolOptions.connect = { ...this.#options.tls } as NonNullable<Pool.Options['connect']>
    const injected = this.#options.dispatcher
    this.#replicas = new ReplicaSet(this.#options.endpoints, (origin) => injected ?? new Pool(origin, poolOptions), {
      backoffMs: this.#options.replicaBackoffMs,
      probeIntervalMs: this.#options.probeIntervalMs,
      onAnswered: () => this[kDeliveryHealth].answered()
    })
    this[kDeliveryHealth] = new DeliveryHealth({ probes: true, endpoints: () => this.#replicas.health(), onWatched: () => this.#replicas.watch() })
  }

  /** The URL batches are posted to (the first replica's, with several URLs). */
  get endpoint (): string {
    return this.#options.origin + this.#options.path
  }

  /**
   * Per-replica health and counts: whether each is in rotation, its
   * attempts, stored batches and failures.
   * @returns one entry per URL, in the order given
   * @example
   * ```ts
   * for (const r of sink.replicas()) console.log(r.url, r.up ? 'up' : 'out', r.stored, r.failed)
   * ```
   */
  replicas (): EndpointHealth[] {
    return this.#replicas.health()
  }

  /**
   * Posts one batch.
   * @param batch - the batch; its id is the idempotency key
   * @param ctx - the shutdown signal and the attempt number
   * @throws {@link SinkError} classifying the failure
   */
  protected async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    const replica = this.#replicas.pick(this.#lastReplica.get(batch))
    this.#lastReplica.set(batch, replica)
    const trail = batch.trail
    const headers: Record<string, string> = { 'idempotency-key': batch.id }
    if (trail !== undefined) {
      headers[PRODUCER_HEADER] = trail.producerId
      headers[LANE_HEADER] = String(trail.lane)
      headers[SEQ_HEADER] = String(trail.seq)
      headers[PREV_HASH_HEADER] = trail.prev.toString('hex')
      headers[HEAD_HEADER] = trail.hashes.subarray(trail.hashes.length - 32).toString('hex')
    }
    await this.#post(replica, replica.path, () => batchBuffer(batch), headers, ctx.signal)
  }

  /**
   * Posts trail notes to `POST /api/v1/audit/checkpoints` (under the URL's
   * path), with the signing key's public half so that the server can pin it.
   * @returns false when the server has no such endpoint (404 or 405)
   * @throws {@link SinkError} classifying any other failure
   */
  protected override async sendNotes (notes: readonly string[], ctx: NotesContext): Promise<boolean> {
    const replica = this.#replicas.pick()
    const body = { notes, ...(ctx.publicKeyPem === undefined ? {} : { public_key: ctx.publicKeyPem }) }
    try {
      await this.#post(replica, replica.notesPath, () => Buffer.from(JSON.stringify(body), 'utf8'), {}, ctx.signal)
    } catch (err) {
      if (err instanceof SinkError && (err.statusCode === 404 || err.statusCode === 405)) return false
      throw err
    }
    return true
  }

  // One attempt: POST `body()` to `path` on `replica`, with the sink's headers, token and deadline.
  async #post (replica: Replica, path: string, body: () => Buffer, own: Record<string, string>, shutdown: AbortSignal): Promise<void> {
    // One deadline for the whole attempt, token lookup included; undici's own timers tick at about 1 s.
    const attempt = new AbortController()
    const timeoutMs = this.#options.requestTimeoutMs
    const timer = setTimeout(() => attempt.abort(new SinkError(`request timed out after ${timeoutMs} ms`, { retryable: true })), timeoutMs)
    timer.unref()
    const onShutdown = (): void => attempt.abort(shutdown.reason)
    if (shutdown.aborted) onShutdown()
    else shutdown.addEventListener('abort', onShutdown, { once: true })
    replica.attempts++
    try {
      const json = body()
      const compressed = this.#options.compression === 'gzip' ? await gzipAsync(json) : json
      // User headers first, by lowercase name, so that the sink's own replace them whatever their case.
      const headers: Record<string, string> = { ...this.#userHeaders, ...own }
      headers['content-type'] = 'application/json'
      headers['user-agent'] = USER_AGENT
      if (this.#options.compression === 'gzip') headers['content-encoding'] = 'gzip'
      const token = await this.#token(attempt.signal)
      if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`
      const response = await replica.dispatcher.request({
        origin: replica.origin,
        path,
        method: 'POST',
        headers,
        body: compressed,
        signal: attempt.signal
      })
      if (response.statusCode >= 200 && response.statusCode < 300) {
        await response.body.dump()
        this.#replicas.succeeded(replica)
        return
      }
      const text = await readLimited(response.body)
      // A 401 may mean a renewed token: the file is read again before the next attempt.
      if (response.statusCode === 401 && this.#options.tokenFile !== undefined) this.#fileTokenStale = true
      throw statusError(response.statusCode, parseProblem(text), parseRetryAfter(response.headers['retry-after']))
    } catch (err) {
      // Timed out (undici rejects with the signal's reason, itself a SinkError): the replica cannot take requests now.
      if (attempt.signal.aborted && attempt.signal.reason instanceof SinkError) {
        this.#replicas.failed(replica, true)
        throw attempt.signal.reason
      }
      if (err instanceof SinkError) {
        // An HTTP answer: only a gateway or unavailable one takes the replica out of rotation.
        this.#replicas.failed(replica, err.statusCode === 502 || err.statusCode === 503 || err.statusCode === 504)
        throw err
      }
      // Refused or reset: the replica cannot take requests now. A shutdown is not its fault.
      if (shutdown.aborted) throw err
      this.#replicas.failed(replica, true)
      const code = (err as { code?: unknown }).code
      throw new SinkError(`request failed: ${typeof code === 'string' ? code : (err as Error).message}`, { retryable: true, cause: err })
    } finally {
      clearTimeout(timer)
      shutdown.removeEventListener('abort', onShutdown)
    }
  }

  /** Stops probing and closes the sink's own Pools; an injected dispatcher is left open. */
  protected override async release (): Promise<void> {
    this.#replicas.close()
    if (this.#ownsDispatcher) await Promise.all(this.#replicas.dispatchers.map((d) => d.close()))
  }

  // Bounded by the attempt's signal: a hanging token function or file read cannot hold the attempt.
  async #token (signal: AbortSignal): Promise<string | undefined> {
    const { tokenFile, token } = this.#options
    if (tokenFile !== undefined) {
      if (this.#fileTokenStale) {
        try {
          // untilAborted as well: an open() that blocks (a FIFO, a hung mount) does not see the signal.
          this.#fileToken = (await untilAborted(readFile(tokenFile, { encoding: 'utf8', signal }), signal)).trim()
          this.#fileTokenStale = false
        } catch (err) {
          if (signal.aborted) throw err
          this.#fileTokenStale = false
          this.log.warn({ err, tokenFile }, 'token file could not be read')
        }
      }
      return this.#fileToken
    }
    if (typeof token !== 'function') return token
    try {
      return await untilAborted(Promise.resolve().then(() => token({ signal })), signal)
    } catch (err) {
      if (signal.aborted) throw err
      throw new SinkError('token lookup failed', { retryable: true, cause: err })
    }
  }
}

// content-length and content-encoding describe the body the sink builds; a user's would corrupt it.
const SINK_HEADERS = new Set(['content-type', 'content-encoding', 'content-length', 'idempotency-key', 'user-agent', ...LANE_HEADERS])

function userHeaders (headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const merged: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase()
    if (!SINK_HEADERS.has(lower)) merged[lower] = value
  }
  return merged
}

// Settles with `promise`, or rejects with the signal's reason when it aborts first.
function untilAborted<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value) },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err as Error) }
    )
  })
}
