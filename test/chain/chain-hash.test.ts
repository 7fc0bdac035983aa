import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { chainEvents, chainHash, eventDigest, GENESIS } from '../../lib/chain/chain-hash.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { prng } from '../helpers/prng.js'

const PRODUCER = '00112233-4455-6677-8899-aabbccddeeff'

test('eventDigest is SHA-256: the NIST vector for "abc"', () => {
  assert.equal(eventDigest('abc').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  assert.equal(eventDigest(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

test('eventDigest hashes a string as its UTF-8 bytes', () => {
  assert.deepEqual(eventDigest('{"b":"é"}'), eventDigest(Buffer.from('{"b":"é"}', 'utf8')))
})

test('GENESIS is 32 zero bytes', () => {
  assert.deepEqual(GENESIS, Buffer.alloc(32))
})

// Golden vector. The preimage of h_1 is 107 bytes, reproducible by hand:
//   D=$(printf '{"a":1}' | sha256sum | cut -c1-64)   # 015abd7f...97f862
//   { printf 'audit-stream/v1'                        # 15 bytes, domain
//     printf '00112233445566778899aabbccddeeff' | xxd -r -p   # producer, 16 bytes
//     printf '00000003' | xxd -r -p                   # lane 3, u32 BE
//     printf '0000000000000001' | xxd -r -p           # seq 1, u64 BE
//     head -c 32 /dev/zero                            # h_0 = GENESIS
//     printf $D | xxd -r -p                           # SHA-256(event bytes)
//   } | sha256sum
// The seq 2^40+5 vector is the same with '0000010000000005' as the seq.
test('chainHash matches the golden vector computed with sha256sum', () => {
  const digest = eventDigest('{"a":1}')
  assert.equal(digest.toString('hex'), '015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862')
  assert.equal(chainHash(PRODUCER, 3, 1, GENESIS, digest).toString('hex'), 'c9aafd3acb6c22cfa3fdd460ba5dd4236f9f1fe59659ba2f64013e418de74b00')
  assert.equal(chainHash(PRODUCER, 3, 2 ** 40 + 5, GENESIS, digest).toString('hex'), 'aa7dba2fd2efea434a9f9f0b08996db0a7a62a8aa0b594683e8433d92ea0bddf')
})

test('chainHash equals SHA-256 of the documented preimage', () => {
  const prev = crypto.randomBytes(32)
  const digest = eventDigest('{"x":true}')
  const preimage = Buffer.concat([
    Buffer.from('audit-stream/v1'), Buffer.from(PRODUCER.replaceAll('-', ''), 'hex'),
    Buffer.from([0, 0, 1, 0]), Buffer.from([0, 0, 0, 0, 0, 0, 0, 42]), prev, digest
  ])
  assert.equal(preimage.length, 107)
  assert.deepEqual(chainHash(PRODUCER, 256, 42, prev, digest), crypto.createHash('sha256').update(preimage).digest())
})

test('chainEvents returns the same hashes as chaining chainHash one event at a time', () => {
  const events = Array.from({ length: 25 }, (_, i) => JSON.stringify({ i, s: 'ü'.repeat(i) }))
  const prev = crypto.randomBytes(32)
  const out = chainEvents(PRODUCER, 7, 100, prev, events)
  assert.equal(out.length, events.length * 32)
  let h: Buffer = prev
  events.forEach((e, k) => {
    h = chainHash(PRODUCER, 7, 100 + k, h, eventDigest(e))
    assert.deepEqual(out.subarray(k * 32, k * 32 + 32), h)
  })
  assert.equal(chainEvents(PRODUCER, 7, 1, GENESIS, []).length, 0)
})

test('chainEvents does not alias the caller\'s prev buffer', () => {
  const prev = crypto.randomBytes(32)
  const copy = Buffer.from(prev)
  chainEvents(PRODUCER, 0, 1, prev, ['{}', '{}'])
  assert.deepEqual(prev, copy)
})

test('the producer, the lane and the seq each change the hash', () => {
  const d = eventDigest('{}')
  const base = chainHash(PRODUCER, 0, 1, GENESIS, d)
  assert.notDeepEqual(chainHash('00112233-4455-6677-8899-aabbccddeef0', 0, 1, GENESIS, d), base)
  assert.notDeepEqual(chainHash(PRODUCER, 1, 1, GENESIS, d), base)
  assert.notDeepEqual(chainHash(PRODUCER, 0, 2, GENESIS, d), base)
  assert.deepEqual(chainHash(PRODUCER.toUpperCase(), 0, 1, GENESIS, d), base)
})

test('chainHash and chainEvents refuse out-of-range arguments with InvalidOptionError', () => {
  const d = eventDigest('{}')
  for (const bad of [
    () => chainHash('not-a-uuid', 0, 1, GENESIS, d),
    () => chainHash(PRODUCER, -1, 1, GENESIS, d),
    () => chainHash(PRODUCER, 2 ** 32, 1, GENESIS, d),
    () => chainHash(PRODUCER, 0.5, 1, GENESIS, d),
    () => chainHash(PRODUCER, 0, 0, GENESIS, d),
    () => chainHash(PRODUCER, 0, Number.NaN, GENESIS, d),
    () => chainHash(PRODUCER, 0, 2 ** 53, GENESIS, d),
    () => chainHash(PRODUCER, 0, 1, Buffer.alloc(31), d),
    () => chainHash(PRODUCER, 0, 1, GENESIS, Buffer.alloc(33)),
    () => chainEvents(PRODUCER, 0, Number.MAX_SAFE_INTEGER, GENESIS, ['{}', '{}'])
  ].entries()) {
    assert.throws(bad[1], InvalidOptionError, `case ${bad[0]}`)
  }
})

// An implementation of the README's formula written apart from chain-hash.ts: a Hash
// object per step, BigInt for the u64 seq, TextEncoder for the event bytes.
function referenceChain (producerId: string, lane: number, firstSeq: number, prev: Buffer, events: readonly string[]): Buffer[] {
  const producer = Buffer.from(producerId.replaceAll('-', ''), 'hex')
  const laneBytes = Buffer.alloc(4)
  laneBytes.writeUInt32BE(lane)
  const out: Buffer[] = []
  let h = prev
  events.forEach((event, k) => {
    const seq = Buffer.alloc(8)
    seq.writeBigUInt64BE(BigInt(firstSeq) + BigInt(k))
    const digest = crypto.createHash('sha256').update(new TextEncoder().encode(event)).digest()
    h = crypto.createHash('sha256').update('audit-stream/v1', 'ascii').update(producer).update(laneBytes).update(seq).update(h).update(digest).digest()
    out.push(h)
  })
  return out
}

test('chainEvents agrees with an independent implementation of the formula on random events, lanes and seqs', () => {
  const seed = Number(process.env.CHAIN_SEED ?? Date.now() % 2 ** 31)
  const random = prng(seed)
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', 'é', 'ß', '中', '文', '😀', '👩‍💻', '\n', '\t', '\u00ff', '\u2028']
  const pick = (n: number): number => Math.floor(random() * n)
  const text = (): string => Array.from({ length: pick(40) }, () => alphabet[pick(alphabet.length)]).join('')
  // Seqs around the u32 boundary and up to the last safe integer; lanes up to 2^32 - 1.
  const seqStarts = [1, 2 ** 32 - 3, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER - 40]
  const lanes = [0, 1, 255, 256, 65_536, 2 ** 31, 2 ** 32 - 1]
  for (let round = 0; round < 40; round++) {
    const producer = crypto.randomUUID()
    const lane = lanes[pick(lanes.length)]!
    const count = 1 + pick(40)
    // Every fifth round ends exactly at the last safe integer.
    const firstSeq = round % 5 === 4 ? Number.MAX_SAFE_INTEGER - count + 1 : seqStarts[pick(seqStarts.length)]!
    const prev = round % 3 === 0 ? GENESIS : crypto.randomBytes(32)
    const events = Array.from({ length: count }, () => JSON.stringify({ s: text(), n: pick(1e6), nested: { t: text() } }))
    const got = chainEvents(producer, lane, firstSeq, prev, events)
    const want = referenceChain(producer, lane, firstSeq, prev, events)
    assert.equal(got.length, count * 32)
    want.forEach((h, k) => {
      assert.equal(got.subarray(k * 32, k * 32 + 32).toString('hex'), h.toString('hex'),
        `seed ${seed}, round ${round}: lane ${lane}, seq ${firstSeq + k}, event ${JSON.stringify(events[k])}`)
    })
  }
})
