/**
 * Shared widgets: toasts, the confirmation dialog, sortable tables, the pager, form error display
 * and key/value lists.
 */
import { h, replace, fmtValue } from './dom.js'

/** Shows a short message in the corner; kind 'error' for failures. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts')
  const t = h('div', { class: ['toast', kind === 'error' && 'error'] }, message)
  box.appendChild(t)
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000)
}

/**
 * Asks for confirmation in a modal dialog. With `input`, the dialog has a text field and resolves
 * with its value (or null when cancelled); otherwise it resolves true or false.
 */
export function confirmDialog({ title, message, confirmLabel = 'OK', danger = true, input }) {
  const dlg = document.getElementById('confirm-dialog')
  document.getElementById('confirm-title').textContent = title
  document.getElementById('confirm-message').textContent = message
  const ok = document.getElementById('confirm-ok')
  ok.textContent = confirmLabel
  ok.className = `btn ${danger ? 'danger' : 'primary'}`
  const label = document.getElementById('confirm-input-label')
  const field = document.getElementById('confirm-input')
  label.hidden = input === undefined
  if (input !== undefined) {
    label.querySelector('span').textContent = input.label
    field.value = input.value ?? ''
  }
  dlg.returnValue = ''
  return new Promise((resolve) => {
    dlg.addEventListener(
      'close',
      () => {
        const confirmed = dlg.returnValue === 'ok'
        if (input !== undefined) resolve(confirmed ? field.value : null)
        else resolve(confirmed)
      },
      { once: true },
    )
    dlg.showModal()
    if (input !== undefined) field.select()
    else document.getElementById('confirm-cancel').focus()
  })
}

/**
 * A table whose rows are replaced on each update without losing keyboard focus. Columns:
 * {key, label, render(row) → node|string, sort?: server sort key, num?: right-aligned}.
 */
export function dataTable({ columns, rowKey, empty = 'Nothing here yet.', sort, onSort, caption }) {
  const state = { sort: sort?.key, reverse: sort?.reverse ?? false }
  const thead = h('thead')
  const tbody = h('tbody')
  const table = h('table', {}, caption ? h('caption', { class: 'muted small', style: { textAlign: 'left' } }, caption) : null, thead, tbody)

  function header() {
    const cells = columns.map((c) => {
      if (!c.sort || !onSort) return h('th', { class: c.num ? 'num' : undefined, scope: 'col' }, c.label)
      const active = state.sort === c.sort
      const btn = h(
        'button',
        {
          type: 'button',
          class: 'sort',
          'aria-sort': active ? (state.reverse ? 'descending' : 'ascending') : undefined,
          title: `Sort by ${c.label}`,
          onclick: () => {
            if (state.sort === c.sort) state.reverse = !state.reverse
            else (state.sort = c.sort), (state.reverse = Boolean(c.num))
            header()
            onSort(state.sort, state.reverse)
          },
        },
        c.label,
      )
      return h('th', { class: c.num ? 'num' : undefined, scope: 'col' }, btn)
    })
    replace(thead, h('tr', {}, cells))
  }
  header()

  function update(rows) {
    // keep the focused control focused across a refresh: same row key, same position in the row
    const active = document.activeElement
    let restore = null
    if (active && tbody.contains(active)) {
      const tr = active.closest('tr')
      const focusables = [...tr.querySelectorAll('a, button, input, select')]
      restore = { key: tr.dataset.key, index: focusables.indexOf(active) }
    }
    if (rows.length === 0) {
      replace(tbody, h('tr', {}, h('td', { class: 'empty', colspan: columns.length }, empty)))
      return
    }
    replace(
      tbody,
      rows.map((r) =>
        h(
          'tr',
          { dataset: { key: rowKey(r) } },
          columns.map((c) => h('td', { class: c.num ? 'num' : undefined }, c.render(r))),
        ),
      ),
    )
    if (restore !== null) {
      const tr = [...tbody.rows].find((row) => row.dataset.key === restore.key)
      tr?.querySelectorAll('a, button, input, select')[restore.index]?.focus()
    }
  }
  return { el: h('div', { class: 'table-wrap' }, table), update, state }
}

/** "Page 2 of 7 (131 of 10,000 items)" with previous/next buttons and a page-size choice. */
export function pager(onChange) {
  const info = h('span')
  const prev = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Previous page' }, '‹ Prev')
  const next = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Next page' }, 'Next ›')
  const size = h(
    'select',
    { 'aria-label': 'Items per page' },
    [20, 50, 100, 500].map((n) => h('option', { value: n, selected: n === 50 }, `${n} per page`)),
  )
  const state = { page: 1, pageSize: 50, pageCount: 1 }
  prev.addEventListener('click', () => state.page > 1 && (state.page--, onChange()))
  next.addEventListener('click', () => state.page < state.pageCount && (state.page++, onChange()))
  size.addEventListener('change', () => {
    state.pageSize = Number(size.value)
    state.page = 1
    onChange()
  })
  function update(r) {
    state.pageCount = Math.max(1, r.page_count ?? 1)
    state.page = Math.min(r.page ?? state.page, state.pageCount)
    const filtered = r.filtered_count ?? r.total_count ?? 0
    const total = r.total_count ?? filtered
    const items = (n) => `${n.toLocaleString('en-US')} item${n === 1 ? '' : 's'}`
    info.textContent =
      `Page ${r.page ?? state.page} of ${state.pageCount} · ` +
      (filtered === total ? items(total) : `${filtered.toLocaleString('en-US')} of ${items(total)} match`)
    prev.disabled = state.page <= 1
    next.disabled = state.page >= state.pageCount
  }
  return { el: h('div', { class: 'pager' }, info, prev, next, size), state, update }
}

/** A filter box for names: text plus a regex switch; calls onChange (debounced). */
export function filterBox(onChange, placeholder = 'Filter by name') {
  const input = h('input', { type: 'search', placeholder, 'aria-label': placeholder, size: 28 })
  const regex = h('input', { type: 'checkbox' })
  const err = h('span', { class: 'field-error', role: 'alert' })
  let timer = 0
  const fire = () => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      err.textContent = ''
      input.removeAttribute('aria-invalid')
      if (regex.checked) {
        try {
          new RegExp(input.value)
        } catch {
          err.textContent = 'not a valid regular expression'
          input.setAttribute('aria-invalid', 'true')
          return
        }
      }
      onChange()
    }, 250)
  }
  input.addEventListener('input', fire)
  regex.addEventListener('change', fire)
  const el = h('div', { class: 'row' }, input, h('label', { class: 'row small muted' }, regex, 'Regex'), err)
  return { el, get value() { return input.value }, get regex() { return regex.checked }, input }
}

/** Shows the API's reason (or a validation message) in a form; clears it when msg is null. */
export function formMessage(form, msg, kind = 'error') {
  form.querySelector(':scope > .form-error, :scope > .form-ok')?.remove()
  if (msg === null) return
  const p = h('p', { class: kind === 'error' ? 'form-error' : 'form-ok', role: kind === 'error' ? 'alert' : 'status' }, msg)
  form.prepend(p)
}

/** Marks a field invalid with a message under it; returns false for `if (!check(...)) return`. */
export function invalid(input, msg) {
  input.setAttribute('aria-invalid', 'true')
  const form = input.form
  if (form) formMessage(form, msg)
  input.focus()
  return false
}

/** Clears invalid marks in a form. */
export function resetValidity(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid')
  formMessage(form, null)
}

/** A definition list from [label, value] pairs (value: string or node). */
export function kvList(pairs) {
  return h(
    'dl',
    { class: 'kv' },
    pairs.filter((p) => p !== null).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  )
}

/** Arguments/headers table as badges "key: value". */
export function argBadges(args) {
  const entries = Object.entries(args ?? {})
  if (entries.length === 0) return h('span', { class: 'muted' }, '–')
  return entries.map(([k, v]) => h('span', { class: 'badge', title: `${k} = ${fmtValue(v)}` }, `${k}: ${fmtValue(v)}`))
}

/** Runs an async action from a button, disabling it meanwhile; errors go to a toast. */
export async function busy(button, fn) {
  button.disabled = true
  try {
    return await fn()
  } finally {
    button.disabled = false
  }
}

/** Runs a form's API call with the button disabled; success shows `okText` and calls `done`, a failure the API's reason. */
export function submitForm(form, button, call, okText, done) {
  return busy(button, async () => {
    try {
      await call()
      formMessage(form, okText, 'ok')
      done()
    } catch (err) {
      formMessage(form, err.message)
    }
  })
}

/** A labelled row in a `form.stacked`: [label, control, hint?]. */
export function formRow(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`
  if (!control.id && (control.tagName === 'INPUT' || control.tagName === 'SELECT' || control.tagName === 'TEXTAREA')) control.id = id
  const target = control.tagName === 'INPUT' || control.tagName === 'SELECT' || control.tagName === 'TEXTAREA' ? control.id : undefined
  return [
    target ? h('label', { for: target }, label) : h('span', { class: 'label' }, label),
    hint ? h('div', {}, control, h('div', { class: 'hint' }, hint)) : control,
  ]
}

/** A yes/no select (RabbitMQ's forms use these for durable, auto-delete, internal). */
export function yesNo(value, name) {
  return h('select', { name }, h('option', { value: 'true', selected: value }, 'Yes'), h('option', { value: 'false', selected: !value }, 'No'))
}
