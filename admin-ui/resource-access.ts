/**
 * The management API's resource permission checks, as RabbitMQ 3.10 runs them. RabbitMQ does not
 * check permissions in the HTTP layer: it runs each operation as the requesting user, so the same
 * configure/write/read checks as AMQP apply, to administrators too (their tag only lifts the vhost
 * rule of is_authorized_vhost). The checks themselves are core/access-control.ts's; this file only
 * builds one {@link AccessControl} per request and turns refusals into RabbitMQ's HTTP answers, which
 * depend on how RabbitMQ runs the operation (rabbit_mgmt_util):
 *
 * - declare, delete, purge, bind, unbind go through `direct_request` (rabbit_channel:handle_method):
 *   ACCESS_REFUSED and NOT_ALLOWED → 401 `not_authorised` "Access refused.", NOT_FOUND → 404, other
 *   errors → 400 with the explanation. That is http-errors.ts's fromAmqpError, so a plain
 *   ChannelError thrown by {@link AccessControl.check} is answered right.
 * - queue get goes through `with_channel`, a direct AMQP connection: a vhost the user may not open →
 *   401 "Access refused."; a channel closed with 403 → 401 with the reply text; 404 → 404 with the
 *   reply text; anything else → 400 "<code> <reply text>" (bad_request_exception).
 * - publish also uses `with_channel`, but the publish is a cast and the channel's death arrives as a
 *   'DOWN' message (rabbit_mgmt_wm_exchange_publish bad/3): every channel error, 403 included,
 *   is 400 "<code> <reply text>", e.g. "403 ACCESS_REFUSED - access to exchange 'x' in vhost 'v'
 *   refused for user 'u'" or "406 PRECONDITION_FAILED - user_id property set to …".
 */
import { AccessControl } from '../core/access-control.js'
import { AmqpError, ReplyCode } from '../core/errors.js'
import type { VHost } from '../core/vhost.js'
import type { ApiRequest } from './context.js'
import { channelClosed, HttpError, notAuthorised } from './http-errors.js'

/** The requesting user's permissions in `v`; fresh per request (HTTP is not a hot path). */
export function accessFor(req: ApiRequest, v: VHost): AccessControl {
  return new AccessControl(req.ctx.broker.users, req.user.name, v.name)
}

/**
 * Runs `fn` as rabbit_mgmt_util:with_channel runs a synchronous channel call (queue get): opening
 * the vhost needs a permission entry there, administrators included; a channel error is answered
 * as RabbitMQ answers the channel's close.
 */
export function withChannel<T>(access: AccessControl, fn: () => T): T {
  // amqp_connection:start refused by check_vhost_access → {error, not_allowed}
  if (!access.canAccessVHost()) throw notAuthorised('Access refused.')
  try {
    return fn()
  } catch (err) {
    if (!(err instanceof AmqpError)) throw err
    if (err.code === ReplyCode.ACCESS_REFUSED) throw notAuthorised(err.replyText)
    if (err.code === ReplyCode.NOT_FOUND) throw new HttpError(404, 'not_found', err.replyText)
    throw channelClosed(err)
  }
}

/**
 * Runs `fn` as rabbit_mgmt_wm_exchange_publish runs basic.publish: the same vhost rule as
 * {@link withChannel}, then any channel error becomes 400 "<code> <reply text>".
 */
export function withPublishChannel<T>(access: AccessControl, fn: () => T): T {
  if (!access.canAccessVHost()) throw notAuthorised('Access refused.')
  try {
    return fn()
  } catch (err) {
    if (err instanceof AmqpError) throw channelClosed(err)
    throw err
  }
}
