/**
 * The public API is documented: every export of both entries has a TSDoc
 * summary and at least one @example (typedoc then renders them; `npm run
 * docs` fails on warnings).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

for (const [name, path, atLeast] of [['audit-stream', '../../lib/index.ts', 40], ['audit-stream/server', '../../lib/server/index.ts', 3]] as const) {
  test(`every export of ${name} has a summary and an @example`, () => {
    const entry = fileURLToPath(new URL(path, import.meta.url))
    const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2023, types: ['node'] })
    const checker = program.getTypeChecker()
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!)
    assert.ok(exports.length >= atLeast)
    const undocumented: string[] = []
    for (const exported of exports) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      const declaration = symbol.declarations?.[0]
      assert.ok(declaration !== undefined, exported.name)
      const summary = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim()
      const hasExample = ts.getJSDocTags(declaration).some((tag) => tag.tagName.text === 'example')
      if (summary === '' || !hasExample) undocumented.push(exported.name)
    }
    assert.deepEqual(undocumented, [])
  })
}
