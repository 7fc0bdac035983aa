/**
 * A fresh directory under the OS temp dir for one test, removed with all it
 * holds once the test is over (in `t.after()`, in the order hooks were added).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

/**
 * Makes the directory and schedules its removal.
 * @param t - the test that owns it
 * @param prefix - the start of its name, so that a leftover one says which test made it
 * @returns its path
 */
export function tempDir (t: Pick<TestContext, 'after'>, prefix = 'audit-stream-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
