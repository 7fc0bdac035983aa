/**
 * Ordered lanes on the reference server (issue 15), on PGlite in memory and
 * on a real PostgreSQL (DATABASE_URL): the audit-stream-* headers, the lane
 * rules (in order, gap, duplicate, overlap, conflict), exact raw bytes, skips,
 * checkpoints and their keys, hostile input, and concurrent batches racing
 * for one seq.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { GENESIS } from '../../lib/chain/chain-hash.js'
import { startDataStorageServer, type DataStorageServer } from '../../lib/server/index.js'
import { silentLogger } from '../helpers/fixtures.js'
import { BATCH, TestLane, call, laneEvent, newSigner, postNotes, publicPem, send, verify } from '../helpers/lane.js'
import { engines } from '../helpers/engines.js'

const GAP = 'urn:audit-stream:problem:lane/sequence-gap'
const CONFLICT = 'urn:audit-stream:problem:lane/sequence-conflict'

interface ChainReply { events: Array<{ seq: number, hash: string, raw: string, event: Record<string, unknown> }>, notes: string[], next?: number }

async function chainOf (url: string, lane: TestLane, query = ''): Promise<ChainReply> {
  const reply = await call(url, 'GET', `/api/v1/audit/chain?producer_id=${lane.producerId}&lane=${lane.lane}${query}`)
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
  return reply.body as unknown as ChainReply
}

const raws = (cid: string, from: number, n: number): string[] => Array.from({ length: n }, (_, i) => JSON.stringify(laneEvent(cid, from + i)))

for (const engine of engines) {
  describe(`ordered lanes on ${engine.name}`, { skip: engine.skip }, () => {
    let server: DataStorageServer
    let url: string
    before(async () => {
      server = await startDataStorageServer({ database: engine.database!, logger: silentLogger })
      url = server.url
    })
    after(async () => { await server?.close() })

    test('in-order batches are stored with their lane, seq, hash and the exact bytes received', async () => {
      const cid = randomUUID()
      const lane = new TestLane({ lane: 3 })
      const escaped = JSON.stringify(laneEvent(cid, 0)).replace('café', 'caf\\u00e9').replace('—', '\\u2014')
      const literal = JSON.stringify(laneEvent(cid, 1, { actor_id: 'é 漢 🎉 "quoted" \\ back' }))
      const spaced = JSON.stringify(laneEvent(cid, 2), null, 2)
      const first = lane.batch([escaped, literal, spaced], ' ,\n\t ')
      const reply = await send(url, first)
      assert.equal(reply.status, 201, JSON.stringify(reply.body))
      assert.equal((reply.body.event_ids as string[]).length, 3)
      const second = lane.batch(raws(cid, 3, 4))
      assert.equal((await send(url, second)).status, 201)
      const chain = await chainOf(url, lane)
      assert.deepEqual(chain.events.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7])
      assert.deepEqual(chain.events.map((e) => e.raw), [...first.raws, ...second.raws])
      assert.deepEqual(chain.events.map((e) => e.hash), [...first.hashes, ...second.hashes])
      assert.ok(chain.events[0]!.raw.includes('caf\\u00e9'), 'the \\u escape is kept as sent')
      assert.equal(Buffer.from(chain.events[1]!.raw, 'utf8').equals(Buffer.from(literal, 'utf8')), true)
      assert.equal((chain.events[0]!.event.event_data as { message: string }).message, 'rolled out replica set 0 — café')
      assert.deepEqual(chain.events.map((e) => e.event.event_id), [...(reply.body.event_ids as string[]), ...chain.events.slice(3).map((e) => e.event.event_id)])
      const lanes = await call(url, 'GET', `/api/v1/audit/lanes?correlation_id=${cid}`)
      assert.deepEqual(lanes.body, { lanes: [{ producer_id: lane.producerId, lane: 3, last_seq: 7, from: 1, to: 7 }] })
      const listed = await call(url, 'GET', `/api/v1/audit/events?correlation_id=${cid}&limit=10`)
      assert.equal((listed.body.data as unknown[]).length, 7)
      assert.equal((listed.body.data as Array<Record<string, unknown>>).some((e) => 'raw' in e || 'lane_seq' in e), false, 'the lane columns are not part of the event API')
    })

    test('a batch past the next seq gets 409 sequence-gap with expected_seq and is stored once the gap is filled', async () => {
      const cid = randomUUID()
      const lane = new TestLane()
      const a = lane.batch(raws(cid, 0, 2))
      const b = lane.batch(raws(cid, 2, 2))
      const gap = await send(url, b)
      assert.equal(gap.status, 409)
      assert.equal(gap.headers['content-type'], 'application/problem+json')
      assert.equal(gap.body.type, GAP)
      assert.ok(String(gap.body.type).endsWith('/sequence-gap'))
      assert.equal(gap.body.expected_seq, 1)
      assert.equal((await send(url, a)).status, 201)
      assert.equal((await send(url, b)).status, 201)
      assert.deepEqual((await chainOf(url, lane)).events.map((e) => e.seq), [1, 2, 3, 4])
    })

    test('a duplicate batch is answered as a replay with the stored ids and stores nothing twice', async () => {
      const cid = randomUUID()
      const lane = new TestLane()
      const a = lane.batch(raws(cid, 0, 3))
      const first = await send(url, a)
      assert.equal(first.status, 201)
      const again = await send(url, a)
      assert.equal(again.status, 200)
      assert.equal(again.headers['idempotent-replayed'], 'true')
      assert.deepEqual(again.body.event_ids, first.body.event_ids)
      // Also with an idempotency key the first request never used.
      const keyed = await send(url, a, { 'idempotency-key': randomUUID() })
      assert.equal(keyed.status, 200)
      assert.deepEqual(keyed.body.event_ids, first.body.event_ids)
      assert.equal((await chainOf(url, lane)).events.length, 3)
    })

    test('a replay of an idempotency key returns the stored response before the lane rules apply', async () => {
      const cid = randomUUID()
      const lane = new TestLane()
      const key = randomUUID()
      const a = lane.batch(raws(cid, 0, 2))
      const first = await send(url, a, { 'idempotency-key': key })
      assert.equal(first.status, 201)
      assert.equal((await send(url, lane.batch(raws(cid, 2, 1)))).status, 201)
      const replay = await send(url, a, { 'idempotency-key': key })
      assert.equal(replay.status, 201)
      assert.equal(replay.headers['idempotent-replayed'], 'true')
      assert.deepEqual(replay.body, first.body)
    })

    test('an overlapping batch stores only the events above the last seq and answers with every id', async () => {
      const cid = randomUUID()
      const lane = new TestLane()
      const all = raws(cid, 0, 5)
      const whole = lane.batch(all)
      const shadow = new TestLane({ producerId: lane.producerId })
      const head = shadow.batch(all.slice(0, 3))
      const first = await send(url, head)
      assert.equal(first.status, 201)
      const overlap = await send(url, whole)
      assert.equal(overlap.status, 201, JSON.stringify(overlap.body))
      const ids = overlap.body.event_ids as string[]
      assert.equal(ids.length, 5)
      assert.deepEqual(ids.slice(0, 3), first.body.event_ids)
      const chain = await chainOf(url, lane)
      assert.deepEqual(chain.events.map((e) => e.seq), [1, 2, 3, 4, 5])
      assert.deepEqual(chain.events.map((e) => e.event.event_id), ids)
    })

    test('a batch whose prev-hash is not the lane head gets 409 sequence-conflict', async () => {
      const cid = randomUUID()
      const lane = new TestLane()
      assert.equal((await send(url, lane.batch(raws(cid, 0, 2)))).status, 201)
      const other = new TestLane({ producerId: lane.producerId })
      other.batch(raws(cid, 100, 2)) // a different history up to seq 2
      const wrong = await send(url, other.batch(raws(cid, 2, 1)))
      assert.equal(wrong.status, 409)
      assert.equal(wrong.body.type, CONFLICT)
      assert.equal(wrong.body.expected_seq, 3)
      const duplicateOfOther = await send(url, new TestLane({ producerId: lane.producerId }).batch(raws(cid, 100, 2)))
      assert.equal(duplicateOfOther.status, 409, 'other events at settled seqs are a conflict, not a duplicate')
      assert.equal(duplicateOfOther.body.type, CONFLICT)
    })

    test('a head header that does not match the recomputed chain gets 400 naming audit-stream-head', async () => {
      const lane = new TestLane()
      const batch = lane.batch(raws(randomUUID(), 0, 2))
      const reply = await send(url, batch, { 'audit-stream-head': 'ab'.repeat(32) })
      assert.equal(reply.status, 400)
      assert.ok(Object.keys(reply.body.field_errors as object).includes('audit-stream-head'))
      // One byte of the body changed (the JSON stays valid): the chain no longer ends at the head.
      const changed = await send(url, { ...batch, body: batch.body.replace('"success"', '"failure"').replace('"failure"', '"success"').replace('café', 'cafe') })
      assert.equal(changed.status, 400)
      assert.match(String(changed.body.detail), /audit-stream-head/)
    })

    test('partial or malformed lane headers get 400 naming the header, and nothing is stored', async () => {
      const cid = randomUUID()
      const lane = new TestLane()
      const batch = lane.batch(raws(cid, 0, 1))
      for (const missing of ['audit-stream-producer', 'audit-stream-lane', 'audit-stream-seq', 'audit-stream-prev-hash', 'audit-stream-head']) {
        const headers = { ...batch.headers }
        delete headers[missing]
        const reply = await call(url, 'POST', BATCH, { body: batch.body, headers })
        assert.equal(reply.status, 400, missing)
        assert.match(String(reply.body.detail), new RegExp(missing), missing)
      }
      const junk: Array<[string, string]> = [
        ['audit-stream-producer', 'not-a-uuid'], ['audit-stream-lane', '-1'], ['audit-stream-lane', '99999999999'], ['audit-stream-lane', '1.5'],
        ['audit-stream-seq', '0'], ['audit-stream-seq', '99999999999999999999'], ['audit-stream-seq', '9007199254740992'], ['audit-stream-seq', '1e3'],
        ['audit-stream-prev-hash', 'zz'.repeat(32)], ['audit-stream-prev-hash', 'AB'.repeat(32)], ['audit-stream-head', '00'], ['audit-stream-seq', ' 1, 2']
      ]
      for (const [name, value] of junk) {
        const reply = await send(url, batch, { [name]: value })
        assert.equal(reply.status, 400, `${name}: ${value}`)
        assert.ok(name in (reply.body.field_errors as object), `${name}: ${value}`)
      }
      const single = await call(url, 'POST', '/api/v1/audit/events', { body: lane.batch(raws(cid, 1, 1)).raws[0]!, headers: batch.headers })
      assert.equal(single.status, 400)
      assert.equal((await chainOf(url, lane)).events.length, 0)
      const lanes = await call(url, 'GET', `/api/v1/audit/lanes?correlation_id=${cid}`)
      assert.deepEqual(lanes.body, { lanes: [] })
    })

    test('a skip note advances the lane, the next batch is accepted, and the skip is listed by verify', async () => {
      const cid = randomUUID()
      const lane = new TestLane({ signer: newSigner() })
      assert.equal((await send(url, lane.batch(raws(cid, 0, 2)))).status, 201)
      const early = lane.skip(raws(cid, 2, 3), 'rejected')
      const next = lane.batch(raws(cid, 5, 2))
      const gap = await send(url, next)
      assert.equal(gap.status, 409)
      assert.equal(gap.body.expected_seq, 3)
      const stored = await postNotes(url, [early], publicPem(lane.signer!))
      assert.equal(stored.status, 201, JSON.stringify(stored.body))
      assert.deepEqual(stored.body, { stored: 1 })
      assert.equal((await postNotes(url, [early])).status, 201, 'the same skip again is idempotent')
      assert.equal((await send(url, next)).status, 201)
      assert.equal((await postNotes(url, [lane.checkpoint()])).status, 201)
      const result = await verify(url, lane)
      assert.equal(result.status, 200)
      assert.equal(result.body.verified_through, 7)
      assert.equal(result.body.first_bad_seq, undefined)
      assert.deepEqual(result.body.skips, [{ from: 3, to: 5, reason: 'rejected' }])
    })

    test('a skip that does not continue the lane gets 409 gap or conflict', async () => {
      const cid = randomUUID()
      const lane = new TestLane()
      const ahead = new TestLane({ producerId: lane.producerId })
      ahead.batch(raws(cid, 0, 2))
      const skip = ahead.skip(raws(cid, 2, 1))
      const gap = await postNotes(url, [skip])
      assert.equal(gap.status, 409)
      assert.equal(gap.body.type, GAP)
      assert.equal(gap.body.expected_seq, 1)
      assert.equal((await send(url, lane.batch(raws(cid, 50, 2)))).status, 201)
      const conflict = await postNotes(url, [skip])
      assert.equal(conflict.status, 409)
      assert.equal(conflict.body.type, CONFLICT)
    })

    test('checkpoints: stored idempotently; a bad signature, another key after pinning, or an unsigned note after pinning get 422', async () => {
      const cid = randomUUID()
      const signer = newSigner()
      const lane = new TestLane({ signer })
      assert.equal((await send(url, lane.batch(raws(cid, 0, 2)))).status, 201)
      const note = lane.checkpoint()
      const tampered = note.replace(`seq 2\n`, 'seq 1\n')
      assert.notEqual(tampered, note)
      const noKey = await postNotes(url, [note])
      assert.equal(noKey.status, 422, 'nothing pinned and no key sent')
      const bad = await postNotes(url, [tampered], publicPem(signer))
      assert.equal(bad.status, 422)
      assert.equal((await postNotes(url, [note], publicPem(signer))).status, 201)
      assert.equal((await postNotes(url, [note])).status, 201, 'the same checkpoint again')
      const intruder = new TestLane({ producerId: lane.producerId, signer: newSigner() })
      intruder.batch(raws(cid, 0, 2))
      const other = await postNotes(url, [intruder.checkpoint()], publicPem(intruder.signer!))
      assert.equal(other.status, 422)
      const otherNoKey = await postNotes(url, [intruder.checkpoint()])
      assert.equal(otherNoKey.status, 422)
      const unsigned = new TestLane({ producerId: lane.producerId })
      unsigned.batch(raws(cid, 0, 2))
      assert.equal((await postNotes(url, [unsigned.checkpoint()])).status, 422)
      const chain = await chainOf(url, lane)
      assert.deepEqual(chain.notes, [note])
    })

    test('unsigned notes of a producer without a key are stored', async () => {
      const lane = new TestLane()
      assert.equal((await send(url, lane.batch(raws(randomUUID(), 0, 2)))).status, 201)
      assert.deepEqual((await postNotes(url, [lane.checkpoint()])).body, { stored: 1 })
    })

    test('malformed checkpoint requests get 400, never 500', async () => {
      const lane = new TestLane({ signer: newSigner() })
      lane.batch(raws(randomUUID(), 0, 1))
      const good = lane.checkpoint(1)
      const bodies: unknown[] = [
        [], {}, { notes: [] }, { notes: 'x' }, { notes: [42] }, { notes: ['not a note'] }, { notes: ['x'.repeat(1024 * 1024)] },
        { notes: [good.replace('checkpoint', 'checkpoints')] }, { notes: [good], public_key: 'not a key' }, { notes: [good], public_key: 7 },
        { notes: Array.from({ length: 1001 }, () => good) }
      ]
      for (const body of bodies) {
        const reply = await call(url, 'POST', '/api/v1/audit/checkpoints', { json: body })
        assert.equal(reply.status, 400, JSON.stringify(body).slice(0, 80))
        assert.equal(reply.headers['content-type'], 'application/problem+json')
      }
      const { privateKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('ed25519'))
      const leaked = await postNotes(url, [good], privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
      assert.equal(leaked.status, 400)
      assert.equal((await call(url, 'GET', '/api/v1/audit/checkpoints')).status, 405)
    })

    test('bad query parameters of verify, chain and lanes get 400 naming the parameter', async () => {
      const p = randomUUID()
      const cases: Array<[string, string]> = [
        ['/api/v1/audit/verify?lane=0', 'producer_id'], [`/api/v1/audit/verify?producer_id=${p}`, 'lane'], ['/api/v1/audit/verify?producer_id=x&lane=0', 'producer_id'],
        [`/api/v1/audit/verify?producer_id=${p}&lane=-1`, 'lane'], [`/api/v1/audit/verify?producer_id=${p}&lane=0&from=0`, 'from'],
        [`/api/v1/audit/verify?producer_id=${p}&lane=0&from=5&to=4`, 'to'], [`/api/v1/audit/verify?producer_id=${p}&lane=0&to=99999999999999999`, 'to'],
        [`/api/v1/audit/verify?producer_id=${p}&lane=0&from=1&to=100001`, 'to'], [`/api/v1/audit/verify?producer_id=${p}&lane=0&lane=1`, 'lane'],
        [`/api/v1/audit/chain?producer_id=${p}&lane=0&limit=10001`, 'limit'], [`/api/v1/audit/chain?producer_id=${p}&lane=0&limit=0`, 'limit'],
        [`/api/v1/audit/chain?producer_id=${p}&lane=abc`, 'lane'], ['/api/v1/audit/lanes?correlation_id=', 'correlation_id']
      ]
      for (const [path, param] of cases) {
        const reply = await call(url, 'GET', path)
        assert.equal(reply.status, 400, path)
        assert.ok(param in (reply.body.field_errors as object), path)
      }
      const unknown = await call(url, 'GET', `/api/v1/audit/verify?producer_id=${p}&lane=0`)
      assert.equal(unknown.status, 200)
      assert.equal(unknown.body.verified_through, 0)
    })

    test('the chain endpoint pages with limit and next', async () => {
      const cid = randomUUID()
      const lane = new TestLane()
      assert.equal((await send(url, lane.batch(raws(cid, 0, 5)))).status, 201)
      const page = await chainOf(url, lane, '&limit=2')
      assert.deepEqual(page.events.map((e) => e.seq), [1, 2])
      assert.equal(page.next, 3)
      const rest = await chainOf(url, lane, '&from=3&limit=10')
      assert.deepEqual(rest.events.map((e) => e.seq), [3, 4, 5])
      assert.equal(rest.next, undefined)
    })

    test('two batches racing for one seq of a lane: exactly one is stored, every round', async () => {
      for (let round = 0; round < 25; round++) {
        const cid = randomUUID()
        const lane = new TestLane()
        const producerId = lane.producerId
        const rivals = Array.from({ length: 4 }, (_, k) => new TestLane({ producerId }).batch(raws(cid, k * 10, 2)))
        const replies = await Promise.all(rivals.map((b) => send(url, b)))
        const stored = replies.filter((r) => r.status === 201)
        assert.equal(stored.length, 1, `round ${round}: ${replies.map((r) => r.status).join(',')}`)
        for (const r of replies) if (r.status !== 201) assert.equal(r.body.type, CONFLICT)
        const chain = await chainOf(url, lane)
        assert.deepEqual(chain.events.map((e) => e.seq), [1, 2])
        assert.deepEqual(chain.events.map((e) => e.event.event_id), stored[0]!.body.event_ids)
      }
    })

    test('the same batch sent many times at once is stored once and every answer carries the same ids', async () => {
      for (let round = 0; round < 10; round++) {
        const lane = new TestLane()
        const batch = lane.batch(raws(randomUUID(), 0, 3))
        const replies = await Promise.all(Array.from({ length: 5 }, () => send(url, batch)))
        assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 200, 200, 201])
        const ids = replies[0]!.body.event_ids
        for (const r of replies) assert.deepEqual(r.body.event_ids, ids)
        assert.equal((await chainOf(url, lane)).events.length, 3)
      }
    })

    test('a batch without the headers is stored as before, with no lane', async () => {
      const cid = randomUUID()
      const reply = await call(url, 'POST', BATCH, { json: [laneEvent(cid, 0)] })
      assert.equal(reply.status, 201)
      assert.deepEqual((await call(url, 'GET', `/api/v1/audit/lanes?correlation_id=${cid}`)).body, { lanes: [] })
    })

    test('the first seq of a lane must chain from GENESIS', async () => {
      const lane = new TestLane()
      const batch = lane.batch(raws(randomUUID(), 0, 1))
      assert.equal(batch.headers['audit-stream-prev-hash'], GENESIS.toString('hex'))
      const other = new TestLane({ producerId: lane.producerId })
      other.heads[0] = Buffer.alloc(32, 1)
      const wrong = await send(url, other.batch(raws(randomUUID(), 0, 1)))
      assert.equal(wrong.status, 409)
      assert.equal(wrong.body.type, CONFLICT)
    })
  })
}
