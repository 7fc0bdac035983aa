/**
 * The `field_errors` of a problem document: validation messages keyed by
 * item and field (`"[3].event_type"`), which the client splits a refused
 * batch on. Bounded: validation stops after `MAX_FIELD_ERRORS` messages, so a
 * huge batch of garbage costs a bounded answer, not megabytes of it.
 */
import type { ValidationIssue } from '../errors.js'
import { HttpProblem } from './problem.js'

/** Most messages in one problem document's `field_errors`. @internal */
export const MAX_FIELD_ERRORS = 100

/** Checks one event; the server's event validator has this shape. @internal */
export type EventValidator = (value: unknown) => ValidationIssue[]

// A validator that recursed past the stack on deeply nested input has not found a bug in the server.
function issuesOf (validate: EventValidator, value: unknown): ValidationIssue[] {
  try {
    return validate(value)
  } catch (err) {
    if (err instanceof RangeError) return [{ path: 'event_data', message: 'nested too deeply to check' }]
    throw err
  }
}

/**
 * Validates each item of a batch, stopping after {@link MAX_FIELD_ERRORS}
 * messages.
 * @internal
 * @throws {@link HttpProblem} 400 with `field_errors` when any item is
 *   invalid; `field_errors_truncated: true` and `checked_items` say when
 *   validation stopped early, so the items after it were not checked
 */
export function checkBatch (items: readonly unknown[], validate: EventValidator): void {
  const fieldErrors: Record<string, string> = {}
  let count = 0
  let checked = 0
  for (const item of items) {
    for (const issue of issuesOf(validate, item)) {
      if (count === MAX_FIELD_ERRORS) return refuse(fieldErrors, count, { field_errors_truncated: true, checked_items: checked }, items.length)
      fieldErrors[`[${checked}]${issue.path === '' ? '' : '.' + issue.path}`] = issue.message
      count++
    }
    checked++
  }
  if (count > 0) refuse(fieldErrors, count, {}, items.length)
}

/**
 * Validates a single event.
 * @internal
 * @throws {@link HttpProblem} 400 with `field_errors` keyed by field (`(body)` for the whole body)
 */
export function checkEvent (value: unknown, validate: EventValidator): void {
  const issues = issuesOf(validate, value).slice(0, MAX_FIELD_ERRORS)
  if (issues.length === 0) return
  throw new HttpProblem(400, 'Validation Error', `${issues.length} field errors`, {
    field_errors: Object.fromEntries(issues.map((i) => [i.path === '' ? '(body)' : i.path, i.message]))
  })
}

function refuse (fieldErrors: Record<string, string>, count: number, extra: Record<string, unknown>, total: number): never {
  const detail = extra.field_errors_truncated === true
    ? `validation stopped after ${count} field errors in the first ${String(extra.checked_items)} of ${total} items`
    : `${count} field errors in the batch`
  throw new HttpProblem(400, 'Validation Error', detail, { field_errors: fieldErrors, ...extra })
}
