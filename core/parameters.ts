/**
 * Runtime parameters (rabbit_runtime_parameters): vhost-scoped values by component and name, and
 * global ones by name. Warren stores any component so definitions and tools round-trip (shovel
 * and federation parameters are kept, not run); 'vhost-limits' (name 'limits') is read by
 * core/limits.ts. Policies are parameters too in RabbitMQ, but live in core/policies.ts.
 */

/** One vhost-scoped parameter, as the management API shows it. */
export interface Parameter {
  readonly component: string
  readonly vhost: string
  readonly name: string
  readonly value: unknown
}

/** The vhost-scoped and global parameters. */
export class RuntimeParameters {
  /** by JSON [vhost, component, name] */
  private readonly items = new Map<string, Parameter>()
  private readonly globals = new Map<string, unknown>()

  get(component: string, vhost: string, name: string): Parameter | undefined {
    return this.items.get(JSON.stringify([vhost, component, name]))
  }

  /** Stores a parameter; returns true when it replaced one. */
  put(p: Parameter): boolean {
    const k = JSON.stringify([p.vhost, p.component, p.name])
    const existed = this.items.has(k)
    this.items.set(k, p)
    return existed
  }

  delete(component: string, vhost: string, name: string): boolean {
    return this.items.delete(JSON.stringify([vhost, component, name]))
  }

  /** Parameters, optionally of one component and one vhost. */
  list(component?: string, vhost?: string): Parameter[] {
    const out: Parameter[] = []
    for (const p of this.items.values()) {
      if ((component === undefined || p.component === component) && (vhost === undefined || p.vhost === vhost)) out.push(p)
    }
    return out
  }

  deleteVHost(vhost: string): void {
    for (const [k, p] of this.items) if (p.vhost === vhost) this.items.delete(k)
  }

  getGlobal(name: string): unknown {
    return this.globals.get(name)
  }

  putGlobal(name: string, value: unknown): boolean {
    const existed = this.globals.has(name)
    this.globals.set(name, value)
    return existed
  }

  deleteGlobal(name: string): boolean {
    return this.globals.delete(name)
  }

  listGlobal(): { name: string; value: unknown }[] {
    return [...this.globals].map(([name, value]) => ({ name, value }))
  }
}
