/**
 * `audit-stream verify` against the real reference server (PGlite in
 * memory), with lanes written through the lane headers and signed
 * checkpoints. The CLI only sees HTTP, so a tampered store is shown to it
 * through a proxy in front of the real server that rewrites the server's
 * `/api/v1/audit/chain` answers for chosen producers, as a server whose
 * database was edited would answer (the SQL edits themselves, through
 * `GET /api/v1/audit/verify`, are test/integration/lane-tamper.test.ts).
 * The command runs in-process; two runs go through the real `audit-stream`
 * entry point in a child process.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { chainHash, eventDigest } from '../../lib/chain/chain-hash.js'
import type { ChainRow } from '../../lib/chain/verify-chain.js'
import { UsageError } from '../../lib/cli/common.js'
import { verify } from '../../lib/cli/verify.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/index.js'
import { runTs } from '../helpers/child.js'
import { silentLogger } from '../helpers/fixtures.js'
import { TestLane, laneEvent, newSigner, postNotes, send } from '../helpers/lane.js'

const cli = fileURLToPath(new URL('../../lib/cli/index.ts', import.meta.url))

interface ChainAnswer { events: ChainRow[], notes: string[], next?: number }
type Rewrite = (answer: ChainAnswer) => ChainAnswer
interface LanesAnswer { lanes: Array<{ producer_id: string, lane: number, last_seq: number }> }

const signer = newSigner()
const lanes = new Map<string, TestLane>()
const raws = new Map<string, string[]>()
const rewrites = new Map<string, Rewrite>()
/** Producers whose lane the proxy lists with this last_seq. */
const lastSeqs = new Map<string, number>()
let dir: string
let server: DataStorageServer | undefined
let proxy: Server | undefined
let url: string
let keyFile: string
let otherKeyFile: string
let localFile: string
let cid: string

/** Three batches of 10 events, a signed checkpoint after each (at seqs 10, 20, 30); `skip` dead-letters the second batch. */
async function writeLane (name: string, options: { skip?: boolean, lane?: number } = {}): Promise<string[]> {
  const lane = new TestLane({ signer, lane: options.lane ?? 0 })
  const written: string[] = []
  const notes: string[] = []
  for (let b = 0; b < 3; b++) {
    const batch = Array.from({ length: 10 }, (_, i) => JSON.stringify(laneEvent(name === 'clean' ? cid : randomUUID(), b * 10 + i)))
    written.push(...batch)
    if (options.skip === true && b === 1) {
      const skip = lane.skip(batch, 'exhausted')
      notes.push(skip)
      assert.equal((await postNotes(server!.url, [skip])).status, 201)
    } else {
      const reply = await send(server!.url, lane.batch(batch))
      assert.equal(reply.status, 201, JSON.stringify(reply.body))
    }
    const checkpoint = lane.checkpoint(lane.seq, new Date(Date.UTC(2026, 0, 1) + b * 1000).toISOString())
    notes.push(checkpoint)
    assert.equal((await postNotes(server!.url, [checkpoint])).status, 201)
  }
  lanes.set(name, lane)
  raws.set(name, written)
  return notes
}

// A transparent proxy to the real server; /api/v1/audit/chain answers of a rewritten producer are rewritten.
async function startProxy (target: string): Promise<Server> {
  const s = createServer((req, res) => {
    void (async () => {
      const upstream = await request(target + req.url!, { method: 'GET', headers: { accept: 'application/json' } })
      let body = await upstream.body.text()
      const u = new URL(req.url!, 'http://x')
      const rewrite = u.pathname === '/api/v1/audit/chain' ? rewrites.get(u.searchParams.get('producer_id')!) : undefined
      if (rewrite !== undefined && upstream.statusCode === 200) body = JSON.stringify(rewrite(JSON.parse(body) as ChainAnswer))
      if (u.pathname === '/api/v1/audit/lanes' && upstream.statusCode === 200) {
        const answer = JSON.parse(body) as LanesAnswer
        body = JSON.stringify({ lanes: answer.lanes.map((l) => ({ ...l, last_seq: lastSeqs.get(l.producer_id) ?? l.last_seq })) })
      }
      res.writeHead(upstream.statusCode, { 'content-type': 'application/json' }).end(body)
    })().catch((err: unknown) => res.writeHead(502).end(String(err)))
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  return s
}

const seqOf = (row: ChainRow): number => row.seq
const edited = (raw: string): string => {
  const event = JSON.parse(raw) as { event_data: Record<string, unknown> }
  event.event_data.step = 999
  return JSON.stringify(event)
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-cli-verify-'))
  cid = randomUUID()
  keyFile = join(dir, 'trail.pub.pem')
  otherKeyFile = join(dir, 'other.pub.pem')
  localFile = join(dir, 'trail.notes')
  await writeFile(keyFile, signer.publicKeyPem())
  await writeFile(otherKeyFile, newSigner().publicKeyPem())
  server = await startDataStorageServer({ logger: silentLogger, trailPublicKeys: [signer.publicKey] })
  const clean = await writeLane('clean', { lane: 2 })
  await writeLane('skip', { skip: true })
  for (const name of ['edit', 'delete', 'swap', 'recompute']) await writeLane(name)
  const older = await writeLane('older')
  // The client signed a fourth checkpoint, at seq 40, and kept it locally; the server never got seqs 31..40.
  const truncated = await writeLane('truncated')
  const lane = lanes.get('truncated')!
  lane.batch(Array.from({ length: 10 }, (_, i) => JSON.stringify(laneEvent(randomUUID(), 30 + i))))
  const kept = lane.checkpoint(40, new Date(Date.UTC(2026, 0, 1) + 4000).toISOString())
  await writeFile(localFile, [...clean, ...truncated, kept, ...older].join(''))

  const producer = (name: string): string => lanes.get(name)!.producerId
  // An edited column: the served event differs from the bytes received.
  rewrites.set(producer('edit'), (a) => ({ ...a, events: a.events.map((r) => r.seq === 15 ? { ...r, event: { ...r.event, event_data: { ...(r.event.event_data as object), step: 999 } } } : r) }))
  rewrites.set(producer('delete'), (a) => ({ ...a, events: a.events.filter((r) => r.seq !== 15) }))
  rewrites.set(producer('swap'), (a) => ({ ...a, events: a.events.map((r) => r.seq === 15 ? { ...r, seq: 17 } : r.seq === 17 ? { ...r, seq: 15 } : r).sort((x, y) => seqOf(x) - seqOf(y)) }))
  // Seq 15 edited in every column and the raw text, and the chain recomputed from there on.
  rewrites.set(producer('recompute'), (a) => {
    const l = lanes.get('recompute')!
    let h = l.heads[14]!
    return {
      ...a,
      events: a.events.map((r) => {
        if (r.seq < 15) return r
        const raw = r.seq === 15 ? edited(r.raw) : r.raw
        h = chainHash(l.producerId, l.lane, r.seq, h, eventDigest(raw))
        return { ...r, raw, hash: h.toString('hex'), event: r.seq === 15 ? { ...r.event, event_data: (JSON.parse(raw) as { event_data: unknown }).event_data } : r.event }
      })
    }
  })
  // The server presents its older checkpoint (seq 20) as its newest: rows and notes after it dropped.
  lastSeqs.set(producer('older'), 20)
  rewrites.set(producer('older'), (a) => ({ events: a.events.filter((r) => r.seq <= 20), notes: a.notes.filter((t) => !t.includes('\nseq 30\n')) }))
  proxy = await startProxy(server.url)
  url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
})

after(async () => {
  await new Promise((resolve) => proxy?.close(resolve))
  await server?.close()
  await rm(dir, { recursive: true, force: true })
})

async function run (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await verify(args, { stdout: { write: (t: string) => { stdout += t } }, stderr: { write: (t: string) => { stderr += t } } })
  return { code, stdout, stderr }
}

const only = (name: string): string[] => ['--url', url, '--public-key', keyFile, '--producer-id', lanes.get(name)!.producerId, '--lane', String(lanes.get(name)!.lane)]

test('verify passes an untouched lane and a lane with a dead-lettered range, printing the skip', async () => {
  const clean = await run(only('clean'))
  assert.equal(clean.code, 0, clean.stderr)
  assert.equal(clean.stdout, `lane ${lanes.get('clean')!.producerId}/2: verified_through 30 of 30, skips 0, checkpoints 3\n`)
  const skip = await run(only('skip'))
  assert.equal(skip.code, 0, skip.stderr)
  assert.match(skip.stdout, /verified_through 30 of 30, skips 1, checkpoints 3\n {2}skip 11\.\.20 \(exhausted\)\n$/)
})

test('verify --correlation-id verifies the lanes holding that correlation id\'s events', async () => {
  const r = await run(['--url', url, '--public-key', keyFile, '--correlation-id', cid])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, `lane ${lanes.get('clean')!.producerId}/2: verified_through 30 of 30, skips 0, checkpoints 3\n`)
})

for (const [name, seq, reason, through] of [
  ['edit', 15, 'altered', 10], ['delete', 15, 'missing', 10], ['swap', 15, 'reordered', 10], ['recompute', 20, 'signature', 10]
] as const) {
  test(`verify fails a store with ${name === 'edit' ? 'an edited event' : name === 'delete' ? 'a deleted event' : name === 'swap' ? 'two events swapped' : 'a chain recomputed after an edit'} at seq ${seq} (${reason})`, async () => {
    const r = await run(only(name))
    assert.equal(r.code, 1)
    assert.match(r.stdout, new RegExp(`verified_through ${through} of 30, .*FAILED at seq ${seq}: ${reason}`))
    assert.match(r.stderr, new RegExp(`^audit-stream: verification failed: lane ${lanes.get(name)!.producerId}/0 fails at seq ${seq} \\(${reason}`))
  })
}

test('verify --checkpoints fails a trail truncated after the server\'s newest checkpoint at the first seq it does not prove', async () => {
  const truncated = await run([...only('truncated'), '--checkpoints', localFile])
  assert.equal(truncated.code, 1)
  assert.match(truncated.stdout, /verified_through 30 of 30, .*FAILED at seq 31: missing \(local checkpoint at seq 40 is not on the server\)/)
  const older = await run([...only('older'), '--checkpoints', localFile])
  assert.equal(older.code, 1)
  assert.match(older.stdout, /verified_through 20 of 20, .*FAILED at seq 21: missing \(local checkpoint at seq 30 is not on the server\)/)
  // Without the local notes the server's story is consistent: only the local copy shows what is gone.
  assert.equal((await run(only('older'))).code, 0)
  assert.equal((await run([...only('clean'), '--checkpoints', localFile])).code, 0)
})

test('verify over every lane lists each lane and fails naming the first failing one', async () => {
  const r = await run(['--url', url, '--public-key', keyFile])
  assert.equal(r.code, 1)
  assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('lane ')).length, lanes.size)
  assert.match(r.stderr, /verification failed: lane .* fails at seq (15|20)/)
})

test('verify under another public key fails at the first checkpoint', async () => {
  const r = await run(['--url', url, '--public-key', otherKeyFile, '--producer-id', lanes.get('clean')!.producerId, '--lane', '2'])
  assert.equal(r.code, 1)
  assert.match(r.stdout, /verified_through 0 of 30, .*FAILED at seq 10: signature/)
})

test('verify refuses bad usage with a UsageError naming the problem', async () => {
  for (const [args, message] of [
    [[], /needs --url/],
    [['--url', 'http://127.0.0.1:1'], /needs --public-key/],
    [['--url', 'http://x', '--public-key', join(dir, 'absent.pem')], /cannot read --public-key/],
    [['--url', 'http://x', '--public-key', keyFile, '--lane', '1'], /go together/],
    [['--url', 'http://x', '--public-key', keyFile, '--producer-id', 'nope', '--lane', '1'], /not a UUID/],
    [['--url', 'http://x', '--public-key', keyFile, '--producer-id', randomUUID(), '--lane', '1.5'], /not a lane/],
    [['--url', 'http://x', '--public-key', keyFile, '--token', 't', '--token-file', keyFile], /not both/]
  ] as Array<[string[], RegExp]>) {
    await assert.rejects(run(args), (err: unknown) => err instanceof UsageError && message.test(err.message), args.join(' '))
  }
})

test('the audit-stream entry point runs verify: exit 2 with its usage for bad usage, exit 1 naming the first bad seq', async () => {
  const env = { AUDIT_STREAM_URL: '' }
  const [usage, failed] = await Promise.all([
    runTs(cli, ['verify', '--url', url, '--public-key', localFile], { env }),
    runTs(cli, ['verify', ...only('delete')], { env })
  ])
  assert.equal(usage.code, 2, usage.stderr)
  assert.match(usage.stderr, /^audit-stream: Expected `publicKey` to be .*\n\nUsage: audit-stream verify /)
  assert.equal(failed.code, 1, failed.stderr)
  assert.match(failed.stderr, /fails at seq 15 \(missing/)
})
