/**
 * An event run: consecutive events already validated and serialized, the
 * chunk that flows from the store into the batcher. Events recorded in one
 * tick travel as one run, so the entry pays its stream overhead per run, not
 * per event.
 */

/**
 * Parallel arrays of serialized events and their UTF-8 sizes. A class, so a
 * user's object can never pass for one.
 * @internal
 */
export class EventRun {
  /** The JSON text of each event, as taken when it was accepted. */
  readonly events: string[] = []
  /** `events[i]`'s length in UTF-8 bytes. */
  readonly sizes: number[] = []
  /** `events[i]`'s correlation_id, which picks its lane. */
  readonly keys: string[] = []
  /** The sequence number of `events[0]`; the others follow it. Stamped by the store's entry. */
  firstSeq = 0

  get length (): number {
    return this.events.length
  }

  push (json: string, bytes: number, key: string): void {
    this.events.push(json)
    this.sizes.push(bytes)
    this.keys.push(key)
  }
}
