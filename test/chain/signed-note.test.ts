import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { formatNote } from '../../lib/chain/format-note.js'
import { noteVerifies, NoteSigner, publicKeyOf } from '../../lib/chain/note-signature.js'
import { parseNote, parseNotes } from '../../lib/chain/parse-note.js'
import type { CheckpointNote, SkipNote } from '../../lib/chain/signed-note.js'
import { InvalidOptionError, NoteFormatError } from '../../lib/errors.js'

const PRODUCER = '0b7d4a52-3f0e-4c55-9a51-6f1f2d3c4b5a'
const HEAD = 'ab'.repeat(32)
const PREV = 'cd'.repeat(32)
const checkpoint: CheckpointNote = { kind: 'checkpoint', producerId: PRODUCER, lane: 2, seq: 1000, head: HEAD, time: '2026-12-02T19:00:00.000Z' }
const skip: SkipNote = { kind: 'skip', producerId: PRODUCER, lane: 0, from: 11, to: 20, prev: PREV, head: HEAD, reason: 'rejected', time: '2026-12-02T19:00:01.250Z' }
const { privateKey } = crypto.generateKeyPairSync('ed25519')
const other = crypto.generateKeyPairSync('ed25519')
const signer = new NoteSigner(privateKey)

// RFC 8032 section 7.1, TEST 1.
const RFC_SECRET = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'
const RFC_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
const RFC_SIGNATURE = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'

function rfcKey (): crypto.KeyObject {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(RFC_SECRET, 'hex')])
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
}

test('an RFC 8032 TEST 1 key imported from its raw seed signs the empty message exactly as the RFC', () => {
  const key = rfcKey()
  const pub = publicKeyOf(key)
  assert.equal(Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url').toString('hex'), RFC_PUBLIC)
  assert.equal(crypto.sign(null, Buffer.alloc(0), key).toString('hex'), RFC_SIGNATURE)
  assert.ok(crypto.verify(null, Buffer.alloc(0), pub, Buffer.from(RFC_SIGNATURE, 'hex')))
})

test('NoteSigner derives the key id as SHA-256(name, 0x0a, 0x01, raw public key)[0..4] and signs the body bytes', () => {
  const rfc = new NoteSigner(rfcKey())
  const expected = crypto.createHash('sha256').update(Buffer.concat([Buffer.from('audit-stream\n\x01', 'latin1'), Buffer.from(RFC_PUBLIC, 'hex')])).digest().subarray(0, 4)
  assert.deepEqual(rfc.keyId, expected)
  const text = rfc.sign(checkpoint)
  const parsed = parseNote(text)
  assert.equal(parsed.signatures.length, 1)
  assert.deepEqual(parsed.signatures[0]!.keyId, expected)
  // Ed25519 is deterministic: the signature line is exactly the RFC key's signature of the body.
  assert.deepEqual(parsed.signatures[0]!.signature, crypto.sign(null, Buffer.from(parsed.body), rfcKey()))
  // And the RFC's raw public key (as SPKI DER) verifies the note.
  const rfcPublic = crypto.createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(RFC_PUBLIC, 'hex')]), format: 'der', type: 'spki' })
  assert.ok(noteVerifies(parsed, rfcPublic))
})

test('formatNote writes the checkpoint body lines of the contract, then the empty line', () => {
  assert.equal(formatNote(checkpoint),
    'audit-stream/v1 checkpoint\n' + `producer ${PRODUCER}\n` + 'lane 2\nseq 1000\n' + `head ${HEAD}\n` + 'time 2026-12-02T19:00:00.000Z\n\n')
  assert.equal(formatNote(skip),
    'audit-stream/v1 skip\n' + `producer ${PRODUCER}\n` + 'lane 0\nfrom 11\nto 20\n' + `prev ${PREV}\nhead ${HEAD}\n` + 'reason rejected\ntime 2026-12-02T19:00:01.250Z\n\n')
})

test('signed and unsigned notes round-trip through parseNote', () => {
  for (const note of [checkpoint, skip]) {
    const signed = parseNote(signer.sign(note))
    assert.deepEqual(signed.note, note)
    assert.equal(signed.body, formatNote(note).slice(0, -1))
    assert.equal(signed.signatures[0]!.keyName, 'audit-stream')
    assert.ok(noteVerifies(signed, signer.publicKey))
    assert.ok(noteVerifies(signed, signer.publicKeyPem()))
    assert.ok(noteVerifies(signed, privateKey))
    assert.ok(noteVerifies(signed, signer.publicKey, 'audit-stream'))
    const unsigned = parseNote(formatNote(note))
    assert.deepEqual(unsigned.note, note)
    assert.deepEqual(unsigned.signatures, [])
    assert.equal(noteVerifies(unsigned, signer.publicKey), false)
  }
})

test('parseNotes reads a file of concatenated signed and unsigned notes', () => {
  const texts = [signer.sign(checkpoint), formatNote(skip), signer.sign(skip), formatNote(checkpoint)]
  const parsed = parseNotes(texts.join(''))
  assert.deepEqual(parsed.map((p) => p.text), texts)
  assert.deepEqual(parseNotes(''), [])
})

test('a signature by another key, or under another key name, does not verify', () => {
  const parsed = parseNote(signer.sign(checkpoint))
  assert.equal(noteVerifies(parsed, other.publicKey), false)
  assert.equal(noteVerifies(parsed, signer.publicKey, 'someone-else'), false)
})

test('a note signed under a custom key name verifies with that name or with none', () => {
  const named = new NoteSigner(privateKey, 'payments-prod')
  assert.notDeepEqual(named.keyId, signer.keyId)
  const parsed = parseNote(named.sign(checkpoint))
  assert.ok(noteVerifies(parsed, signer.publicKey))
  assert.ok(noteVerifies(parsed, signer.publicKey, 'payments-prod'))
  assert.equal(noteVerifies(parsed, signer.publicKey, 'audit-stream'), false)
})

test('a signature line whose key id does not match the key and name is not verified', () => {
  const text = signer.sign(checkpoint)
  const line = text.slice(text.lastIndexOf('\u2014 '))
  const bytes = Buffer.from(line.trim().split(' ')[2]!, 'base64')
  bytes[0]! ^= 0xff
  const forged = text.replace(line, `\u2014 audit-stream ${bytes.toString('base64')}\n`)
  assert.equal(noteVerifies(parseNote(forged), signer.publicKey), false)
})

test('an edited body no longer verifies', () => {
  const text = signer.sign(checkpoint).replace('seq 1000', 'seq 1001')
  assert.equal(noteVerifies(parseNote(text), signer.publicKey), false)
})

test('a note may carry several signatures; any trusted one verifies', () => {
  const second = new NoteSigner(other.privateKey, 'backup')
  const first = signer.sign(checkpoint)
  const both = first + second.sign(checkpoint).split('\n\n')[1]
  const parsed = parseNote(both)
  assert.equal(parsed.signatures.length, 2)
  assert.ok(noteVerifies(parsed, other.publicKey))
  assert.ok(noteVerifies(parsed, signer.publicKey))
})

test('NoteSigner refuses a key that is not an Ed25519 private key with InvalidOptionError', () => {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 })
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
  for (const key of [
    rsa.privateKey, ec.privateKey, other.publicKey, 'not a pem',
    rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    crypto.createSecretKey(Buffer.alloc(32))
  ]) {
    assert.throws(() => new NoteSigner(key), InvalidOptionError)
  }
  assert.throws(() => new NoteSigner(privateKey, 'has space'), InvalidOptionError)
  assert.throws(() => new NoteSigner(privateKey, ''), InvalidOptionError)
  assert.throws(() => new NoteSigner(privateKey, 'a+b'), InvalidOptionError)
  assert.ok(new NoteSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()).keyId.equals(signer.keyId))
})

test('publicKeyOf accepts public and private keys as PEM or KeyObject and refuses others', () => {
  const pem = signer.publicKeyPem()
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/)
  for (const key of [pem, signer.publicKey, privateKey, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()]) {
    assert.ok(publicKeyOf(key).equals(signer.publicKey))
  }
  assert.throws(() => publicKeyOf('junk'), InvalidOptionError)
  assert.throws(() => publicKeyOf(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), InvalidOptionError)
  assert.throws(() => noteVerifies(parseNote(signer.sign(checkpoint)), 'junk'), InvalidOptionError)
})

test('formatNote and sign refuse notes with fields out of range', () => {
  for (const bad of [
    { ...checkpoint, seq: 0 }, { ...checkpoint, seq: -1 }, { ...checkpoint, seq: 1.5 }, { ...checkpoint, seq: 2 ** 53 },
    { ...checkpoint, lane: -1 }, { ...checkpoint, lane: 2 ** 32 }, { ...checkpoint, head: HEAD.toUpperCase() },
    { ...checkpoint, head: 'ab' }, { ...checkpoint, producerId: 'x' }, { ...checkpoint, time: '2026-12-02T19:00:00Z' },
    { ...checkpoint, time: '2026-02-30T19:00:00.000Z' }, { ...skip, to: 10 }, { ...skip, reason: 'has space' },
    { ...skip, reason: 'line\nbreak' }, { ...checkpoint, kind: 'other' }
  ]) {
    assert.throws(() => formatNote(bad as CheckpointNote), NoteFormatError, JSON.stringify(bad))
    assert.throws(() => signer.sign(bad as CheckpointNote), NoteFormatError)
  }
})

const good = signer.sign(checkpoint)
const goodSkip = signer.sign(skip)
const lines = good.split('\n')
const malformed: Array<[string, string]> = [
  ['empty text', ''],
  ['a missing line', good.replace('lane 2\n', '')],
  ['an extra body line', good.replace('lane 2\n', 'lane 2\nextra 1\n')],
  ['a repeated line', good.replace('lane 2\n', 'lane 2\nlane 2\n')],
  ['lines in the wrong order', good.replace('lane 2\nseq 1000\n', 'seq 1000\nlane 2\n')],
  ['an unknown header', good.replace('audit-stream/v1 checkpoint', 'audit-stream/v2 checkpoint')],
  ['a skip header over checkpoint lines', good.replace('checkpoint', 'skip')],
  ['bad hex', good.replace(HEAD, 'zz'.repeat(32))],
  ['uppercase hex', good.replace(HEAD, HEAD.toUpperCase())],
  ['short hex', good.replace(HEAD, 'ab'.repeat(31))],
  ['seq 0', good.replace('seq 1000', 'seq 0')],
  ['a negative seq', good.replace('seq 1000', 'seq -1')],
  ['a leading zero', good.replace('seq 1000', 'seq 01000')],
  ['a plus sign', good.replace('seq 1000', 'seq +1000')],
  ['a number beyond MAX_SAFE_INTEGER', good.replace('seq 1000', 'seq 9007199254740993')],
  ['a huge number', good.replace('seq 1000', `seq ${'9'.repeat(40)}`)],
  ['an exponent', good.replace('seq 1000', 'seq 1e3')],
  ['a lane beyond u32', good.replace('lane 2', 'lane 4294967296')],
  ['two spaces', good.replace('lane 2', 'lane  2')],
  ['a trailing space', good.replace('lane 2', 'lane 2 ')],
  ['CRLF line endings', good.replaceAll('\n', '\r\n')],
  ['a CR in the body', good.replace('lane 2\n', 'lane 2\r\n')],
  ['a time without milliseconds', good.replace('19:00:00.000Z', '19:00:00Z')],
  ['a time with an offset', good.replace('19:00:00.000Z', '19:00:00.000+01:00')],
  ['an impossible date', good.replace('2026-12-02', '2026-02-30')],
  ['an uppercase producer', good.replace(PRODUCER, PRODUCER.toUpperCase())],
  ['no empty line after the body', lines.slice(0, 6).join('\n') + '\n' + lines.slice(7).join('\n')],
  ['no final newline', good.slice(0, -1)],
  ['an unsigned note without the final newline', formatNote(checkpoint).slice(0, -1)],
  ['two empty lines', good.replace('\n\n', '\n\n\n')],
  ['a signature line with bad base64', good.replace(/\u2014 audit-stream \S+/, '\u2014 audit-stream !!!notbase64!!!')],
  ['a signature line with short base64', good.replace(/\u2014 audit-stream \S+/, '\u2014 audit-stream AAAA')],
  ['a signature line without padding', good.replace(/(\u2014 audit-stream \S+)=/, '$1')],
  ['a signature line without a key name', good.replace(/\u2014 audit-stream /, '\u2014 ')],
  ['a signature line with a hyphen instead of an em dash', good.replace('\u2014', '-')],
  ['a line after the signatures', good + 'trailing\n'],
  ['an empty line after the signatures', good + '\n'],
  ['a skip with to below from', goodSkip.replace('to 20', 'to 10')],
  ['a skip reason with a space', goodSkip.replace('reason rejected', 'reason not ok')],
  ['a skip reason missing', goodSkip.replace('reason rejected', 'reason ')],
  ['a note over 4 KiB', good.slice(0, -1) + ('\n\u2014 audit-stream ' + Buffer.alloc(68).toString('base64')).repeat(60) + '\n'],
  ['a huge body without an empty line', 'audit-stream/v1 checkpoint\n' + 'x'.repeat(100_000)],
  ['binary junk', Buffer.from(crypto.randomBytes(512)).toString('latin1')],
  ['lone surrogates and NULs', 'audit-stream/v1 checkpoint\n\uD800\u0000\n\n'],
  ['a NUL in a value', good.replace('lane 2', 'lane 2\u0000')]
]

for (const [what, text] of malformed) {
  test(`parseNote refuses ${what} with NoteFormatError`, () => {
    assert.throws(() => parseNote(text), NoteFormatError)
    assert.throws(() => parseNotes(text === '' ? 'x' : text), NoteFormatError)
  })
}

test('parseNote refuses a value that is not a string with NoteFormatError', () => {
  assert.throws(() => parseNote(42 as unknown as string), NoteFormatError)
  assert.throws(() => parseNotes(null as unknown as string), NoteFormatError)
})

test('parseNotes refuses anything between notes', () => {
  assert.throws(() => parseNotes(good + '\n' + good), NoteFormatError)
  assert.throws(() => parseNotes(good + '# comment\n' + good), NoteFormatError)
})
