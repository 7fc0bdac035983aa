/**
 * The import rules that `npm run lint` enforces on lib/: no cycle between
 * files (type-only, re-exports and dynamic imports included) and the layers.
 * Each rule is shown to fail on a small tree that breaks it, then lib/ is
 * checked as it is.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkImports } from '../../.ci/check-imports.js'

function tree (t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'audit-stream-imports-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

test('a cycle through type-only imports is a finding', (t) => {
  const root = tree(t, {
    'a/one.ts': "import type { Two } from '../b/two.js'\nexport interface One { two?: Two }\n",
    'b/two.ts': "import type { One } from '../a/one.js'\nexport interface Two { one?: One }\n"
  })
  assert.deepEqual(checkImports(root), ['import cycle: a/one.ts -> b/two.ts'])
})

test('a cycle closed by a dynamic import or a re-export is a finding', (t) => {
  const root = tree(t, {
    'x.ts': "export async function load () { return await import('./y.js') }\n",
    'y.ts': "export { load } from './x.js'\n"
  })
  assert.deepEqual(checkImports(root), ['import cycle: x.ts -> y.ts'])
})

test('a cycle through a type in an import() type position is a finding', (t) => {
  const root = tree(t, {
    'p.ts': "export type Q = import('./q.js').Q\n",
    'q.ts': "import { p } from './r.js'\nexport type Q = typeof p\n",
    'r.ts': "import type { Q } from './p.js'\nexport const p: Q | undefined = undefined\n"
  })
  assert.deepEqual(checkImports(root), ['import cycle: p.ts -> q.ts -> r.ts'])
})

test('layers: protocol imports nothing, options only errors and protocol for values, the client never the server or the CLI', (t) => {
  const root = tree(t, {
    'errors.ts': 'export class E extends Error {}\n',
    'protocol/wire.ts': "import { E } from '../errors.js'\nexport const X = E\n",
    'options/store.ts': "import type { Sink } from '../delivery/sink.js'\nimport { make } from '../delivery/make.js'\nexport type O = Sink\nexport const m = make\n",
    'delivery/sink.ts': 'export interface Sink { n: number }\n',
    'delivery/make.ts': "import { serve } from '../server/serve.js'\nexport const make = serve\n",
    'server/serve.ts': "import { main } from '../cli/main.js'\nexport const serve = main\n",
    'cli/main.ts': 'export function main (): void {}\n'
  })
  assert.deepEqual(checkImports(root), [
    'delivery/make.ts imports server/serve.ts: the client never depends on the server or the CLI',
    'options/store.ts imports delivery/make.ts: options/ declares and checks; its values come only from errors.ts and protocol/',
    'protocol/wire.ts imports errors.ts: protocol/ is the wire contract and imports nothing of lib/',
    'server/serve.ts imports cli/main.ts: the server never depends on the CLI'
  ])
})

test('lib/ has no import cycle and keeps its layers', () => {
  const lib = fileURLToPath(new URL('../../lib', import.meta.url))
  assert.deepEqual(checkImports(lib), [])
})
