/**
 * AMQP-side authorisation, as RabbitMQ's internal auth backend does it (rabbit_access_control,
 * rabbit_auth_backend_internal, rabbit_channel check_*_permitted):
 *
 * - vhost access: a user may open a vhost when it has a permission entry there, whatever the
 *   regexes (rabbit_auth_backend_internal:check_vhost_access). Tags play no part: they are for the
 *   HTTP API only.
 * - resource access: the configure, write or read regex of that entry must match the resource
 *   name, unanchored (re:run); an empty regex means "^$", i.e. nothing. The default exchange ''
 *   is checked under the name 'amq.default' (rabbit_access_control:check_resource_access).
 *
 * Refusals use RabbitMQ 3.10's texts (Warren reports itself as 3.10.8): "access to vhost '/v'
 * refused for user 'u'" (530 NOT_ALLOWED, rabbit_access_control:check_vhost_access) and "access to
 * queue 'q' in vhost '/' refused for user 'u'" (403 ACCESS_REFUSED, check_resource_access with
 * rabbit_misc:rs). RabbitMQ 3.13+ prefix the latter with the permission ("write access to …").
 *
 * One {@link AccessControl} lives on each connection (user and vhost are fixed once it is open). It
 * keeps the compiled regexes and, for basic.publish, the write verdict per exchange name, so a
 * publish costs one Map lookup. Both are dropped whenever {@link UserStore.generation} moves (any
 * user or permission change), so changes apply to the next operation, as RabbitMQ's permission
 * cache is invalidated.
 */
import { ChannelError, ReplyCode } from './errors.js'
import { compilePolicyPattern, type NameMatcher } from './policy-match.js'
import type { TopicPermission, UserStore } from './users.js'
import type { FieldTable } from './wire/field-table.js'

/** RabbitMQ's three permissions (rabbit_types:permission_atom()). */
export type PermissionKind = 'configure' | 'write' | 'read'

/** A declare's permission checks, run by VHost.declareQueue/declareExchange on the actual name. */
export type Authorize = (name: string, isNew: boolean) => void

/** The resource kinds AMQP 0-9-1 checks permissions on. */
export type ResourceKind = 'exchange' | 'queue'

/** rabbit_channel ?MAX_PERMISSION_CACHE_SIZE is 12 per channel; a connection may publish to more names. */
const PUBLISH_CACHE_LIMIT = 1024

/** RabbitMQ's reply text when connection.open names a vhost the user has no permissions on. */
export function vhostAccessRefusedText(vhost: string, user: string): string {
  return `access to vhost '${vhost}' refused for user '${user}'`
}

/** RabbitMQ's reply text for a refused resource access (the default exchange shows as amq.default). */
export function resourceAccessRefusedText(kind: ResourceKind, name: string, vhost: string, user: string): string {
  const shown = kind === 'exchange' && name === '' ? 'amq.default' : name
  return `access to ${kind} '${shown}' in vhost '${vhost}' refused for user '${user}'`
}

/**
 * RabbitMQ's text when a publish claims a user_id other than the authenticated user
 * (rabbit_channel:check_user_id_header, 406 PRECONDITION_FAILED), for AMQP and HTTP publishes alike.
 */
export function userIdMismatchText(claimed: string, actual: string | undefined): string {
  return `user_id property set to '${claimed}' but authenticated user was '${actual}'`
}

/**
 * Compiles a permission regex as rabbit_auth_backend_internal applies it: '' is "^$", anything else
 * is matched unanchored. A pattern JavaScript cannot compile matches nothing (refuse, never allow).
 */
export function compilePermission(pattern: string): RegExp | null {
  try {
    return new RegExp(pattern === '' ? '^$' : pattern)
  } catch {
    return null
  }
}

/**
 * RabbitMQ 3.10's text when a routing key is refused by a topic permission
 * (rabbit_access_control:check_topic_access; 3.13+ prefix it with the permission).
 */
export function topicAccessRefusedText(routingKey: string, exchange: string, vhost: string, user: string): string {
  return `access to topic '${routingKey}' in exchange '${exchange}' in vhost '${vhost}' refused for user '${user}'`
}

/** A topic permission's regexes with {username} and {vhost} expanded, compiled (RE2), or null when absent. */
interface CompiledTopic {
  write: NameMatcher | null
  read: NameMatcher | null
}

/**
 * rabbit_auth_backend_internal:check_topic_access: '' means "^$"; {username} and {vhost} are
 * replaced by the connection's (expand_topic_permission). A pattern that does not compile matches
 * nothing (refuse, never allow).
 */
function compileTopic(pattern: string, user: string, vhost: string): NameMatcher | null {
  const expanded = (pattern === '' ? '^$' : pattern).replaceAll('{username}', user).replaceAll('{vhost}', vhost)
  try {
    return compilePolicyPattern(expanded)
  } catch {
    return null
  }
}

interface Compiled {
  configure: RegExp | null
  write: RegExp | null
  read: RegExp | null
}

/** One connection's view of its user's permissions in its vhost; see the module comment. */
export class AccessControl {
  /** undefined: not compiled for the current generation; null: no permission entry */
  private compiled: Compiled | null | undefined = undefined
  private generation = -1
  /** exchange name → may publish (write) */
  private readonly publishCache = new Map<string, boolean>()
  /** topic exchange name → its compiled topic permission for this user (null: none, all keys pass) */
  private readonly topicCache = new Map<string, CompiledTopic | null>()
  /** the user has topic permissions in this vhost (else publishes skip the topic check) */
  private hasTopicPermissions = false

  constructor(
    private readonly users: UserStore,
    readonly user: string,
    readonly vhost: string,
  ) {}

  /** Drops the caches when users or permissions changed since they were built. */
  private current(): Compiled | null {
    if (this.generation !== this.users.generation || this.compiled === undefined) {
      this.generation = this.users.generation
      this.publishCache.clear()
      this.topicCache.clear()
      this.hasTopicPermissions = this.users.topicPermissions().some((t) => t.user === this.user && t.vhost === this.vhost)
      const p = this.users.getPermission(this.user, this.vhost)
      this.compiled =
        p === undefined || this.users.get(this.user) === undefined
          ? null
          : { configure: compilePermission(p.configure), write: compilePermission(p.write), read: compilePermission(p.read) }
    }
    return this.compiled
  }

  /** True when the user has a permission entry on the vhost (rabbit_auth_backend_internal:check_vhost_access). */
  canAccessVHost(): boolean {
    return this.current() !== null
  }

  /** True when `permission` on the resource is granted. */
  permitted(permission: PermissionKind, kind: ResourceKind, name: string): boolean {
    const c = this.current()
    if (c === null) return false
    const re = c[permission]
    // rabbit_access_control:check_resource_access checks the default exchange as amq.default
    return re !== null && re.test(kind === 'exchange' && name === '' ? 'amq.default' : name)
  }

  /** Throws 403 ACCESS_REFUSED with RabbitMQ's text unless `permission` on the resource is granted. */
  check(permission: PermissionKind, kind: ResourceKind, name: string): void {
    if (!this.permitted(permission, kind, name)) {
      throw new ChannelError(ReplyCode.ACCESS_REFUSED, resourceAccessRefusedText(kind, name, this.vhost, this.user))
    }
  }

  /**
   * The checks of a non-passive exchange.declare, for VHost.declareExchange's `authorize`
   * (rabbit_channel handle_method exchange.declare): configure on the exchange; when it is new and
   * names an alternate-exchange, read on the exchange and write on the alternate.
   */
  exchangeDeclareCheck(args: FieldTable): Authorize {
    return (name, isNew) => {
      this.check('configure', 'exchange', name)
      const ae = args['alternate-exchange']
      if (isNew && typeof ae === 'string') {
        this.check('read', 'exchange', name)
        this.check('write', 'exchange', ae)
      }
    }
  }

  /**
   * The checks of a non-passive queue.declare, for VHost.declareQueue's `authorize` (rabbit_channel
   * handle_method queue.declare): configure on the actual name, a server-generated amq.gen-… one
   * included; when the queue is new and has x-dead-letter-exchange, read on the queue and write on
   * the dead-letter exchange.
   */
  queueDeclareCheck(args: FieldTable): Authorize {
    return (name, isNew) => {
      this.check('configure', 'queue', name)
      const dlx = args['x-dead-letter-exchange']
      if (isNew && typeof dlx === 'string') {
        this.check('read', 'queue', name)
        this.check('write', 'exchange', dlx)
      }
    }
  }

  /**
   * queue.bind/unbind and exchange.bind/unbind (rabbit_channel binding_action_with_checks): write on
   * the destination, then (unless either is the default exchange, which the vhost refuses next)
   * read on the source exchange.
   */
  checkBinding(destinationKind: ResourceKind, destination: string, source: string): void {
    this.check('write', destinationKind, destination)
    if (source === '' || (destinationKind === 'exchange' && destination === '')) return
    this.check('read', 'exchange', source)
  }

  /**
   * Topic authorisation (rabbit_channel check_topic_authorisation): on a topic exchange the routing
   * key must match the user's `write` (publish) or `read` (bind) topic permission for that
   * exchange, when there is one. Compiled once per exchange and permission change; a publish to
   * any other exchange type, or by a user without topic permissions, costs one comparison.
   */
  checkTopic(permission: 'write' | 'read', exchange: { readonly name: string; readonly type: string }, routingKey: string): void {
    if (exchange.type !== 'topic') return
    this.current()
    if (!this.hasTopicPermissions) return
    let t = this.topicCache.get(exchange.name)
    if (t === undefined) {
      const p: TopicPermission | undefined = this.users.getTopicPermission(this.user, this.vhost, exchange.name)
      t = p === undefined ? null : { write: compileTopic(p.write, this.user, this.vhost), read: compileTopic(p.read, this.user, this.vhost) }
      if (this.topicCache.size >= PUBLISH_CACHE_LIMIT) this.topicCache.clear()
      this.topicCache.set(exchange.name, t)
    }
    if (t === null) return
    const m = t[permission]
    if (m === null || !m(routingKey)) {
      throw new ChannelError(ReplyCode.ACCESS_REFUSED, topicAccessRefusedText(routingKey, exchange.name, this.vhost, this.user))
    }
  }

  /** basic.publish: write on the exchange (rabbit_channel check_write_permitted), cached per name. */
  checkPublish(exchange: string): void {
    let ok = this.generation === this.users.generation ? this.publishCache.get(exchange) : undefined
    if (ok === undefined) {
      ok = this.permitted('write', 'exchange', exchange) // refreshes the caches when stale
      if (this.publishCache.size >= PUBLISH_CACHE_LIMIT) this.publishCache.clear()
      this.publishCache.set(exchange, ok)
    }
    if (!ok) throw new ChannelError(ReplyCode.ACCESS_REFUSED, resourceAccessRefusedText('exchange', exchange, this.vhost, this.user))
  }
}
