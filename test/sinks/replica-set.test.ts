/**
 * DataStorageSink over several replicas: balancing, failover with a probe of
 * /health/ready before a replica returns, retries preferring another
 * replica with the same idempotency key, per-replica counts. The replicas
 * are real HTTP servers on 127.0.0.1 that store by idempotency key.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net'
import { DataStorageSink, InvalidOptionError, createAuditStore } from '../../lib/index.js'
import { makeEvent, silentLogger } from '../helpers/fixtures.js'
import { startTcpGate } from '../helpers/tcp-gate.js'
import { waitFor } from '../helpers/wait-for.js'

interface Replica { server: Server, url: string, port: number, batches: string[], probes: number, ready: boolean }

// A replica that stores batches by key (so a replay is visible) and answers /health/ready with 200 or 503.
async function replica (port = 0, stored = new Set<string>()): Promise<Replica> {
  const r: Replica = { server: createServer(), url: '', port, batches: [], probes: 0, ready: true }
  r.server.on('request', (req, res) => {
    req.resume()
    req.on('end', () => {
      if (req.url === '/health/ready') {
        r.probes++
        res.writeHead(r.ready ? 200 : 503).end()
        return
      }
      const key = String(req.headers['idempotency-key'])
      r.batches.push(key)
      const replayed = stored.has(key)
      stored.add(key)
      res.writeHead(201, { 'content-type': 'application/json', ...(replayed ? { 'idempotent-replayed': 'true' } : {}) }).end('{}')
    })
  })
  await new Promise<void>((resolve) => r.server.listen(port, '127.0.0.1', resolve))
  r.port = (r.server.address() as AddressInfo).port
  r.url = `http://127.0.0.1:${r.port}`
  return r
}

async function stop (r: Replica): Promise<void> {
  r.server.closeAllConnections()
  await new Promise((resolve) => r.server.close(resolve))
}

test('batches are spread over every replica, and each replica\'s counts are reported', async (t) => {
  const replicas = await Promise.all([replica(), replica(), replica()])
  t.after(() => Promise.all(replicas.map(stop)).then(() => {}))
  const sink = new DataStorageSink({ url: replicas.map((r) => r.url), concurrency: 1 })
  const store = createAuditStore({ sink, batchSize: 1, logger: silentLogger })
  for (let i = 0; i < 30; i++) store.record(makeEvent(i))
  await store.flush()
  await store.close()
  assert.deepEqual(replicas.map((r) => r.batches.length), [10, 10, 10])
  assert.deepEqual(sink.replicas().map((r) => [r.url, r.up, r.attempts, r.stored, r.failed]), replicas.map((r) => [r.url, true, 10, 10, 0]))
})

test('a replica that refuses connections is taken out, its batch retried on another with the same key, and it returns only after /health/ready answers 200', async (t) => {
  const stored = new Set<string>()
  // A is a port kept by a gate that resets every connection: refused, as a replica that is down.
  const a = await startTcpGate()
  const b = await replica(0, stored)
  t.after(() => Promise.all([a.close(), stop(b)]).then(() => {}))
  const sink = new DataStorageSink({ url: [a.url, b.url], concurrency: 1, replicaBackoffMs: 50, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 } })
  const store = createAuditStore({ sink, batchSize: 1, logger: silentLogger })
  t.after(() => store.close().then(() => {}, () => {}))
  for (let i = 0; i < 6; i++) store.record(makeEvent(i))
  await store.flush()
  // The first batch went to A, was refused, and its retry went to B with its key; everything else went to B.
  assert.equal(b.batches.length, 6)
  assert.equal(new Set(b.batches).size, 6, 'no batch sent twice')
  const [ra, rb] = sink.replicas()
  assert.equal(ra!.up, false)
  assert.equal(ra!.failed, 1)
  assert.equal(rb!.stored, 6)
  // A comes back behind the same port, not ready yet: probes answer 503 and it stays out.
  const back = await replica(0, stored)
  t.after(() => stop(back))
  back.ready = false
  a.up(back.port)
  await waitFor(() => back.probes > 0, { what: 'a probe of the replica that came back' })
  for (let i = 6; i < 10; i++) store.record(makeEvent(i))
  await store.flush()
  assert.equal(back.batches.length, 0, 'no batch goes to a replica whose probe failed')
  back.ready = true
  await waitFor(() => sink.replicas()[0]!.up, { what: 'the replica back in rotation after a 200 probe' })
  for (let i = 10; i < 20; i++) store.record(makeEvent(i))
  await store.flush()
  assert.equal(back.batches.length, 5, 'back in rotation after a 200 probe')
})

test('a retry prefers another replica than the last attempt\'s, keeping the idempotency key', async (t) => {
  const stored = new Set<string>()
  const keys: string[][] = [[], []]
  const servers = await Promise.all([0, 1].map(async (i) => {
    const s = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        keys[i]!.push(String(req.headers['idempotency-key']))
        // The first replica commits the batch, then fails before answering: a gateway timeout.
        const key = String(req.headers['idempotency-key'])
        const replay = stored.has(key)
        stored.add(key)
        if (i === 0) res.writeHead(504).end()
        else res.writeHead(201, replay ? { 'idempotent-replayed': 'true' } : {}).end('{}')
      })
    })
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
    return s
  }))
  t.after(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))).then(() => {}))
  const urls = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`)
  const sink = new DataStorageSink({ url: urls, concurrency: 1, replicaBackoffMs: 60_000, retry: { baseDelayMs: 1, maxDelayMs: 5 } })
  const store = createAuditStore({ sink, batchSize: 1, logger: silentLogger })
  store.record(makeEvent(0))
  await store.flush()
  await store.close()
  assert.equal(keys[0]!.length, 1)
  assert.deepEqual(keys[1], keys[0], 'the retry went to the other replica with the same key')
  assert.equal(stored.size, 1, 'stored once')
})

test('one URL keeps today\'s behaviour: it is never taken out of rotation', async (t) => {
  const a = await startTcpGate()
  t.after(() => a.close())
  const sink = new DataStorageSink({ url: a.url, replicaBackoffMs: 60_000, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 50 } })
  const store = createAuditStore({ sink, logger: silentLogger })
  t.after(() => store.close().then(() => {}, () => {}))
  store.record(makeEvent(0))
  const flushed = store.flush()
  await waitFor(() => sink.replicas()[0]!.failed >= 2, { what: 'two failed attempts at the only URL', detail: () => `${sink.replicas()[0]!.failed} failed` })
  assert.equal(sink.replicas()[0]!.up, true)
  const back = await replica()
  t.after(() => stop(back))
  a.up(back.port)
  await flushed
  assert.equal(back.batches.length, 1)
})

test('url must be a URL or a non-empty list of URLs of distinct origins', () => {
  assert.throws(() => new DataStorageSink({ url: [] }), InvalidOptionError)
  assert.throws(() => new DataStorageSink({ url: ['http://a:1', 'ftp://b'] }), /url\[1\]/)
  assert.throws(() => new DataStorageSink({ url: ['http://a:1', 'http://a:1/x'] }), InvalidOptionError)
  assert.throws(() => new DataStorageSink({ url: 'http://a', replicaBackoffMs: 0 }), InvalidOptionError)
})

// A replica that accepts connections and never answers anything; `asked` resolves once a request has reached it.
async function blackHole (): Promise<{ url: string, server: TcpServer, asked: Promise<void> }> {
  let reached!: () => void
  const asked = new Promise<void>((resolve) => { reached = resolve })
  const server = createTcpServer((socket) => { socket.once('data', () => reached()) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, asked }
}

test('a replica that accepts connections but never answers is taken out of rotation once an attempt there times out', async (t) => {
  const hole = await blackHole()
  const b = await replica()
  t.after(async () => { await stop(b); hole.server.close() })
  const sink = new DataStorageSink({ url: [hole.url, b.url], concurrency: 1, requestTimeoutMs: 200, replicaBackoffMs: 60_000, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 } })
  // One batch in flight: the events share a lane.
  const store = createAuditStore({ sink, batchSize: 1, maxInFlightPerLane: 1, logger: silentLogger })
  t.after(() => store.close().then(() => {}, () => {}))
  for (let i = 0; i < 6; i++) store.record(makeEvent(i))
  await store.flush()
  const [rh] = sink.replicas()
  assert.equal(rh!.up, false)
  assert.equal(rh!.attempts, 1, 'only the first batch went to the replica that never answers')
  assert.equal(b.batches.length, 6)
})

test('a URL with a path prefix is probed at /health/ready under that prefix', async (t) => {
  const paths: string[] = []
  const server = createServer((req, res) => {
    paths.push(String(req.url))
    req.resume()
    res.writeHead(req.url === '/ds/health/ready' ? 200 : 404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const sink = new DataStorageSink({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ds`, probeIntervalMs: 100 })
  const store = createAuditStore({ sink, logger: silentLogger })
  t.after(() => store.close().then(() => {}, () => {}))
  await waitFor(() => store.health().ready, { what: 'the store to be ready after a probe under the prefix', detail: () => paths.join(', ') })
  assert.deepEqual([...new Set(paths)], ['/ds/health/ready'])
})

test('close() does not wait for a probe of a replica that never answers', { timeout: 10_000 }, async (t) => {
  const hole = await blackHole()
  const b = await replica()
  t.after(async () => { await stop(b); hole.server.close() })
  const sink = new DataStorageSink({ url: [hole.url, b.url], probeIntervalMs: 100 })
  const store = createAuditStore({ sink, logger: silentLogger })
  store.health()
  // Both replicas are probed once health is watched; the black hole's probe has reached it and stays pending.
  await hole.asked
  const started = performance.now()
  await store.close()
  assert.ok(performance.now() - started < 1_000, `close took ${Math.round(performance.now() - started)} ms`)
})

test('a store whose every replica is out of rotation is not ready, even when one answered in the last 30 s', async (t) => {
  const a = await replica()
  const b = await replica()
  t.after(() => Promise.all([stop(a), stop(b)]).then(() => {}))
  const sink = new DataStorageSink({ url: [a.url, b.url], concurrency: 1, replicaBackoffMs: 60_000, retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } })
  const store = createAuditStore({ sink, batchSize: 1, logger: silentLogger })
  t.after(() => store.close().then(() => {}, () => {}))
  store.record(makeEvent(0))
  await store.flush()
  assert.equal(store.health().ready, true)
  await Promise.all([stop(a), stop(b)])
  store.record(makeEvent(1))
  await store.flush().catch(() => {})
  const health = store.health()
  assert.deepEqual(health.endpoints!.map((e) => e.up), [false, false])
  assert.equal(health.ready, false)
  assert.ok(health.reasons.includes('every DataStorage endpoint is out of rotation'), health.reasons.join())
})

test('a URL with credentials, a query or a fragment is refused, instead of being sent without them', () => {
  for (const url of ['http://user:secret@a:1', 'http://a:1/?tenant=x', 'http://a:1/#x']) {
    assert.throws(() => new DataStorageSink({ url }), (err: unknown) => err instanceof InvalidOptionError && !err.message.includes('secret'), url)
    assert.throws(() => new DataStorageSink({ url: ['http://b:1', url] }), /url\[1\]/, url)
  }
})
