/**
 * What a store, a sink or a database holds, checked number by number: every
 * sequence number of a range present exactly once. Totals alone hide a loss
 * behind a duplicate; this names both.
 */
import assert from 'node:assert/strict'

/** The numbers of `from` up to (not including) `to` that `seqs` lacks, and those it holds more than once. */
export function tally (seqs: Iterable<number>, from: number, to: number): { missing: number[], duplicated: number[] } {
  const seen = new Map<number, number>()
  for (const seq of seqs) seen.set(seq, (seen.get(seq) ?? 0) + 1)
  const missing: number[] = []
  const duplicated: number[] = []
  for (let seq = from; seq < to; seq++) {
    const times = seen.get(seq) ?? 0
    if (times === 0) missing.push(seq)
    else if (times > 1) duplicated.push(seq)
  }
  return { missing, duplicated }
}

/**
 * Asserts that `seqs` holds each number of `from` up to (not including) `to`
 * exactly once and nothing else; the message starts with `what` and names
 * the first few missing, duplicated or stray numbers.
 */
export function assertExactlyOnce (seqs: readonly number[], from: number, to: number, what: string): void {
  const { missing, duplicated } = tally(seqs, from, to)
  const stray = seqs.filter((seq) => !(seq >= from && seq < to))
  const head = (list: number[]): string => `${list.length}${list.length === 0 ? '' : ` (${list.slice(0, 10).join(', ')}${list.length > 10 ? ', ...' : ''})`}`
  assert.ok(missing.length === 0 && duplicated.length === 0 && stray.length === 0,
    `${what}: of ${to - from} events ${head(missing)} missing, ${head(duplicated)} more than once, and ${head(stray)} outside ${from}..${to - 1}`)
}
