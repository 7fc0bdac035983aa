/**
 * Segment file names: `segment-N.log`, N zero-padded to ten digits and
 * growing an eleventh past segment-9999999999. Order segments by
 * {@link segmentIndex}, never by name.
 */

/** A segment file's name; its first group is the index. @internal */
export const SEGMENT_NAME = /^segment-(\d{10,})\.log$/

/** The number in a segment file's name; NaN for another name. @internal */
export function segmentIndex (name: string): number {
  return Number(SEGMENT_NAME.exec(name)?.[1] ?? NaN)
}

/**
 * The file name of segment `index`.
 * @internal
 */
export function segmentName (index: number): string {
  return `segment-${String(index).padStart(10, '0')}.log`
}
