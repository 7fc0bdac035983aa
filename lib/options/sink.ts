/**
 * Sink options: those every {@link BatchSink} takes, and those of the
 * DataStorage HTTP client (endpoints, auth, TLS, pool and timeouts), with
 * their resolvers. A resolved DataStorage sink has at least one endpoint,
 * each of a distinct origin, and every endpoint's batch, probe and notes
 * paths carry the URL's own path as their prefix.
 */
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import { InvalidOptionError } from '../errors.js'
import { CHECKPOINTS_PATH, READY_PATH } from '../protocol/wire.js'
import { MAX_DELAY_MS, integerOption, loggerOption, objectOption } from './checks.js'
import { DEFAULTS } from './defaults.js'
import { resolveRetryOptions, type ResolvedRetryOptions, type RetryOptions } from './retry.js'

/**
 * Options every {@link BatchSink} takes. Unknown keys are ignored so subclasses can extend them.
 *
 * @example
 * ```ts
 * new DataStorageSink({ url, retry: { maxAttempts: 5, baseDelayMs: 500 }, concurrency: 2 })
 * ```
 */
export interface BatchSinkOptions {
  /** The retry policy. Each field has its own default; see {@link RetryOptions}. */
  readonly retry?: RetryOptions
  /**
   * The sink's logger. When absent, the sink uses the logger of the store it is attached to.
   * @default the store's logger
   */
  readonly logger?: Logger
  /**
   * Batches sent at the same time. With 1, a write is answered only once its batch is settled.
   * @default 1
   * Range: integer 1 to 64.
   */
  readonly concurrency?: number
}

/**
 * TLS settings for an HTTPS DataStorage service, with a client certificate for mTLS.
 *
 * @example
 * ```ts
 * new DataStorageSink({ url, tls: { ca: readFileSync('ca.pem'), cert: readFileSync('client.pem'), key: readFileSync('client.key') } })
 * ```
 */
export interface TlsOptions {
  /** CA certificate(s) to trust, PEM. @default the system's CAs */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>
  /** Client certificate chain for mTLS, PEM. @default none */
  readonly cert?: string | Buffer
  /** Client private key for mTLS, PEM. @default none */
  readonly key?: string | Buffer
  /** Whether to verify the server's certificate. @default true */
  readonly rejectUnauthorized?: boolean
}

/**
 * Options of {@link DataStorageSink}: the HTTP client of a DataStorage service.
 *
 * @example
 * ```ts
 * new DataStorageSink({ url: 'https://ds:8443', tokenFile: '/run/secrets/token', compression: 'gzip', requestTimeoutMs: 10_000 })
 * ```
 */
export interface DataStorageSinkOptions extends BatchSinkOptions {
  /**
   * The service's base URL, e.g. `https://datastorage:8443`, or the URLs of
   * several replicas of it, over which batches are spread (round robin over
   * those in rotation; a retry prefers another replica than the last attempt's).
   * Required. A path in a URL prefixes `path`.
   */
  readonly url: string | readonly string[]
  /**
   * The batch endpoint's path.
   * @default '/api/v1/audit/events/batch'
   */
  readonly path?: string
  /**
   * Extra request headers. Names are matched without regard to case: the sink's own headers
   * (`content-type`, `content-encoding`, `content-length`, `idempotency-key`, `user-agent`, and
   * `authorization` when it has a token) replace the user's, whatever their case.
   * @default none
   */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * A bearer token, or a function returning one (or a Promise of one), called before each attempt.
   * The lookup counts against the attempt's `requestTimeoutMs`; the function gets the attempt's
   * `signal`, aborted at that deadline or at shutdown.
   * @default none
   */
  readonly token?: string | ((context: { readonly signal: AbortSignal }) => string | Promise<string>)
  /**
   * A file holding the bearer token, read at start and again after a 401: rotated service-account tokens.
   * Takes precedence over `token`.
   * @default none
   */
  readonly tokenFile?: string
  /** TLS settings for HTTPS and mTLS. @default none */
  readonly tls?: TlsOptions
  /**
   * An undici Dispatcher to send through (an Agent, Pool or mock). The sink never closes it.
   * @default a Pool the sink owns and closes when it finishes
   */
  readonly dispatcher?: Dispatcher
  /**
   * Connections of the sink's own Pool.
   * @default 4
   * Range: integer 1 to 256.
   */
  readonly connections?: number
  /**
   * Deadline of one attempt, from sending the request to reading the response, in milliseconds.
   * @default 30000
   * Range: integer >= 1.
   */
  readonly requestTimeoutMs?: number
  /**
   * Request body compression. `'gzip'` sends `Content-Encoding: gzip`.
   * @default 'none'
   */
  readonly compression?: 'none' | 'gzip'
  /**
   * Batches sent at the same time. Two overlap building and sending the next
   * batch with the server's work on the current one; a flush still waits for both.
   * @default 2
   * Range: integer 1 to 64.
   */
  readonly concurrency?: number
  /**
   * How long a replica that refused a connection, timed out or answered
   * 502/503/504 stays out of rotation before `GET /health/ready` probes it;
   * doubled for each failure in a row, up to 5 s (a probe is one cheap GET). In milliseconds.
   * @default 1000
   * Range: integer 1 to 600000.
   */
  readonly replicaBackoffMs?: number
  /**
   * Interval at which endpoints that were quiet that long are probed with
   * `GET /health/ready`, so that {@link AuditStore.health} stays current
   * while no batch is sent, in milliseconds.
   * @default 10000
   * Range: integer 100 to 600000.
   */
  readonly probeIntervalMs?: number
}

/**
 * Applies the sink defaults and validates. Unknown keys are ignored.
 * @internal
 */
export function resolveSinkOptions (input: unknown): { retry: ResolvedRetryOptions, logger: Logger | undefined, concurrency: number } {
  const o = objectOption('options', input)
  return {
    retry: resolveRetryOptions(o.retry),
    logger: loggerOption('logger', o.logger),
    concurrency: integerOption('concurrency', o.concurrency, DEFAULTS.concurrency, 1, 64)
  }
}

/** DataStorage sink options with every default applied. @internal */
export interface ResolvedDataStorageSinkOptions {
  /** The first endpoint's origin and path. */
  readonly origin: string
  readonly path: string
  /** Every endpoint, in the order given. */
  readonly endpoints: ReadonlyArray<{ readonly origin: string, readonly path: string, readonly probePath: string, readonly notesPath: string }>
  readonly replicaBackoffMs: number
  readonly probeIntervalMs: number
  readonly headers: Readonly<Record<string, string>>
  readonly token: DataStorageSinkOptions['token']
  readonly tokenFile: string | undefined
  readonly tls: TlsOptions | undefined
  readonly dispatcher: Dispatcher | undefined
  readonly connections: number
  readonly requestTimeoutMs: number
  readonly compression: 'none' | 'gzip'
}

/**
 * Applies the DataStorage sink defaults and validates.
 * @internal
 * @throws {@link InvalidOptionError} naming the first bad option
 */
export function resolveDataStorageSinkOptions (input: unknown): ResolvedDataStorageSinkOptions {
  const o = objectOption('options', input)
  const list: unknown[] = Array.isArray(o.url) ? o.url as unknown[] : [o.url]
  if (list.length === 0) throw new InvalidOptionError('url', 'an http: or https: URL, or a non-empty array of them', o.url)
  const path = o.path ?? DEFAULTS.path
  if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidOptionError('path', 'a string starting with /', path)
  const endpoints = list.map((item, i) => {
    let url: URL
    try {
      url = new URL(String(item))
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol')
    } catch {
      throw new InvalidOptionError(Array.isArray(o.url) ? `url[${i}]` : 'url', 'an http: or https: URL', item)
    }
    // Only the origin and the path are used: credentials, a query or a fragment would be dropped without a word.
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
      throw new InvalidOptionError(Array.isArray(o.url) ? `url[${i}]` : 'url', 'an http: or https: URL without credentials, query or fragment (use token or headers for credentials)', url.username !== '' || url.password !== '' ? '<URL with credentials>' : item)
    }
    const prefix = url.pathname.replace(/\/+$/, '')
    // The probe goes under the URL's path too: behind a proxy that routes by prefix, /health/ready alone reaches something else.
    return { origin: url.origin, path: prefix + path, probePath: prefix + READY_PATH, notesPath: prefix + CHECKPOINTS_PATH }
  })
  if (new Set(endpoints.map((e) => e.origin)).size !== endpoints.length) throw new InvalidOptionError('url', 'URLs of distinct origins', o.url)
  const headers = objectOption('headers', o.headers)
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw new InvalidOptionError(`headers.${name}`, 'a string', value)
  }
  const token = o.token
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') {
    throw new InvalidOptionError('token', 'a string or a function returning one', token)
  }
  const tokenFile = o.tokenFile
  if (tokenFile !== undefined && (typeof tokenFile !== 'string' || tokenFile === '')) {
    throw new InvalidOptionError('tokenFile', 'a file path', tokenFile)
  }
  const dispatcher = o.dispatcher as Dispatcher | undefined
  if (dispatcher !== undefined && (typeof dispatcher !== 'object' || dispatcher === null || typeof dispatcher.request !== 'function')) {
    throw new InvalidOptionError('dispatcher', 'an undici Dispatcher', dispatcher)
  }
  const compression = o.compression ?? DEFAULTS.compression
  if (compression !== 'none' && compression !== 'gzip') throw new InvalidOptionError('compression', "'none' or 'gzip'", compression)
  return {
    origin: endpoints[0]!.origin,
    path: endpoints[0]!.path,
    endpoints,
    replicaBackoffMs: integerOption('replicaBackoffMs', o.replicaBackoffMs, DEFAULTS.replicaBackoffMs, 1, 600_000),
    probeIntervalMs: integerOption('probeIntervalMs', o.probeIntervalMs, DEFAULTS.probeIntervalMs, 100, 600_000),
    headers: headers as Record<string, string>,
    token: token as ResolvedDataStorageSinkOptions['token'],
    tokenFile,
    tls: o.tls === undefined ? undefined : objectOption('tls', o.tls) as TlsOptions,
    dispatcher,
    connections: integerOption('connections', o.connections, DEFAULTS.connections, 1, 256),
    requestTimeoutMs: integerOption('requestTimeoutMs', o.requestTimeoutMs, DEFAULTS.requestTimeoutMs, 1, MAX_DELAY_MS),
    compression
  }
}
