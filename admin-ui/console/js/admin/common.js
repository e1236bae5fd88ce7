/**
 * What the Admin pages share: lists that may not exist on this broker (an endpoint answering 404
 * shows "not available" instead of an error), delete buttons with a confirmation, and form
 * submission that shows the API's reason.
 */
import { ApiError, del, get } from '../api.js'
import { h } from '../dom.js'
import { busy, confirmDialog, toast } from '../widgets.js'

export { submitForm as submit } from '../widgets.js'

/** The list at `path`, or null when this broker does not serve it (404 or 405). */
export async function optionalList(path) {
  try {
    return await get(path)
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null
    throw err
  }
}

/** The notice shown in place of a panel whose endpoint this broker does not have. */
export function unavailable(what, path) {
  return h('p', { class: 'unavailable', role: 'note' }, `${what} not available: this broker does not serve /api/${path} (404).`)
}

/** A small "Delete" button that asks first, DELETEs `path`, and calls `done`. */
export function deleteButton(label, question, path, done) {
  const b = h('button', { type: 'button', class: 'btn small danger', 'aria-label': label }, 'Delete')
  b.addEventListener('click', async () => {
    if (!(await confirmDialog({ title: `${label}?`, message: question, confirmLabel: 'Delete' }))) return
    await busy(b, async () => {
      try {
        await del(path)
        toast(`${label}: done`)
        done()
      } catch (err) {
        toast(`${label} failed: ${err.message}`, 'error')
      }
    })
  })
  return b
}

/** A select of names (vhosts, users). */
export function nameSelect(name, names, selected) {
  return h('select', { name }, names.map((n) => h('option', { value: n, selected: n === selected }, n)))
}

/** Checks that `value` compiles as a regular expression (RabbitMQ patterns); returns the error text or null. */
export function regexError(value) {
  try {
    new RegExp(value)
    return null
  } catch {
    return 'not a valid regular expression'
  }
}
