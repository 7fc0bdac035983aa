import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Agent } from 'undici'
import { DataStorageSink, FlushError, createAuditStore, type AuditStore, type DataStorageSinkOptions } from '../../lib/index.js'
import { parseRetryAfter } from '../../lib/sinks/error-response.js'
import { startFaultServer, created, problem, type FaultServer, type Handler } from '../helpers/fault-server.js'
import { MemoryDeadLetter, captureLogger, makeEvent, seqs, silentLogger } from '../helpers/fixtures.js'
import { startTcpGate } from '../helpers/tcp-gate.js'
import { makeTlsMaterial } from '../helpers/tls.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait-for.js'

const fastRetry = { baseDelayMs: 5, maxDelayMs: 2_000, jitter: 0 }

async function setup (t: { after: (fn: () => Promise<void>) => void }, handler: Handler, sinkOptions: Partial<DataStorageSinkOptions> = {}, storeOptions: Record<string, unknown> = {}): Promise<{ server: FaultServer, store: AuditStore, deadLetter: MemoryDeadLetter, sink: DataStorageSink }> {
  const server = await startFaultServer(handler)
  const sink = new DataStorageSink({ url: server.url, retry: fastRetry, ...sinkOptions })
  const deadLetter = new MemoryDeadLetter()
  const store = createAuditStore({ sink, deadLetter, logger: silentLogger, flushIntervalMs: 60_000, ...storeOptions })
  t.after(async () => {
    await store.close().catch(() => {})
    await server.close()
  })
  return { server, store, deadLetter, sink }
}

test('posts the batch as a JSON array with content type, idempotency key and user agent', async (t) => {
  const { server, store } = await setup(t, created)
  for (let i = 0; i < 3; i++) store.record(makeEvent(i))
  assert.deepEqual(await store.flush(), { written: 3, deadLettered: 0, dropped: 0, lost: 0 })
  const [req] = server.requests
  assert.equal(req!.method, 'POST')
  assert.equal(req!.url, '/api/v1/audit/events/batch')
  assert.equal(req!.headers['content-type'], 'application/json')
  assert.match(String(req!.headers['idempotency-key']), /^[0-9a-f-]{36}$/)
  assert.match(String(req!.headers['user-agent']), /^audit-stream\/\d+\.\d+\.\d+/)
  assert.equal(req!.headers.authorization, undefined)
  assert.deepEqual((req!.body as Array<{ event_data: { seq: number } }>).map((e) => e.event_data.seq), [0, 1, 2])
})

test('202 accepted counts as stored', async (t) => {
  const { store } = await setup(t, (_req, res) => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{"status":"accepted"}') })
  store.record(makeEvent(1))
  assert.equal((await store.flush()).written, 1)
})

test('500, 500, then 201: delivered with two retries, the same idempotency key each time', async (t) => {
  const { server, store } = await setup(t, (req, res, n) => (n < 2 ? problem(res, 500, 'Internal Server Error') : created(req, res, n)))
  store.record(makeEvent(1))
  assert.equal((await store.flush()).written, 1)
  assert.equal(store.stats().retries, 2)
  assert.equal(server.requests.length, 3)
  assert.equal(new Set(server.requests.map((r) => r.headers['idempotency-key'])).size, 1)
})

test('idempotency keys differ between batches', async (t) => {
  const { server, store } = await setup(t, created, {}, { batchSize: 2 })
  for (let i = 0; i < 6; i++) store.record(makeEvent(i))
  await store.flush()
  assert.equal(new Set(server.requests.map((r) => r.headers['idempotency-key'])).size, 3)
})

test('503 with Retry-After: 1 waits at least a second before the next attempt', async (t) => {
  const { server, store } = await setup(t, (req, res, n) => (n === 0 ? problem(res, 503, 'Service Unavailable', {}, { 'retry-after': '1' }) : created(req, res, n)))
  store.record(makeEvent(1))
  await store.flush()
  const [a, b] = server.requests
  assert.ok(b!.at - a!.at >= 990, `waited ${b!.at - a!.at} ms`)
})

test('429 with an HTTP-date Retry-After waits until that date', async (t) => {
  let until = 0
  const { server, store } = await setup(t, (req, res, n) => {
    if (n > 0) return created(req, res, n)
    until = Math.ceil((Date.now() + 1500) / 1000) * 1000 // HTTP-dates have whole seconds
    problem(res, 429, 'Too Many Requests', {}, { 'retry-after': new Date(until).toUTCString() })
  }, { retry: { ...fastRetry, maxDelayMs: 10_000 } })
  store.record(makeEvent(1))
  await store.flush()
  assert.ok(server.requests[1]!.at >= until - 50, `retried ${until - server.requests[1]!.at} ms early`)
})

test('parses Retry-After as seconds or an HTTP-date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  assert.equal(parseRetryAfter('3', now), 3000)
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000)
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0)
  assert.equal(parseRetryAfter('soon', now), undefined)
  assert.equal(parseRetryAfter(undefined, now), undefined)
})

test('a 400 naming 3 events in a batch of 1000 dead-letters exactly those 3 and stores the other 997', async (t) => {
  const poison = new Set([17, 500, 999])
  const handler: Handler = (req, res, n) => {
    const events = req.body as Array<{ event_data: { seq: number } }>
    const fieldErrors: Record<string, string> = {}
    events.forEach((e, i) => { if (poison.has(e.event_data.seq)) fieldErrors[`[${i}].event_type`] = 'not allowed' })
    if (Object.keys(fieldErrors).length > 0) {
      res.setHeader('x-stored', 'no')
      return problem(res, 400, 'Validation Error', { detail: 'invalid events', field_errors: fieldErrors })
    }
    created(req, res, n)
  }
  const { server, store, deadLetter } = await setup(t, handler, {}, { batchSize: 1000 })
  for (let i = 0; i < 1000; i++) store.record(makeEvent(i))
  await assert.rejects(store.flush(), (err: unknown) => err instanceof FlushError && err.result.written === 997 && err.result.deadLettered === 3)
  const dead = deadLetter.entries.flatMap((e) => e.events.map((j) => (JSON.parse(j) as { event_data: { seq: number } }).event_data.seq))
  assert.deepEqual(dead.sort((a, b) => a - b), [17, 500, 999])
  for (const entry of deadLetter.entries) {
    assert.equal(entry.reason, 'rejected')
    assert.equal(entry.error?.statusCode, 400)
    assert.equal(entry.error?.problem?.title, 'Validation Error')
    assert.equal(entry.error?.problem?.detail, 'invalid events')
    assert.ok(entry.error?.problem?.field_errors !== undefined)
  }
  const storedOk = server.requests.filter((r, i) => i >= 0 && Array.isArray(r.body) && !(r.body as Array<{ event_data: { seq: number } }>).some((e) => poison.has(e.event_data.seq)))
  assert.equal(storedOk.flatMap((r) => r.body as unknown[]).length, 997)
  // Bisect: about 2·log2(1000) requests per poison event, not one per event.
  assert.ok(server.requests.length <= 3 * 2 * Math.ceil(Math.log2(1000)) + 1, `${server.requests.length} requests`)
})

test('413 splits the batch until the halves fit; a single event too large is rejected', async (t) => {
  const limit = 4_000
  const handler: Handler = (req, res, n) => {
    if (req.rawBytes > limit) return problem(res, 413, 'Payload Too Large')
    created(req, res, n)
  }
  const { server, store, deadLetter } = await setup(t, handler, {}, { batchSize: 100 })
  for (let i = 0; i < 60; i++) store.record(makeEvent(i))
  store.record({ ...makeEvent(60), event_data: { seq: 60, blob: 'x'.repeat(5_000) } })
  await assert.rejects(store.flush(), (err: unknown) => err instanceof FlushError && err.result.written === 60 && err.result.deadLettered === 1)
  assert.equal(deadLetter.entries.length, 1)
  assert.equal(deadLetter.entries[0]!.error?.statusCode, 413)
  assert.ok(server.requests.some((r) => r.rawBytes <= limit && (r.body as unknown[]).length > 1))
})

test('other 4xx dead-letter the whole batch as rejected without retrying', async (t) => {
  const { server, store, deadLetter } = await setup(t, (_req, res) => problem(res, 404, 'Not Found'), {}, { batchSize: 10 })
  for (let i = 0; i < 5; i++) store.record(makeEvent(i))
  await assert.rejects(store.flush(), FlushError)
  assert.equal(server.requests.length, 1)
  assert.equal(deadLetter.entries[0]!.reason, 'rejected')
  assert.equal(deadLetter.entries[0]!.events.length, 5)
  assert.match(deadLetter.entries[0]!.error!.message, /HTTP 404 Not Found/)
})

test('501 is not retried; 401 and 403 are', async (t) => {
  const { server, store } = await setup(t, (req, res, n) => {
    if (n === 0) return problem(res, 403, 'Forbidden')
    if (n === 1) return problem(res, 401, 'Unauthorized')
    if (n === 2) return created(req, res, n)
    problem(res, 501, 'Not Implemented')
  })
  store.record(makeEvent(1))
  assert.equal((await store.flush()).written, 1)
  store.record(makeEvent(2))
  await assert.rejects(store.flush(), FlushError)
  assert.equal(server.requests.length, 4)
})

test('after a 401 the token file is read again and the new token is used; the token never reaches the logs', async (t) => {
  const dir = tempDir(t, 'audit-token-')
  const tokenFile = join(dir, 'token')
  await writeFile(tokenFile, 'old-secret-token\n')
  const { logger, lines } = captureLogger('debug')
  const server = await startFaultServer(async (req, res, n) => {
    if (req.headers.authorization !== 'Bearer new-secret-token') {
      if (n === 0) await writeFile(tokenFile, 'new-secret-token\n') // rotated while the first request is refused
      return problem(res, 401, 'Unauthorized')
    }
    created(req, res, n)
  })
  const store = createAuditStore({ sink: new DataStorageSink({ url: server.url, tokenFile, retry: fastRetry }), logger, flushIntervalMs: 60_000 })
  t.after(async () => { await store.close().catch(() => {}); await server.close() })
  store.record(makeEvent(1))
  assert.equal((await store.flush()).written, 1)
  assert.deepEqual(server.requests.map((r) => r.headers.authorization), ['Bearer old-secret-token', 'Bearer new-secret-token'])
  assert.ok(lines.length > 0, 'the retry was logged')
  assert.ok(!lines.some((l) => l.includes('secret-token')), 'no token in the logs')
})

test('a token function is called for each attempt', async (t) => {
  let calls = 0
  const { server, store } = await setup(t, (req, res, n) => (n === 0 ? problem(res, 503, 'busy') : created(req, res, n)), { token: async () => `t${++calls}` })
  store.record(makeEvent(1))
  await store.flush()
  assert.deepEqual(server.requests.map((r) => r.headers.authorization), ['Bearer t1', 'Bearer t2'])
})

test('a token function that never settles fails the attempt at requestTimeoutMs, and the retry gets a token', async (t) => {
  const signals: AbortSignal[] = []
  const token = ({ signal }: { signal: AbortSignal }): string | Promise<string> => {
    signals.push(signal)
    return signals.length === 1 ? new Promise<string>(() => {}) : 'fresh'
  }
  const { server, store } = await setup(t, created, { token, requestTimeoutMs: 200 })
  const retries: Array<{ error: Error }> = []
  store.on('retry', (r: { error: Error }) => retries.push(r))
  store.record(makeEvent(1))
  assert.equal((await store.flush()).written, 1)
  assert.match(retries[0]!.error.message, /timed out after 200 ms/)
  assert.equal(signals[0]!.aborted, true, 'the hanging lookup\'s signal was aborted at the deadline')
  assert.deepEqual(server.requests.map((r) => r.headers.authorization), ['Bearer fresh'])
})

test('a token function that throws fails the attempt as retryable, without its message in the request', async (t) => {
  let calls = 0
  const { server, store } = await setup(t, created, { token: () => { if (++calls === 1) throw new Error('vault down'); return 'ok' } })
  const retries: Array<{ error: Error }> = []
  store.on('retry', (r: { error: Error }) => retries.push(r))
  store.record(makeEvent(1))
  assert.equal((await store.flush()).written, 1)
  assert.match(retries[0]!.error.message, /token lookup failed/)
  assert.deepEqual(server.requests.map((r) => r.headers.authorization), ['Bearer ok'])
})

test('user headers merge without regard to case: the sink\'s authorization, content type and idempotency key replace the user\'s on the wire', async (t) => {
  const headers = { Authorization: 'Basic dXNlcjpwdw==', 'CONTENT-TYPE': 'text/plain', 'Idempotency-Key': 'mine', 'User-Agent': 'me', 'Content-Length': '1', 'X-Tenant': 't1' }
  const { server, store } = await setup(t, created, { headers, token: 'tok' })
  store.record(makeEvent(1))
  assert.equal((await store.flush()).written, 1)
  const raw = server.requests[0]!.rawHeaders
  const lines = (name: string): string[] => raw.flatMap((value, i) => (i % 2 === 0 && value.toLowerCase() === name ? [raw[i + 1]!] : []))
  assert.deepEqual(lines('authorization'), ['Bearer tok'])
  assert.deepEqual(lines('content-type'), ['application/json'])
  assert.equal(lines('idempotency-key').length, 1)
  assert.notEqual(lines('idempotency-key')[0], 'mine')
  assert.deepEqual(lines('user-agent').length, 1)
  assert.match(lines('user-agent')[0]!, /^audit-stream\//)
  assert.equal(lines('content-length').length, 1)
  assert.deepEqual(lines('x-tenant'), ['t1'])
})

test('without a token, the user\'s own Authorization header is sent once', async (t) => {
  const { server, store } = await setup(t, created, { headers: { AUTHORIZATION: 'Basic abc' } })
  store.record(makeEvent(1))
  await store.flush()
  const raw = server.requests[0]!.rawHeaders
  assert.deepEqual(raw.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === 'authorization' ? [raw[i + 1]] : [])), ['Basic abc'])
})

test('a connection reset halfway through a request is retried', async (t) => {
  const { server, store } = await setup(t, (req, res, n) => {
    if (n === 0) { res.socket?.destroy(); return }
    created(req, res, n)
  })
  store.record(makeEvent(1))
  assert.equal((await store.flush()).written, 1)
  assert.equal(server.requests.length, 2)
  assert.equal(store.stats().retries, 1)
})

test('a hanging server makes the attempt time out, and the batch is retried', async (t) => {
  const { server, store } = await setup(t, (req, res, n) => {
    if (n === 0) return // never answers
    created(req, res, n)
  }, { requestTimeoutMs: 200 })
  const retries: Array<{ error: Error }> = []
  store.on('retry', (r: { error: Error }) => retries.push(r))
  store.record(makeEvent(1))
  const started = Date.now()
  assert.equal((await store.flush()).written, 1)
  assert.ok(Date.now() - started >= 190)
  assert.match(retries[0]!.error.message, /timed out after 200 ms/)
  assert.equal(server.requests.length, 2)
})

test('a server that is down (every connection reset) across several attempts and comes back gets every event', async (t) => {
  // The gate keeps the port for the whole test: down, it resets every connection; up, it pipes them to the server.
  const gate = await startTcpGate()
  const server = await startFaultServer(created)
  const sink = new DataStorageSink({ url: gate.url, retry: { maxAttempts: 40, baseDelayMs: 100, maxDelayMs: 250, jitter: 0 } })
  const store = createAuditStore({ sink, logger: silentLogger, batchSize: 10, flushIntervalMs: 60_000 })
  const retries: number[] = []
  store.on('retry', (r: { attempt: number }) => retries.push(r.attempt))
  t.after(async () => { await store.close().catch(() => {}); await gate.close(); await server.close() })
  for (let i = 0; i < 25; i++) store.record(makeEvent(i))
  const flushing = store.flush()
  await waitFor(() => gate.resets >= 5, { what: 'five connections reset while the server is down', detail: () => `${gate.resets} reset` })
  assert.equal(server.requests.length, 0, 'nothing reached the server while it was down')
  gate.up(server.port)
  assert.deepEqual(await flushing, { written: 25, deadLettered: 0, dropped: 0, lost: 0 })
  assert.deepEqual(server.requests.flatMap((r) => seqs(r.body as unknown[])).sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i))
  assert.ok(retries.length >= 5, `${retries.length} retries`)
  assert.equal(store.stats().retries, retries.length)
})

test('gzip compression sends Content-Encoding: gzip and a body the server decodes', async (t) => {
  const { server, store } = await setup(t, created, { compression: 'gzip' })
  for (let i = 0; i < 50; i++) store.record(makeEvent(i))
  await store.flush()
  const [req] = server.requests
  assert.equal(req!.headers['content-encoding'], 'gzip')
  assert.equal((req!.body as unknown[]).length, 50)
  assert.ok(req!.rawBytes < Buffer.byteLength(JSON.stringify(req!.body)))
})

test('HTTPS with a self-signed CA and a client certificate (mTLS)', async (t) => {
  const tls = makeTlsMaterial()
  const server = await startFaultServer(created, { tls: { key: tls.serverKey, cert: tls.serverCert, ca: tls.ca, requestCert: true, rejectUnauthorized: true } })
  t.after(() => server.close())
  const ok = createAuditStore({ sink: new DataStorageSink({ url: server.url, tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey }, retry: fastRetry }), logger: silentLogger, flushIntervalMs: 60_000 })
  ok.record(makeEvent(1))
  assert.equal((await ok.flush()).written, 1)
  await ok.close()
  // Without the client certificate the server refuses the handshake: retried, then dead-lettered.
  const deadLetter = new MemoryDeadLetter()
  const refused = createAuditStore({ sink: new DataStorageSink({ url: server.url, tls: { ca: tls.ca }, retry: { ...fastRetry, maxAttempts: 2 } }), deadLetter, logger: silentLogger, flushIntervalMs: 60_000 })
  refused.record(makeEvent(2))
  await assert.rejects(refused.flush(), FlushError)
  assert.equal(deadLetter.entries[0]!.reason, 'exhausted')
  await refused.close().catch(() => {})
  assert.equal(server.requests.length, 1)
})

test('an injected dispatcher is used and never closed by the sink', async (t) => {
  const agent = new Agent()
  t.after(() => agent.close())
  const { server, store } = await setup(t, created, { dispatcher: agent })
  store.record(makeEvent(1))
  await store.close()
  assert.equal(server.requests.length, 1)
  assert.equal(agent.closed, false)
})

test('a url with a path prefixes the endpoint path', async (t) => {
  const server = await startFaultServer(created)
  t.after(() => server.close())
  const sink = new DataStorageSink({ url: `${server.url}/tenant-a/`, retry: fastRetry })
  assert.equal(sink.endpoint, `${server.url}/tenant-a/api/v1/audit/events/batch`)
  const store = createAuditStore({ sink, logger: silentLogger })
  store.record(makeEvent(1))
  await store.close()
  assert.equal(server.requests[0]!.url, '/tenant-a/api/v1/audit/events/batch')
})

test('rejects bad options with InvalidOptionError naming them', () => {
  for (const [options, name] of [
    [{ url: 'ftp://x' }, 'url'], [{ url: 'not a url' }, 'url'], [{ url: 'http://x', path: 'nope' }, 'path'],
    [{ url: 'http://x', compression: 'br' }, 'compression'], [{ url: 'http://x', connections: 0 }, 'connections'],
    [{ url: 'http://x', requestTimeoutMs: 0 }, 'requestTimeoutMs'], [{ url: 'http://x', token: 42 }, 'token'],
    [{ url: 'http://x', tokenFile: '/nonexistent/token' }, 'tokenFile'], [{ url: 'http://x', headers: { a: 1 } }, 'headers.a']
  ] as const) {
    assert.throws(() => new DataStorageSink(options as never), (err: unknown) => (err as { code?: string, option?: string }).code === 'AUDIT_ERR_INVALID_OPTION' && (err as { option?: string }).option === name, name)
  }
})
