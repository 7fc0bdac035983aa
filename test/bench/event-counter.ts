/**
 * Counts the events in a JSON array body without parsing it: the objects at
 * the array's top level. Fed the body in pieces as they arrive, so that a
 * piece may end anywhere, inside a string or right after a backslash.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/** One body's count; {@link EventCounter.end} says whether the body was a complete array. */
export class EventCounter {
  // Invariant: the number of `{` and `[` seen outside strings, less the `}` and `]`; 1 inside the array.
  #depth = 0
  // Invariant: inside a string literal; braces there are text.
  #inString = false
  // Invariant: the last piece ended on a backslash inside a string, so the next byte is escaped (a quote does not end the string).
  #escaped = false
  // Set once the top-level `[` was seen; anything else at depth 0 makes the body malformed.
  #sawArray = false
  #malformed = false
  #events = 0

  /** Scans `bytes` (the next piece of the body). */
  feed (bytes: Uint8Array): void {
    const length = bytes.length
    if (length === 0) return
    let depth = this.#depth
    let inString = this.#inString
    // A backslash ended the last piece: the first byte here is the one it escapes.
    let i = this.#escaped ? 1 : 0
    this.#escaped = false
    while (i < length) {
      if (inString) {
        // Most of a body is string bytes: this loop looks for the closing quote only, hopping over escapes.
        while (i < length) {
          const c = bytes[i++]!
          if (c === QUOTE) {
            inString = false
            break
          }
          if (c === BACKSLASH) i++
        }
        // Past the end: the piece ended on a backslash.
        if (i > length) this.#escaped = true
        continue
      }
      const c = bytes[i++]!
      if (c === QUOTE) {
        inString = true
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === 0) {
          if (c !== OPEN_BRACKET || this.#sawArray) this.#malformed = true
          this.#sawArray = true
        } else if (depth === 1 && c === OPEN_BRACE) {
          this.#events++
        }
        depth++
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--
        if (depth < 0) this.#malformed = true
      } else if (depth === 0 && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        // Only whitespace may stand outside the array.
        this.#malformed = true
      }
    }
    this.#depth = depth
    this.#inString = inString
  }

  /**
   * Ends the body.
   * @returns the number of top-level objects, or `undefined` when the body was not one complete JSON array
   */
  end (): number | undefined {
    const complete = this.#sawArray && !this.#malformed && this.#depth === 0 && !this.#inString
    return complete ? this.#events : undefined
  }
}
