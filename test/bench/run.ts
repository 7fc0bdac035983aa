/**
 * `npm run bench`: every scenario, a table, bench-results.json and the
 * chart bench-results.svg (both git-ignored), with the load average before
 * and after. BENCH_SCALE=0.1 for a quick run; BENCH_REPS for the repetitions (>= 5).
 * Arguments name scenarios to run (record, burst, stream, flush, memory, scaling, footprint, schema, replicas, spool, ingest, lanes).
 */
import { writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { chart } from './chart.js'
import { SCALE, type Row } from './common.js'
import { recordHotPath } from './scenarios/record.js'
import { burst, stream } from './scenarios/e2e.js'
import { flushDrain } from './scenarios/flush-drain.js'
import { memory } from './scenarios/memory.js'
import { scaling } from './scenarios/scaling.js'
import { installFootprint } from './scenarios/footprint.js'
import { schemaCost } from './scenarios/schema.js'
import { replicas } from './scenarios/replicas.js'
import { spoolScenarios } from './scenarios/spool.js'
import { ingest } from './scenarios/ingest.js'
import { lanes } from './scenarios/lanes.js'

const reps = Math.max(5, Number(process.env.BENCH_REPS ?? 5))
const scenarios: Record<string, () => Promise<Row[]>> = {
  record: () => recordHotPath(reps),
  burst: () => burst(reps),
  stream: () => stream(reps),
  flush: () => flushDrain(reps),
  memory: () => memory(reps),
  scaling: () => scaling(reps),
  footprint: () => installFootprint(),
  schema: () => schemaCost(reps),
  replicas: () => replicas(reps),
  spool: () => spoolScenarios(reps),
  ingest: () => ingest(reps),
  lanes: () => lanes(reps)
}
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(scenarios)
const machine = `${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
const load = (): [number, number, number] => loadavg().map((n) => Math.round(n * 100) / 100) as [number, number, number]
const loadBefore = load()
console.log(`audit-stream benchmarks on ${machine}; ${reps} repetitions after warm-up; BENCH_SCALE ${SCALE}`)
console.log(`load average before (1, 5, 15 min): ${loadBefore.join(', ')}`)

const rows: Row[] = []
for (const name of chosen) {
  const scenario = scenarios[name]
  if (scenario === undefined) throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`)
  process.stderr.write(`running ${name}...\n`)
  rows.push(...await scenario())
}
const loadAfter = load()
console.log(`load average after (1, 5, 15 min): ${loadAfter.join(', ')}`)

const format = (n: number): string => n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(3)
const table = [['scenario', 'contender', 'median', 'spread', 'ratio', 'target', 'met'],
  ...rows.map((r) => [r.scenario, r.contender, `${format(r.median)} ${r.unit}`, r.spread,
    r.ratio === undefined ? '' : `${r.ratio.value.toFixed(2)}x ${r.ratio.against}`, r.ratio?.target ?? '', r.ratio === undefined ? '' : r.ratio.met ? 'yes' : 'NO'])]
const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)))
for (const [i, row] of table.entries()) {
  console.log('| ' + row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ') + ' |')
  if (i === 0) console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|')
}
for (const r of rows) if (r.note !== undefined) console.log(`${r.scenario} / ${r.contender}: ${r.note}`)
const at = new Date().toISOString()
writeFileSync('bench-results.json', JSON.stringify({ machine, reps, scale: SCALE, at, loadavg: { before: loadBefore, after: loadAfter }, rows }, null, 2) + '\n')
writeFileSync('bench-results.svg', chart(rows, [
  `${machine}; ${at}`,
  `BENCH_SCALE ${SCALE}, ${reps} repetitions after a warm-up; load average (1, 5, 15 min) before ${loadBefore.join(', ')}, after ${loadAfter.join(', ')}`
]))
console.log('wrote bench-results.json and bench-results.svg')
