/**
 * The exact byte ranges of the elements of a top-level JSON array, without
 * parsing them: what a lane batch's hash chain covers is the bytes the client
 * sent, not a re-serialization. One pass over the bytes; a string is crossed
 * with `indexOf` to its closing quote, so text costs little more than memchr.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

/** Thrown for a body that is not one JSON array (the server parses first, so this is defence). @internal */
export class ArrayShapeError extends Error {
  constructor (detail: string) {
    super(detail)
    this.name = 'ArrayShapeError'
  }
}

// JSON's four whitespace bytes.
function isSpace (byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09
}

/**
 * The elements of the JSON array in `body` as `[start, end)` offsets, two
 * numbers per element, with the whitespace around each element left out.
 * Tracks strings (and their escapes) and nesting depth only; it does not
 * check the elements' grammar, which `JSON.parse` already has.
 * @internal
 * @throws {@link ArrayShapeError} when `body` is not one array (unbalanced
 *   brackets, an unterminated string, text after the array, empty elements)
 */
export function arrayElements (body: Uint8Array): number[] {
  const n = body.length
  const out: number[] = []
  let i = 0
  while (i < n && isSpace(body[i]!)) i++
  if (body[i] !== OPEN_ARRAY) throw new ArrayShapeError('the body is not a JSON array')
  i++
  // start is the first byte of the element being scanned, or -1 between elements.
  let start = -1
  // last is one past the element's last non-space byte seen so far.
  let last = -1
  // depth counts the brackets and braces open inside the current element.
  let depth = 0
  let closed = false
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  while (i < n) {
    const byte = body[i]!
    if (byte === QUOTE) {
      if (start === -1) start = i
      i = closingQuote(buffer, i + 1) + 1
      last = i
      continue
    }
    if (isSpace(byte)) {
      i++
      continue
    }
    if (depth === 0 && (byte === COMMA || byte === CLOSE_ARRAY)) {
      if (start === -1) {
        // `[]` is the one place an element may be absent.
        if (byte === CLOSE_ARRAY && out.length === 0) {
          closed = true
          i++
          break
        }
        throw new ArrayShapeError(`an array element is missing before byte ${i}`)
      }
      out.push(start, last)
      start = -1
      i++
      if (byte === CLOSE_ARRAY) {
        closed = true
        break
      }
      continue
    }
    if (start === -1) start = i
    if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) depth++
    else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      if (--depth < 0) throw new ArrayShapeError(`unbalanced bracket at byte ${i}`)
    }
    i++
    last = i
  }
  if (!closed) throw new ArrayShapeError('the array is not closed')
  while (i < n && isSpace(body[i]!)) i++
  if (i !== n) throw new ArrayShapeError(`text after the array at byte ${i}`)
  return out
}

// The offset of the quote that closes the string whose text starts at `from`:
// a quote preceded by an even number of backslashes.
function closingQuote (body: Buffer, from: number): number {
  let at = from
  for (;;) {
    const quote = body.indexOf(QUOTE, at)
    if (quote === -1) throw new ArrayShapeError('a string is not terminated')
    let slashes = 0
    while (body[quote - 1 - slashes] === BACKSLASH) slashes++
    if (slashes % 2 === 0) return quote
    at = quote + 1
  }
}
