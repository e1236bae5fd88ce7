/**
 * "Publish message" form (POST /api/exchanges/{vhost}/{exchange}/publish): routing key, delivery
 * mode, headers, properties and a payload as text or base64. Used on exchange and queue pages.
 */
import { post, seg } from './api.js'
import { argsEditor } from './args.js'
import { h, exchangeUrlName, utf8Length } from './dom.js'
import { busy, formMessage, formRow, invalid, resetValidity } from './widgets.js'

/** Property names RabbitMQ's publish accepts (besides headers and delivery_mode). */
const PROPERTIES = ['content_type', 'content_encoding', 'priority', 'correlation_id', 'reply_to', 'expiration', 'message_id', 'timestamp', 'type', 'user_id', 'app_id', 'cluster_id']
const NUMERIC = new Set(['priority', 'timestamp'])

/**
 * Builds the form. `fixedRoutingKey`: publish to the default exchange with the queue's name (the
 * queue page). `onPublished(routed)` runs after a publish.
 */
export function publishForm({ vhost, exchange, fixedRoutingKey, onPublished }) {
  const rk = h('input', { type: 'text', name: 'routing_key', value: fixedRoutingKey ?? '', disabled: fixedRoutingKey !== undefined })
  const mode = h('select', { name: 'delivery_mode' }, h('option', { value: '1' }, '1 - Non-persistent'), h('option', { value: '2' }, '2 - Persistent'))
  const headers = argsEditor({ name: 'Headers', keyPlaceholder: 'header' })
  const props = argsEditor({ name: 'Properties', keyPlaceholder: 'property' })
  const listId = `props-${Math.random().toString(36).slice(2, 8)}`
  for (const input of props.el.querySelectorAll('input[placeholder=property]')) input.setAttribute('list', listId)
  const payload = h('textarea', { name: 'payload', rows: 5, placeholder: 'message body' })
  const encoding = h('select', { name: 'payload_encoding' }, h('option', { value: 'string' }, 'Text (UTF-8)'), h('option', { value: 'base64' }, 'Base64'))
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Publish message')
  const form = h(
    'form',
    { class: 'stacked', 'aria-label': 'Publish message', novalidate: true },
    formRow('Routing key', rk, fixedRoutingKey !== undefined ? 'to the default exchange, routed by the queue name' : undefined),
    formRow('Delivery mode', mode),
    formRow('Headers', headers.el),
    formRow('Properties', h('div', {}, props.el, h('datalist', { id: listId }, PROPERTIES.map((p) => h('option', { value: p }))))),
    formRow('Payload', payload),
    formRow('Payload encoding', encoding),
    h('div', { class: 'actions' }, submit),
  )
  // new property rows get the suggestions too
  props.el.addEventListener('focusin', (e) => {
    if (e.target.matches('input[placeholder=property]')) e.target.setAttribute('list', listId)
  })

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    resetValidity(form)
    if (utf8Length(rk.value) > 255) return invalid(rk, 'The routing key is longer than 255 bytes.')
    const hd = headers.read()
    if (hd.error) return invalid(hd.input, hd.error)
    const pr = props.read()
    if (pr.error) return invalid(pr.input, pr.error)
    const properties = { delivery_mode: Number(mode.value) }
    for (const [k, v] of Object.entries(pr.value)) {
      if (!PROPERTIES.includes(k)) return invalid(form.querySelector('input[placeholder=property]'), `Unknown property '${k}'; one of ${PROPERTIES.join(', ')}.`)
      if (NUMERIC.has(k)) {
        const n = Number(v)
        if (!Number.isInteger(n) || n < 0) return invalid(form.querySelector('input[placeholder=property]'), `Property '${k}' must be a whole number.`)
        properties[k] = n
      } else properties[k] = String(v)
    }
    if (Object.keys(hd.value).length > 0) properties.headers = hd.value
    if (encoding.value === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(payload.value.replace(/\s+/g, ''))) {
      return invalid(payload, 'The payload is not valid base64.')
    }
    const body = { properties, routing_key: rk.value, payload: payload.value, payload_encoding: encoding.value }
    busy(submit, async () => {
      try {
        const r = await post(`exchanges/${seg(vhost)}/${seg(exchangeUrlName(exchange))}/publish`, body)
        if (r?.routed) formMessage(form, 'Message published and routed.', 'ok')
        else formMessage(form, 'Message published, but not routed: no binding matched.', 'error')
        onPublished?.(Boolean(r?.routed))
      } catch (err) {
        formMessage(form, err.message)
      }
    })
  })
  return form
}
