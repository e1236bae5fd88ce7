/**
 * Types of test/helpers/quorum-fault-run.mjs (plain ESM so that scripts/quorum-faults.mjs runs it
 * without a build step).
 */
import type { NetnsCluster } from './netns-cluster.mjs'

export declare const QUORUM_FAULTS: readonly string[]

export interface QuorumFaultStats {
  rounds: number
  faults: Record<string, number>
  recoverMs: Record<string, number[]>
  confirmed: number
  lost: number
  duplicates: number
  resendDuplicates: number
  doubleLeader: number
  order: number
  maxPendingMs: number
  nacks: number
  closes: number
  violations: string[]
}

export declare class QuorumFaultRun {
  constructor(c: NetnsCluster, options?: { seed?: number; queue?: string; log?: (line: string) => void })
  readonly stats: QuorumFaultStats
  setup(): Promise<void>
  record(ms?: number): Promise<{ leader: string; members: string[]; epoch: number }>
  round(r: number, kind: string): Promise<{ line: string; violations: string[] }>
  summary(): string
}
