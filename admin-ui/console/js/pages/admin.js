/**
 * Admin (RabbitMQ's Admin tab): sub-pages for users, virtual hosts, permissions and topic
 * permissions, policies and operator policies, and limits (js/admin/). #/admin opens Users.
 */
import { h, href, replace } from '../dom.js'
import users from '../admin/users.js'
import vhosts from '../admin/vhosts.js'
import permissions from '../admin/permissions.js'
import policies from '../admin/policies.js'
import limits from '../admin/limits.js'

const SECTIONS = [
  ['users', users],
  ['vhosts', vhosts],
  ['permissions', permissions],
  ['policies', policies],
  ['limits', limits],
]

export default {
  title: 'Admin',
  async render(root, params, app) {
    const key = params.section ?? 'users'
    const section = SECTIONS.find(([k]) => k === key)
    const nav = h(
      'nav',
      { class: 'subnav', 'aria-label': 'Admin' },
      SECTIONS.map(([k, page]) => h('a', { href: href('admin', k), class: k === key ? 'active' : undefined, 'aria-current': k === key ? 'page' : undefined }, page.title)),
    )
    if (section === undefined) {
      replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Admin')), nav, h('p', {}, 'No such admin page.'))
      return
    }
    document.title = `${section[1].title} · Admin · Warren`
    const body = h('div')
    replace(root, h('div', { class: 'page-head' }, h('h1', {}, h('span', { class: 'kind' }, 'Admin'), section[1].title)), nav, body)
    await section[1].render(body, app)
  },
}
