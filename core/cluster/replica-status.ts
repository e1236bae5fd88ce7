/**
 * What every node knows of each quorum queue's replicas (issue 14), for the management API on any
 * node: the leader's figures (each member's durable sequence, lag and whether it is in sync), made
 * by the leader at most once a second and sent to the other nodes over the node links
 * (transport/cluster/replica-sync.ts). And the interface the management API calls to add or remove
 * a member (implemented in transport/cluster/replica-members.ts; null on a single node).
 */

/** One member as its leader last saw it. */
export interface MemberFigures {
  /** the highest replication sequence it holds durable (-1: not known yet) */
  seq: number
  /** records of the leader it has not acked durable (-1: not known yet) */
  lag: number
  inSync: boolean
}

export interface ReplicaFigures {
  leader: string
  epoch: number
  /** the leader's last replication sequence */
  lastSeq: number
  members: Record<string, MemberFigures>
  /** Date.now() when the leader made them */
  at: number
}

/** Thrown by ReplicaAdmin for a request the API answers with `status` (400, 404). */
export class ReplicaAdminError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

/** Changes of a quorum queue's replica set (RabbitMQ's rabbitmq-queues add_member / delete_member). */
export interface ReplicaAdmin {
  addMember(vhost: string, name: string, node: string): Promise<void>
  deleteMember(vhost: string, name: string, node: string): Promise<void>
}

export class ReplicaStatusBoard {
  private readonly figures = new Map<string, ReplicaFigures>()

  get(vhost: string, name: string): ReplicaFigures | undefined {
    return this.figures.get(`${vhost}\u0000${name}`)
  }

  set(vhost: string, name: string, f: ReplicaFigures): void {
    this.figures.set(`${vhost}\u0000${name}`, f)
  }

  delete(vhost: string, name: string): void {
    this.figures.delete(`${vhost}\u0000${name}`)
  }
}
