/**
 * Install footprint: `npm install` of the packed tarball into an empty
 * project, counting the packages and megabytes in node_modules; once for the
 * client alone and once with the reference server's peers
 * (`@electric-sql/pglite`, `pg`). Not a timing: one run, no spread.
 */
import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Row } from '../common.js'
import { footprint, installProject, packTarball } from '../../helpers/pack.js'

const SERVER_PEERS = ['@electric-sql/pglite', 'pg']
const CLIENT_TARGET_MB = 15

export async function installFootprint (): Promise<Row[]> {
  const tgz = await packTarball()
  const rows: Row[] = []
  try {
    for (const [contender, extra] of [['npm install audit-stream', []], ['npm install audit-stream + server peers', SERVER_PEERS]] as const) {
      const project = await installProject([tgz, ...extra])
      try {
        const { packages, bytes, diskBytes } = await footprint(join(project, 'node_modules'))
        const mb = bytes / 1e6
        const client = extra.length === 0
        rows.push({
          scenario: '6. install footprint',
          contender,
          unit: `MB in ${packages} packages (${(diskBytes / 1e6).toFixed(1)} MB on disk)`,
          median: mb,
          spread: '',
          ...(client ? { ratio: { against: `${CLIENT_TARGET_MB} MB`, value: mb / CLIENT_TARGET_MB, target: '≤ 1', met: mb <= CLIENT_TARGET_MB } } : {})
        })
      } finally {
        await rm(project, { recursive: true, force: true })
      }
    }
  } finally {
    await rm(dirname(tgz), { recursive: true, force: true })
  }
  return rows
}
