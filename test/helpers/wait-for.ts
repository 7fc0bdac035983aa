/**
 * The test suite's one bounded poll: waits until a condition holds, and
 * fails with a message naming what it waited for when the bound passes
 * first, so that a regression fails the test that meets it instead of
 * hanging the run.
 *
 * The condition is checked at once, then every `intervalMs` on a timer, so
 * that every microtask queued by the code under test has run between two
 * checks. The bound is generous on purpose: it is there to turn a hang into
 * a named failure, not to measure speed, and a loaded machine is slow.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface WaitForOptions {
  /** What is awaited, as a noun phrase: the failure reads "timed out after N ms waiting for <what>". */
  readonly what: string
  /**
   * How long to wait before failing, in ms.
   * @default 10_000
   */
  readonly timeoutMs?: number
  /**
   * How long between two checks, in ms.
   * @default 5
   */
  readonly intervalMs?: number
  /** The state worth seeing when it times out, appended to the message. */
  readonly detail?: () => string
}

/**
 * Resolves once `condition` returns true (or a promise of true).
 * @param condition - checked at once, then every `intervalMs`; an exception it throws fails the wait
 * @param options - what is awaited, and the bound
 * @throws {@link Error} "timed out after N ms waiting for <what>" when the bound passes first
 */
export async function waitFor (condition: () => boolean | Promise<boolean>, options: WaitForOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const intervalMs = options.intervalMs ?? 5
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (performance.now() >= deadline) {
      const detail = options.detail === undefined ? '' : ` (${options.detail()})`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}${detail}`)
    }
    await sleep(intervalMs)
  }
}
