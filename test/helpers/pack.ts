/**
 * Builds and packs the package the way `npm publish` would, without touching
 * the worktree's dist/: the build goes to a staging directory that holds
 * package.json, README.md and LICENSE, and `npm pack` runs there.
 */
import { execFile } from 'node:child_process'
import { copyFile, cp, mkdir, mkdtemp, readdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const run = promisify(execFile)
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

/** Runs a command, with its output in the error when it fails. */
export async function exec (file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string, stderr: string }> {
  try {
    return await run(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })
  } catch (err) {
    const e = err as Error & { stdout?: string, stderr?: string }
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: err })
  }
}

/**
 * Builds lib/ into a staging directory and packs it.
 * @returns the path of the .tgz, in a fresh temporary directory
 */
export async function packTarball (): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'audit-stream-pack-'))
  const stage = join(work, 'stage')
  await mkdir(stage)
  for (const file of ['package.json', 'README.md', 'LICENSE']) await copyFile(join(repoRoot, file), join(stage, file))
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  await exec(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(stage, 'dist'), '--sourceMap', 'false'], repoRoot)
  // As `npm run build` does: the trail browser's page ships as it is, next to the compiled server.
  await cp(join(repoRoot, 'lib', 'server', 'ui', 'assets'), join(stage, 'dist', 'server', 'ui', 'assets'), { recursive: true })
  await exec('npm', ['pack', '--silent', '--pack-destination', work], stage)
  const tgz = (await readdir(work)).find((name) => name.endsWith('.tgz'))
  if (tgz === undefined) throw new Error(`npm pack wrote no tarball in ${work}`)
  return join(work, tgz)
}

/**
 * Makes a project outside the repo and installs `specs` (a tarball path,
 * package names) with npm, from the registry through the local cache.
 * @returns the project directory
 */
export async function installProject (specs: string[], packageJson: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-stream-consumer-'))
  const { writeFile } = await import('node:fs/promises')
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, ...packageJson }, null, 2))
  await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', '--loglevel=error', ...specs], dir)
  return dir
}

/**
 * Packages and bytes under a node_modules directory: `bytes` is the files'
 * sizes, `diskBytes` the blocks they take (what `du` reports).
 */
export async function footprint (nodeModules: string): Promise<{ packages: number, bytes: number, diskBytes: number }> {
  let packages = 0
  let bytes = 0
  let diskBytes = 0
  async function walk (dir: string, depthInPackage: boolean): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isSymbolicLink()) continue
      if (entry.isDirectory()) {
        // A package is a directory right under a node_modules (or under its @scope).
        const isPackage = !depthInPackage && !entry.name.startsWith('.') && !entry.name.startsWith('@')
        if (isPackage) packages++
        await walk(path, entry.name === 'node_modules' || (entry.name.startsWith('@') && !depthInPackage) ? false : true)
      } else if (entry.isFile()) {
        const info = await stat(path)
        bytes += info.size
        diskBytes += info.blocks * 512
      }
    }
  }
  await walk(nodeModules, false)
  return { packages, bytes, diskBytes }
}
