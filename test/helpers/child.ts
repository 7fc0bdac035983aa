/**
 * Runs a TypeScript file in a child node process (through tsx) and collects
 * its exit code and output.
 */
import { spawn } from 'node:child_process'

export interface ChildResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export function runTs (file: string, args: string[] = [], options: { env?: Record<string, string>, input?: string, timeoutMs?: number } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env }
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    // A child still running after timeoutMs is killed: its code is then null.
    const killer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(killer)
      resolve({ code, stdout, stderr })
    })
    if (options.input !== undefined) child.stdin!.end(options.input)
  })
}
