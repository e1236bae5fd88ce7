/**
 * Policies as RabbitMQ's definitions carry them. Warren stores them so definitions round-trip
 * (export → import → export) and the management API lists them, but does not apply them yet.
 */
import type { FieldTable } from './wire/field-table.js'

/** One policy, as in RabbitMQ's definitions. */
export interface Policy {
  readonly vhost: string
  readonly name: string
  readonly pattern: string
  /** 'queues', 'exchanges', 'all' (RabbitMQ's apply-to) */
  readonly applyTo: string
  readonly definition: FieldTable
  readonly priority: number
}

/** The stored policies, by vhost and name. */
export class PolicyStore {
  /** by `${vhost}\0${name}` */
  private readonly items = new Map<string, Policy>()

  get(vhost: string, name: string): Policy | undefined {
    return this.items.get(`${vhost}\u0000${name}`)
  }

  put(p: Policy): void {
    this.items.set(`${p.vhost}\u0000${p.name}`, p)
  }

  delete(vhost: string, name: string): boolean {
    return this.items.delete(`${vhost}\u0000${name}`)
  }

  /** Every policy, or those of one vhost. */
  list(vhost?: string): Policy[] {
    const all = [...this.items.values()]
    return vhost === undefined ? all : all.filter((p) => p.vhost === vhost)
  }

  /** Removes the policies of a vhost being deleted. */
  deleteVHost(vhost: string): void {
    for (const [k, p] of this.items) if (p.vhost === vhost) this.items.delete(k)
  }
}
