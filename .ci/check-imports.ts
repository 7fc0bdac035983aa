/**
 * The import rules of lib/, checked over every import there is: static,
 * type-only, re-exports and dynamic `import()`. `npm run lint` runs it.
 *
 * 1. No cycle between files, type-only imports included: each file can be
 *    read without the files that use it.
 * 2. Layers: `protocol/` imports nothing of lib/; `options/` only errors.ts
 *    and protocol/ for values (types of the things it configures are fine);
 *    the client (everything but `server/` and `cli/`) never imports
 *    `server/` or `cli/`; `server/` never imports `cli/`.
 *
 * Usage: node --import tsx .ci/check-imports.ts [dir]   (default: lib)
 * Exit code 1 with one line per finding.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

export interface ImportEdge { readonly from: string, readonly to: string, readonly typeOnly: boolean }

/** Every `.ts` file under `root`, as paths relative to it. */
export function sourceFiles (root: string): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(relative(root, path))
    }
  }
  walk(root)
  return out.sort()
}

/** The lib-relative imports of one file; specifiers outside `root` or of packages are left out. */
export function importsOf (root: string, file: string, text: string): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const edges: ImportEdge[] = []
  const add = (specifier: string, typeOnly: boolean): void => {
    if (!specifier.startsWith('.')) return
    const target = relative(root, resolve(root, dirname(file), specifier)).replace(/\.js$/, '.ts')
    if (!target.startsWith('..')) edges.push({ from: file, to: target, typeOnly })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const typeOnly = clause !== undefined && (clause.isTypeOnly ||
        (clause.name === undefined && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)))
      add(node.moduleSpecifier.text, typeOnly)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments
      if (arg !== undefined && ts.isStringLiteralLike(arg)) add(arg.text, false)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return edges
}

/** Each cycle once, as the files around it (Tarjan's strongly connected components). */
export function cycles (files: readonly string[], edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]))
  for (const e of edges) next.get(e.from)?.push(e.to)
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  let counter = 0
  const connect = (v: string): void => {
    index.set(v, counter); low.set(v, counter); counter++
    stack.push(v); onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) { connect(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)) } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do { w = stack.pop()!; onStack.delete(w); component.push(w) } while (w !== v)
      const selfLoop = (next.get(v) ?? []).includes(v)
      if (component.length > 1 || selfLoop) found.push(component.sort())
    }
  }
  for (const f of files) if (!index.has(f)) connect(f)
  return found
}

const area = (file: string): string => file.includes('/') ? file.slice(0, file.indexOf('/')) : file

/** Imports that cross a layer the wrong way. */
export function layerViolations (edges: readonly ImportEdge[]): string[] {
  const out: string[] = []
  for (const e of edges) {
    const from = area(e.from)
    const to = area(e.to)
    if (from === 'protocol' && to !== 'protocol') out.push(`${e.from} imports ${e.to}: protocol/ is the wire contract and imports nothing of lib/`)
    if (from === 'options' && to !== 'options' && !e.typeOnly && to !== 'errors.ts' && to !== 'protocol') out.push(`${e.from} imports ${e.to}: options/ declares and checks; its values come only from errors.ts and protocol/`)
    if (from !== 'server' && from !== 'cli' && (to === 'server' || to === 'cli')) out.push(`${e.from} imports ${e.to}: the client never depends on the server or the CLI`)
    if (from === 'server' && to === 'cli') out.push(`${e.from} imports ${e.to}: the server never depends on the CLI`)
  }
  return out
}

/** All findings for the tree at `root`. */
export function checkImports (root: string): string[] {
  const files = sourceFiles(root)
  const edges = files.flatMap((f) => importsOf(root, f, readFileSync(join(root, f), 'utf8')))
  return [
    ...cycles(files, edges).map((c) => `import cycle: ${c.join(' -> ')}`),
    ...layerViolations(edges)
  ]
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('check-imports.ts') === true) {
  const root = resolve(process.argv[2] ?? 'lib')
  const findings = checkImports(root)
  for (const f of findings) console.error(f)
  if (findings.length > 0) {
    console.error(`${findings.length} import rule finding(s) in ${relative(process.cwd(), root) || '.'}`)
    process.exitCode = 1
  } else {
    console.log(`imports: ${sourceFiles(root).length} files, no cycle, layers kept`)
  }
}
