/**
 * Which policy applies to a queue or an exchange (rabbit_policy:match): the policies of its vhost
 * whose apply-to fits the object and whose pattern matches its name, highest priority first; one
 * policy per object. Patterns are matched as RabbitMQ's re:run does (unanchored, case-sensitive)
 * but with RE2 (re2js), so a pattern cannot make matching take more than linear time. A pattern is
 * compiled once, when its policy is stored; nothing here runs per message.
 */
import { RE2JS } from 're2js'

/** A compiled policy pattern. */
export type NameMatcher = (name: string) => boolean

/** Compiles a policy pattern; throws an Error with RE2's reason when it does not compile. */
export function compilePolicyPattern(pattern: string): NameMatcher {
  const re = RE2JS.compile(pattern)
  return (name) => re.test(name)
}

/** What a policy can apply to (rabbit_policy:matches_type / matches_queue_type). */
export interface PolicyTarget {
  readonly kind: 'queue' | 'exchange'
  readonly name: string
  /** queue type ('classic', 'quorum', 'stream'); unused for exchanges */
  readonly queueType?: string
}

/** The matching part of a policy. */
export interface Matchable {
  readonly name: string
  readonly applyTo: string
  readonly priority: number
  readonly matcher: NameMatcher
}

/** apply-to per RabbitMQ 3.10: 'all', 'queues', 'exchanges', and per queue type (classic_queues …). */
export function appliesTo(applyTo: string, t: PolicyTarget): boolean {
  if (applyTo === 'all') return true
  if (t.kind === 'exchange') return applyTo === 'exchanges'
  if (applyTo === 'queues') return true
  return applyTo === `${t.queueType ?? 'classic'}_queues` || (applyTo === 'streams' && t.queueType === 'stream')
}

/** The policy for `t` among `policies` (highest priority; equal priorities: the first name). */
export function matchPolicy<P extends Matchable>(policies: Iterable<P>, t: PolicyTarget): P | undefined {
  let best: P | undefined
  for (const p of policies) {
    if (best !== undefined && (p.priority < best.priority || (p.priority === best.priority && p.name > best.name))) continue
    if (appliesTo(p.applyTo, t) && p.matcher(t.name)) best = p
  }
  return best
}
