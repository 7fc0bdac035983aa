/**
 * The spool's floor file: one small file holding the spool sequence number
 * below which every event is settled. On disk it is named `checkpoint`: file
 * names are part of the directory's format, which the next store and
 * `spool inspect` read.
 * Replaced atomically (C1-C3 in lib/spool/spool.ts): never torn, so it
 * carries only a CRC against a damaged disk.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'

/** The floor's file name in the spool directory. @internal */
export const FLOOR_FILE = 'checkpoint'
/** The temporary file a new floor is written to before the rename. @internal */
export const FLOOR_TEMP_FILE = 'checkpoint.tmp'

/**
 * The floor file's bytes: the floor as a float64 and its CRC-32.
 * @internal
 */
export function encodeFloor (floor: number): Buffer {
  const data = Buffer.allocUnsafe(12)
  data.writeDoubleLE(floor, 0)
  data.writeUInt32LE(crc32(data.subarray(0, 8)), 8)
  return data
}

/**
 * Reads the floor file of `dir`.
 * @returns the floor; 0 when there is no floor file; `undefined` when it is damaged
 * @internal
 */
export function readFloor (dir: string): number | undefined {
  let data: Buffer
  try {
    data = readFileSync(join(dir, FLOOR_FILE))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  if (data.length !== 12 || crc32(data.subarray(0, 8)) !== data.readUInt32LE(8)) return undefined
  const floor = data.readDoubleLE(0)
  return Number.isSafeInteger(floor) && floor >= 0 ? floor : undefined
}
