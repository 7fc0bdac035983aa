/**
 * Fuzzing the reference server: random methods, paths, query strings,
 * headers, bodies and encodings (gzip, bad gzip), plus raw bytes that are
 * not well-formed HTTP. The server must never answer 5xx, never drop a
 * connection without an answer, and keep answering /health/ready.
 *
 * Seeded: FUZZ_SEED=<n> replays a run, FUZZ_RUNS=<n> makes it longer
 * (default 5000 requests). The seed is printed with every failure.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import { Agent, request } from 'undici'
import { newAuditEvent } from '../../lib/index.js'
import { startDataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'
import { prng } from '../helpers/prng.js'

const SEED = process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== '' ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32)
const RUNS = process.env.FUZZ_RUNS !== undefined && process.env.FUZZ_RUNS !== '' ? Number(process.env.FUZZ_RUNS) : 5000
const CONCURRENCY = 8
const TOKEN = 'fuzz-token'


const random = prng(SEED)
const int = (n: number): number => Math.floor(random() * n)
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
const chance = (p: number): boolean => random() < p

const CHARS = ['a', 'Z', '0', '_', '-', '.', ' ', '/', '?', '&', '=', '%', '+', '#', "'", '"', '\\', '\u0000', '\u00e9', '\u4e2d', '\ud83d\ude00', '\ud800', '\n', '\t', '{', '[']
function text (max: number): string {
  let s = ''
  for (let i = int(max + 1); i > 0; i--) s += pick(CHARS)
  return s
}

function jsonValue (depth: number): unknown {
  switch (int(depth > 4 ? 6 : 9)) {
    case 0: return null
    case 1: return chance(0.5)
    case 2: return pick([0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, Number.MIN_VALUE])
    case 3: return text(20)
    case 4: return pick(['2026-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-02-30T00:00:00Z', ''])
    case 5: return {}
    case 6: return Array.from({ length: int(4) }, () => jsonValue(depth + 1))
    default: return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(['event_type', 'event_data', 'duration_ms', 'x', '__proto__', 'constructor', text(6)]), jsonValue(depth + 1)]))
  }
}

function validEvent (): Record<string, unknown> {
  return { ...newAuditEvent({ event_type: 'fuzz', event_category: 'fuzz', event_action: 'a', event_outcome: pick(['success', 'failure', 'pending'] as const), correlation_id: 'fuzz', event_data: { n: int(100) } }) }
}

// An event with a few fields replaced by random values.
function mangledEvent (): unknown {
  const event = validEvent()
  for (let i = int(3); i > 0; i--) event[pick(Object.keys(event).concat(['extra', 'parent_event_id', 'severity']))] = jsonValue(2)
  return event
}

function body (): string | Buffer | undefined {
  switch (int(12)) {
    case 0: return undefined
    case 1: return ''
    case 2: return JSON.stringify(Array.from({ length: 1 + int(5) }, validEvent))
    case 3: return JSON.stringify(validEvent())
    case 4: return JSON.stringify(Array.from({ length: 1 + int(20) }, mangledEvent))
    case 5: return JSON.stringify(mangledEvent())
    case 6: return JSON.stringify(jsonValue(0))
    case 7: return Buffer.from(Array.from({ length: int(200) }, () => int(256)))
    case 8: return '{"a":'.repeat(6000) + '1' + '}'.repeat(6000)
    case 9: {
      const deep = '[' .repeat(3000) + ']'.repeat(3000)
      return `[${JSON.stringify(validEvent()).replace(/"event_data":\{[^}]*\}/, `"event_data":{"x":${deep}}`)}]`
    }
    case 10: return JSON.stringify(Array.from({ length: 200 + int(2000) }, () => ({})))
    default: return text(100)
  }
}

const PATHS = ['/api/v1/audit/events/batch', '/api/v1/audit/events/batch', '/api/v1/audit/events/batch', '/api/v1/audit/events', '/api/v1/audit/events', '/health', '/health/ready', '/health/live', '/', '/api', '/api/v1/audit/events/', '/API/V1/AUDIT/EVENTS', '/api/v1/audit/events/batch/../batch', '/%2e%2e/%00', '//api//v1']
const PARAMS = ['event_type', 'event_category', 'event_outcome', 'severity', 'correlation_id', 'since', 'until', 'limit', 'offset', 'detail_key', 'detail_value', 'x', '']
const VALUES = ['', '24h', '99999999d', '999999999s', '0', '-1', '1001', '50', '1e3', 'success', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00 02:00', '0000-01-01T00:00:00Z', 'task_id', "a'--", '%00', '%ZZ']

// encodeURIComponent throws on a lone surrogate; a URL cannot carry one anyway.
const encode = (s: string): string => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'u'))

function path (): string {
  let p = chance(0.85) ? pick(PATHS) : '/' + encode(text(30))
  if (chance(0.5)) {
    const query = Array.from({ length: 1 + int(4) }, () => `${pick(PARAMS)}=${chance(0.8) ? pick(VALUES) : encode(text(20))}`)
    p += '?' + query.join('&')
  }
  if (chance(0.01)) p += (p.includes('?') ? '&' : '?') + 'pad=' + 'x'.repeat(17 * 1024 + int(8 * 1024))
  return p
}

function headers (hasBody: boolean): Record<string, string> {
  const h: Record<string, string> = {}
  if (chance(0.8)) h.authorization = `Bearer ${TOKEN}`
  else if (chance(0.7)) h.authorization = pick([`bearer ${TOKEN}`, 'Bearer wrong', 'Basic eDp5', 'Bearer ', `Bearer ${TOKEN} extra`, text(10).replace(/[^\x20-\x7e]/g, 'q')])
  if (hasBody || chance(0.2)) h['content-type'] = pick(['application/json', 'application/json', 'application/json; charset=utf-8', 'Application/JSON', 'text/plain', 'application/problem+json', 'multipart/form-data; boundary=x', ''])
  if (chance(0.2)) h['idempotency-key'] = pick(['k', 'x'.repeat(255), 'x'.repeat(256), text(10).replace(/[^\x21-\x7e]/g, 'q'), 'a'.repeat(5000)])
  if (chance(0.1)) h['x-' + int(1000)] = 'v'.repeat(int(5000))
  if (chance(0.05)) h.accept = pick(['*/*', 'application/xml', ''])
  return h
}

interface Sent { method: string, path: string, headers: Record<string, string>, body: string | Buffer | undefined }

function describeRequest (r: Sent): string {
  const b = r.body === undefined ? 'none' : `${Buffer.byteLength(r.body)} bytes: ${Buffer.from(r.body).subarray(0, 120).toString('latin1')}`
  return `seed ${SEED} (replay with FUZZ_SEED=${SEED}): ${r.method} ${r.path.slice(0, 300)} headers ${JSON.stringify(r.headers).slice(0, 300)} body ${b}`
}

function nextRequest (): Sent {
  const p = path()
  // Mostly the methods a path serves, so that most requests reach validation and storage.
  const method = chance(0.8)
    ? p.startsWith('/api/v1/audit/events/batch') ? 'POST' : p.startsWith('/api/v1/audit/events') ? pick(['GET', 'POST']) : 'GET'
    : pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'])
  let b = method === 'GET' || method === 'HEAD' ? undefined : body()
  const h = headers(b !== undefined)
  if (b !== undefined && chance(0.25)) {
    h['content-encoding'] = pick(['gzip', 'gzip', 'GZIP', 'br', 'deflate', 'identity', 'gzip, gzip'])
    if (h['content-encoding'].toLowerCase() === 'gzip') {
      const zipped = gzipSync(b)
      b = pick(['ok', 'ok', 'truncated', 'garbage']) === 'ok' ? zipped : chance(0.5) ? zipped.subarray(0, zipped.length >> 1) : Buffer.concat([zipped, Buffer.from('trailing')])
    }
  }
  return { method, path: p, headers: h, body: b }
}

const RAW = [
  'HELLO\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n',
  'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
  'POST /api/v1/audit/events/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n[]\r\n0\r\n\r\n',
  'POST /api/v1/audit/events/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'GET /health HTTP/1.1\r\nHost: x\r\nX: \u0000\r\n\r\n',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  'GET /health HTTP/9.9\r\nHost: x\r\n\r\n',
  `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20 * 1024)}\r\n\r\n`,
  'GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET //[ HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET //[/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fuzz-token\r\n\r\n',
  'GET * HTTP/1.1\r\nHost: x\r\n\r\n'
]

// Sends raw bytes; resolves with all the server answered before it closed the connection.
function sendRaw (base: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let answer = ''
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer within 30 s')))
    socket.on('data', (d: Buffer) => { answer += d.toString('latin1') })
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
    socket.end(bytes)
  })
}

test(`the server survives ${RUNS} random requests without a 5xx or a dropped connection`, async (t) => {
  t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`)
  const server = await startDataStorageServer({ token: TOKEN, logger: silentLogger })
  const agent = new Agent({ connections: CONCURRENCY })
  t.after(async () => {
    await agent.close()
    await server.close()
  })
  const failures: string[] = []
  const statuses = new Map<number, number>()
  let sent = 0
  const worker = async (): Promise<void> => {
    while (sent < RUNS && failures.length < 5) {
      sent++
      if (chance(0.03)) {
        const bytes = pick(RAW)
        try {
          const answer = await sendRaw(server.url, bytes)
          if (!/^HTTP\/1\.1 [1-4]\d\d /.test(answer)) failures.push(`seed ${SEED}: raw ${JSON.stringify(bytes.slice(0, 80))} got ${JSON.stringify(answer.slice(0, 120))}`)
        } catch (err) {
          failures.push(`seed ${SEED}: raw ${JSON.stringify(bytes.slice(0, 80))} failed: ${String(err)}`)
        }
        continue
      }
      const r = nextRequest()
      try {
        const res = await request(server.url + r.path, { method: r.method as 'GET', headers: r.headers, body: r.body ?? null, dispatcher: agent })
        await res.body.dump({ limit: 64 * 1024 * 1024 })
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        if (res.statusCode >= 500) failures.push(`${res.statusCode} for ${describeRequest(r)}`)
      } catch (err) {
        failures.push(`dropped (${(err as Error).message}) for ${describeRequest(r)}`)
      }
      if (sent % 500 === 0) {
        const ready = await request(server.url + '/health/ready', { dispatcher: agent })
        await ready.body.dump()
        if (ready.statusCode !== 200) failures.push(`seed ${SEED}: /health/ready answered ${ready.statusCode} after ${sent} requests`)
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`)
  assert.deepEqual(failures, [], `seed ${SEED}`)
  const health = await request(server.url + '/health/ready')
  assert.equal(health.statusCode, 200, `seed ${SEED}`)
  await health.body.dump()
  assert.ok((statuses.get(201) ?? 0) > 0, 'some requests were valid and stored')
})
