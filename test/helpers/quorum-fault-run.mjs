/**
 * Rounds of faults aimed at a quorum queue's leader (issue 14), shared by scripts/quorum-faults.mjs
 * (the long run) and test/integration/quorum-faults.test.ts (the CI form), on the harness of
 * test/helpers/netns-cluster.mjs. One 3-member quorum queue; each round starts a publisher with
 * confirms and a consumer with manual acks (test/helpers/netns-agent-clients.mjs) in namespaces of
 * nodes that are not the fault's target, reads the queue's leader from GET /api/queues, injects one
 * fault at a random moment, lets the clients reconnect / re-consume / resend, then stops the
 * publisher, waits for the consumer to have every confirmed id, and checks:
 *   - lost: a confirmed id never delivered;
 *   - double-leader: an id published once delivered again without the redelivered flag;
 *   - order: first deliveries of ids confirmed on their first attempt out of publish order;
 *   - recovery: from the moment the fault took effect (restarts: from the processes' start) to the first id sent
 *     after it that is both confirmed and delivered, bounded by the lease TTL + 2 s for faults
 *     aimed at the leader;
 *   - fencing: a publish sent to a paused leader by its own client is not confirmed after SIGCONT;
 *   - pending confirms: every publish answered (ack, nack, or the close of the client's own
 *     connection) within the lease TTL + 2 s, and none left unanswered.
 */
import { waitFor } from './netns-cluster.mjs'
import { FAULT_PASS, FAULT_USER } from './netns-cluster.mjs'
import { hasMemberKey, percentile, seeded, sleep, whole } from './fault-lib.mjs'

export const QUORUM_FAULTS = ['kill9-leader', 'sigstop-leader', 'cut-leader', 'cut-follower', 'restart-etcd', 'restart-all', 'restart-all-leader-late']
/** faults whose recovery is bounded by the lease TTL + 2 s from their start */
const LEADER_FAULTS = new Set(['kill9-leader', 'sigstop-leader', 'cut-leader', 'cut-follower'])

export class QuorumFaultRun {
  /** `c`: a started netns cluster of 3 nodes or more. */
  constructor(c, { seed = 1, queue = 'qq-faults', log = () => undefined } = {}) {
    this.c = c
    this.nodes = c.nodes.map((m) => m.name)
    this.queue = queue
    this.ttlMs = c.leaseTtl * 1000
    this.rng = seeded(seed)
    this.log = log
    this.delivered = new Map() // id → [{ redelivered, count, via, at, round }]
    this.confirmed = new Set()
    this.attemptsOf = new Map() // id → number of publishes
    this.stats = { rounds: 0, faults: {}, recoverMs: {}, confirmed: 0, lost: 0, duplicates: 0, resendDuplicates: 0, doubleLeader: 0, order: 0, maxPendingMs: 0, nacks: 0, closes: 0, violations: [] }
  }

  url(n) {
    return `amqp://${FAULT_USER}:${FAULT_PASS}@${this.c.node(n).address}:5672/`
  }

  /** Declares the queue (3 members) through the first node. */
  async setup() {
    const a = this.c.agent(this.nodes[0])
    await a.call('open', { c: 'qsetup' })
    await a.call('declareQuorum', { c: 'qsetup', queue: this.queue, size: 3 })
    await a.call('close', { c: 'qsetup' })
  }

  /** The queue's record as some live node shows it: { leader, members, epoch }. */
  async record(ms = 20_000) {
    return waitFor(async () => {
      for (const n of this.nodes) {
        try {
          const r = await this.c.agent(n).call('http', { path: `/api/queues/%2F/${encodeURIComponent(this.queue)}`, timeoutMs: 1500 }, 3000)
          if (r.status === 200 && r.body.leader) return { leader: r.body.leader, members: r.body.members, epoch: r.body.epoch }
        } catch {}
      }
      return null
    }, ms, `the record of ${this.queue}`)
  }

  /** Injects fault `kind`; resolves when it is over. */
  async inject(kind, target, violations) {
    const { c, rng } = this
    const keyGone = (n) => waitFor(async () => !(await hasMemberKey(c, n)), this.ttlMs + 6000, `${n}'s lease to expire`)
    switch (kind) {
      case 'kill9-leader':
        await c.kill(target)
        this.faultAt = Date.now()
        await sleep(rng.random() * (process.env.FAULTS_KILL_DOWN_MS ? Number(process.env.FAULTS_KILL_DOWN_MS) : 1000))
        return c.start(target)
      case 'sigstop-leader': {
        // a client of the paused leader itself: what it sent during the pause must never be
        // confirmed once the old leader runs again (fencing), only closed with 320
        await c.agent(target).call('open', { c: 'paused' })
        c.pause(target)
        this.faultAt = Date.now()
        const late = c.agent(target).call('publish', { c: 'paused', queue: this.queue, ids: ['paused'], persistent: true }, this.ttlMs + 20_000).then(
          () => 'confirmed',
          (err) => err.message,
        )
        await keyGone(target)
        await sleep(rng.random() * 1000)
        c.resume(target)
        const answer = await late
        if (answer === 'confirmed') violations.push('a publish sent to the paused leader was confirmed after SIGCONT')
        await c.agent(target).call('close', { c: 'paused' })
        return
      }
      case 'cut-leader':
      case 'cut-follower':
        c.cut(target, 'all')
        this.faultAt = Date.now()
        await keyGone(target).catch(() => undefined)
        await sleep(rng.random() * 1000)
        return c.heal(target, 'all')
      case 'restart-etcd':
        return c.restartEtcd(rng.random() * 2000)
      case 'restart-all':
      case 'restart-all-leader-late': {
        await Promise.all(this.nodes.map((n) => c.kill(n)))
        // the leader last; every other time only once its lease has expired (the followers, empty
        // since their own start, are then alone with the record)
        for (const n of this.nodes) if (n !== this.leader) c.start(n)
        if (kind === 'restart-all-leader-late' || rng.random() < 0.5) {
          await keyGone(this.leader).catch(() => undefined)
          await sleep(rng.random() * 1000)
        }
        return c.start(this.leader)
      }
      default:
        throw new Error(`unknown fault '${kind}' (${QUORUM_FAULTS.join(', ')})`)
    }
  }

  /** One round of fault `kind`; returns its line of output. */
  async round(r, kind) {
    const { c, rng } = this
    const violations = []
    await whole(c, this.nodes, this.ttlMs + 30_000)
    const rec = await this.record()
    this.leader = rec.leader
    const followers = rec.members.filter((m) => m !== rec.leader)
    const target = kind.endsWith('-leader') ? rec.leader : kind === 'cut-follower' ? rng.pick(followers) : null
    const others = this.nodes.filter((n) => n !== target)
    const pubNode = others[0]
    const conNode = others[others.length - 1]
    const urls = (n) => [n, ...this.nodes.filter((m) => m !== n && m !== target), ...(target ? [target] : [])].map((m) => this.url(m))
    const pub = `p${r}`
    const con = `c${r}`
    // 10 unacked at a time, each acked 100 ms after its delivery: about 100 msg/s, below the
    // publisher's rate, so ready messages wait in the queue when the fault comes
    await c.agent(conNode).call('conStart', { name: con, queue: this.queue, urls: urls(conNode), prefetch: 10, ackDelayMs: 100 })
    await c.agent(pubNode).call('pubStart', { name: pub, queue: this.queue, urls: urls(pubNode), prefix: String(r) })
    // the queue works before the fault
    await waitFor(async () => (await c.agent(pubNode).call('pubStatus', { name: pub })).acked >= 10, 15_000, 'first confirms of the round').catch(() => violations.push('no confirms before the fault'))
    await sleep(rng.random() * 1000)
    const t0 = Date.now()
    this.faultAt = t0
    await this.inject(kind, target, violations)
    const t1 = Date.now()
    await whole(c, this.nodes, this.ttlMs + 30_000).catch((err) => violations.push(err.message))
    // a little traffic after the cluster is whole again
    const before = (await c.agent(pubNode).call('pubStatus', { name: pub })).acked
    await waitFor(async () => (await c.agent(pubNode).call('pubStatus', { name: pub })).acked >= before + 20, 20_000, 'confirms after the fault').catch(() => violations.push('no confirms after the fault'))
    await c.agent(conNode).call('conFast', { name: con })
    const p = await c.agent(pubNode).call('pubStop', { name: pub, ms: this.ttlMs + 10_000 }, this.ttlMs + 20_000)
    // every confirmed id of the round delivered (or the consumer has waited long enough)
    const mine = new Set()
    for (const a of p.attempts) {
      this.attemptsOf.set(a.id, (this.attemptsOf.get(a.id) ?? 0) + 1)
      if (a.answer === 'ack') {
        mine.add(a.id)
        this.confirmed.add(a.id)
      }
    }
    const seen = new Set()
    let from = 0
    await waitFor(async () => {
      const ds = await c.agent(conNode).call('conDeliveries', { name: con, from })
      from += ds.length
      for (const d of ds) seen.add(d.id)
      for (const id of mine) if (!seen.has(id) && !this.delivered.has(id)) return false
      return true
    }, 15_000, 'every confirmed id to be delivered').catch(() => undefined)
    const k = await c.agent(conNode).call('conStop', { name: con })
    for (const d of k.deliveries) {
      const list = this.delivered.get(d.id) ?? []
      list.push({ ...d, round: r })
      this.delivered.set(d.id, list)
    }
    // checks
    const missing = [...mine].filter((id) => !this.delivered.has(id))
    if (missing.length > 0) violations.push(`${missing.length} confirmed ids not delivered (${missing.slice(0, 3).join(', ')})`)
    let doubles = 0
    for (const id of new Set(k.deliveries.map((d) => d.id))) {
      if (this.attemptsOf.get(id) !== 1) continue
      for (const d of this.delivered.get(id).slice(1)) if (!d.redelivered) doubles++
    }
    if (doubles > 0) violations.push(`${doubles} deliveries of an id published once without the redelivered flag (two leaders, or a delivery mark lost in a crash)`)
    this.stats.doubleLeader += doubles
    // order of first deliveries among ids confirmed on their first (only) attempt
    let last = 0
    let order = 0
    for (const d of k.deliveries) {
      const [rr, seqs] = d.id.split('.')
      if (Number(rr) !== r || this.attemptsOf.get(d.id) !== 1 || !mine.has(d.id) || this.delivered.get(d.id)[0].at !== d.at) continue
      const seq = Number(seqs)
      if (seq < last) order++
      else last = seq
    }
    if (order > 0) violations.push(`${order} first deliveries out of publish order`)
    this.stats.order += order
    // recovery: the first id sent after the reference time both confirmed and delivered
    const ref = LEADER_FAULTS.has(kind) ? this.faultAt : t1
    let recover = Infinity
    for (const a of p.attempts) {
      if (a.sentAt < ref || a.answer !== 'ack') continue
      const d = this.delivered.get(a.id)
      if (d === undefined) continue
      recover = Math.min(recover, Math.max(a.at, d[0].at) - ref)
    }
    if (LEADER_FAULTS.has(kind) && recover > this.ttlMs + 2000) violations.push(`queue available again after ${recover} ms (> TTL + 2 s)`)
    // every publish answered, within TTL + 2 s
    let maxWait = 0
    let silent = 0
    for (const a of p.attempts) {
      if (a.answer === null) silent++
      else maxWait = Math.max(maxWait, a.at - a.sentAt)
      if (a.answer === 'nack') this.stats.nacks++
      if (a.answer === 'close') this.stats.closes++
    }
    if (silent > 0) violations.push(`${silent} publishes never answered`)
    if (maxWait > this.ttlMs + 2000) violations.push(`a publish waited ${maxWait} ms for its confirm or nack (> TTL + 2 s)`)
    this.stats.maxPendingMs = Math.max(this.stats.maxPendingMs, maxWait)
    this.stats.rounds++
    this.stats.faults[kind] = (this.stats.faults[kind] ?? 0) + 1
    ;(this.stats.recoverMs[kind] ??= []).push(recover)
    this.stats.violations.push(...violations.map((v) => `round ${r} (${kind}): ${v}`))
    const line = `round ${r}: ${kind}${target ? ` on ${target}` : ''} (leader ${rec.leader}, epoch ${rec.epoch}; clients on ${pubNode}/${conNode}): fault ${t1 - t0} ms, recovered in ${recover} ms, confirmed ${mine.size}, max confirm wait ${maxWait} ms, consumer cancels ${k.cancels} reconnects ${k.reconnects}${violations.length ? ' ! ' + violations.join('; ') : ''}`
    this.log(line)
    return { line, violations }
  }

  /** The totals, lost and duplicates counted over every round. */
  summary() {
    const s = this.stats
    s.confirmed = this.confirmed.size
    s.lost = [...this.confirmed].filter((id) => !this.delivered.has(id)).length
    s.duplicates = 0
    s.resendDuplicates = 0
    for (const [id, list] of this.delivered) {
      if (list.length < 2) continue
      if ((this.attemptsOf.get(id) ?? 1) > 1) s.resendDuplicates++
      else s.duplicates++
    }
    const lines = []
    lines.push(`rounds ${s.rounds}; faults ${Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    lines.push(`confirmed ${s.confirmed}, lost ${s.lost}, duplicates ${s.duplicates} (redeliveries) + ${s.resendDuplicates} (ids published again after a nack or close), double-leader deliveries ${s.doubleLeader}, order violations ${s.order}`)
    lines.push(`publishes nacked ${s.nacks}, answered by a connection close ${s.closes}; max pending-confirm wait ${s.maxPendingMs} ms`)
    const all = Object.values(s.recoverMs).flat()
    lines.push(`time to recover: p50 ${percentile(all, 50)} ms, max ${Math.max(...all)} ms`)
    for (const [k, xs] of Object.entries(s.recoverMs)) lines.push(`  ${k} (${xs.length}): p50 ${percentile(xs, 50)} ms, max ${Math.max(...xs)} ms${LEADER_FAULTS.has(k) ? ' from the fault' : ' from the restart'}`)
    lines.push(`violations ${s.violations.length}`)
    for (const v of s.violations) lines.push(`violation: ${v}`)
    return lines.join('\n')
  }
}
