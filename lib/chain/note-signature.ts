/**
 * Note signatures: Ed25519 keys, the 4-byte key id of a key name and public
 * key, signing a note's body ({@link NoteSigner}) and verifying a parsed
 * note's signature lines ({@link noteVerifies}). The line format is in
 * lib/chain/signed-note.ts.
 */
import crypto, { type KeyObject } from 'node:crypto'
import { InvalidOptionError } from '../errors.js'
import { noteBody } from './format-note.js'
import { KEY_NAME, SIGNATURE_DASH, type ParsedNote, type TrailNote } from './signed-note.js'

const DEFAULT_KEY_NAME = 'audit-stream'

/**
 * Signs trail notes with one Ed25519 key.
 *
 * @example
 * ```ts
 * const { privateKey } = crypto.generateKeyPairSync('ed25519')
 * const signer = new NoteSigner(privateKey)
 * const text = signer.sign({ kind: 'checkpoint', producerId, lane: 0, seq: 1, head, time: new Date().toISOString() })
 * ```
 */
export class NoteSigner {
  /** The key name written on every signature line. */
  readonly keyName: string
  /** The 4-byte key id derived from the key name and the public key. */
  readonly keyId: Buffer
  /** The public half of the signing key. */
  readonly publicKey: KeyObject
  /** An Ed25519 private key, checked at construction. */
  readonly #privateKey: KeyObject

  /**
   * @param signingKey - an Ed25519 private `KeyObject` or PKCS#8 PEM string
   * @param keyName - the key name, `audit-stream` by default
   * @throws {@link InvalidOptionError} when the key is not an Ed25519 private key or the name is invalid
   */
  constructor (signingKey: KeyObject | string, keyName: string = DEFAULT_KEY_NAME) {
    this.#privateKey = privateKeyOf(signingKey)
    if (typeof keyName !== 'string' || !KEY_NAME.test(keyName)) {
      throw new InvalidOptionError('trail.keyName', 'a key name of 1 to 64 printable ASCII characters without spaces or "+"', keyName)
    }
    this.keyName = keyName
    this.publicKey = crypto.createPublicKey(this.#privateKey)
    this.keyId = keyIdOf(keyName, this.publicKey)
  }

  /**
   * The public key as an SPKI PEM, for `POST /api/v1/audit/checkpoints` and verifiers.
   *
   * @returns the PEM text
   * @example
   * ```ts
   * fs.writeFileSync('trail-key.pub.pem', signer.publicKeyPem())
   * ```
   */
  publicKeyPem (): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  }

  /**
   * The note's text with one signature line by this key.
   *
   * @param note - the checkpoint or skip
   * @returns the signed note text
   * @throws {@link NoteFormatError} when a field of the note is out of range
   * @example
   * ```ts
   * await fs.promises.appendFile('trail.notes', signer.sign(note))
   * ```
   */
  sign (note: TrailNote): string {
    const body = noteBody(note)
    const signature = crypto.sign(null, Buffer.from(body, 'utf8'), this.#privateKey)
    return `${body}\n${SIGNATURE_DASH}${this.keyName} ${Buffer.concat([this.keyId, signature]).toString('base64')}\n`
  }
}

/**
 * Whether some signature line of the note is by this key and verifies over
 * its body. With `keyName`, only lines with that name count; without it, a
 * line of any name counts when its key id matches that name and this key.
 *
 * @param parsed - a parsed note
 * @param publicKey - the trusted key: public or private, PEM or `KeyObject`
 * @param keyName - the key name to require
 * @returns true when a signature verifies
 * @throws {@link InvalidOptionError} when the key is not an Ed25519 key
 * @example
 * ```ts
 * const trusted = parseNotes(file).filter((n) => noteVerifies(n, publicKeyPem))
 * ```
 */
export function noteVerifies (parsed: ParsedNote, publicKey: KeyObject | string, keyName?: string): boolean {
  const key = publicKeyOf(publicKey)
  const body = Buffer.from(parsed.body, 'utf8')
  for (const line of parsed.signatures) {
    if (keyName !== undefined && line.keyName !== keyName) continue
    if (!keyIdOf(line.keyName, key).equals(line.keyId)) continue
    if (crypto.verify(null, body, key, line.signature)) return true
  }
  return false
}

/**
 * The Ed25519 public key of a public or private key, PEM or `KeyObject`.
 *
 * @param key - an Ed25519 key
 * @returns the public `KeyObject`
 * @throws {@link InvalidOptionError} when the key is not an Ed25519 key
 * @example
 * ```ts
 * const pub = publicKeyOf(fs.readFileSync('trail-key.pub.pem', 'utf8'))
 * ```
 */
export function publicKeyOf (key: KeyObject | string): KeyObject {
  let pub: KeyObject
  try {
    pub = typeof key === 'string' ? crypto.createPublicKey(key) : key.type === 'public' ? key : crypto.createPublicKey(key)
  } catch (err) {
    throw new InvalidOptionError('publicKey', 'an Ed25519 key (PEM or KeyObject)', typeof key === 'string' ? 'a string that is not a key' : key, { cause: err })
  }
  if (pub.asymmetricKeyType !== 'ed25519') throw new InvalidOptionError('publicKey', 'an Ed25519 key', `a ${String(pub.asymmetricKeyType)} key`)
  return pub
}

function privateKeyOf (key: KeyObject | string): KeyObject {
  let priv: KeyObject
  try {
    priv = typeof key === 'string' ? crypto.createPrivateKey(key) : key
  } catch (err) {
    throw new InvalidOptionError('trail.signingKey', 'an Ed25519 private key (PKCS#8 PEM or KeyObject)', 'a string that is not a private key', { cause: err })
  }
  if (!(priv instanceof crypto.KeyObject) || priv.type !== 'private' || priv.asymmetricKeyType !== 'ed25519') {
    const got = priv instanceof crypto.KeyObject ? `a ${priv.type} ${String(priv.asymmetricKeyType ?? '')} key` : priv
    throw new InvalidOptionError('trail.signingKey', 'an Ed25519 private key (PKCS#8 PEM or KeyObject)', got)
  }
  return priv
}

function keyIdOf (keyName: string, publicKey: KeyObject): Buffer {
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url')
  return crypto.createHash('sha256').update(keyName, 'utf8').update(Buffer.of(0x0a, 0x01)).update(raw).digest().subarray(0, 4)
}
