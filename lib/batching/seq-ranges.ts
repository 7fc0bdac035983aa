/**
 * Ledger sequence numbers as ranges: a flat array `[first0, last0, first1,
 * last1, ...]`, ascending and disjoint. Batches, the ledger and spool
 * recovery all keep seqs this way; this is the type and its two operations.
 */

/**
 * Sequence numbers as ascending, disjoint, inclusive ranges, flattened:
 * `[first0, last0, first1, last1, ...]`. One range when the events are contiguous.
 * @internal
 */
export type SeqRanges = readonly number[]

/**
 * Appends `[first, last]` to `ranges`, merging it into the last range when it
 * starts right after it. `first` must be above every seq already in `ranges`.
 * @internal
 */
export function appendSeqs (ranges: number[], first: number, last = first): void {
  if (ranges.length > 0 && ranges[ranges.length - 1] === first - 1) ranges[ranges.length - 1] = last
  else ranges.push(first, last)
}

/** Whether every seq in `[first, last]` is in `ranges`, by binary search. @internal */
export function coversSeqs (ranges: SeqRanges, first: number, last: number): boolean {
  let lo = 0
  let hi = ranges.length / 2 - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (ranges[2 * mid + 1]! < first) lo = mid + 1
    else if (ranges[2 * mid]! > first) hi = mid - 1
    else return ranges[2 * mid + 1]! >= last
  }
  return false
}
