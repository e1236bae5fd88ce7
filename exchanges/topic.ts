/**
 * The topic exchange: binding keys are dot-separated words where `*` matches exactly one word and
 * `#` matches zero or more words. Bindings live in a word trie (no regular expressions); routing
 * results are cached per routing key.
 *
 * Word splitting follows RabbitMQ (rabbit_db_topic_exchange:split_topic_key/1 and
 * split_topic_key_binary/1): the empty key is ZERO words (`<<>>` → `[]`), any other key is split on
 * every '.', keeping empty words (`"a..b"` → a, "", b; `"a."` → a, ""). Hence routing key ""
 * matches binding keys "" and "#" (and "#.#") but not "*"; "." is two empty words and matches
 * "*.*", "#" and "*.#" but not "" or "*". Matching follows its trie_match/5: at each node try the
 * literal word, the `*` edge (one word) and the `#` edge (every suffix, the empty one included);
 * once the words run out, the node's bindings match and so does any chain of trailing `#` edges.
 */
import type { Binding, Destination, Exchange, ExchangeRouter, RouteTarget, RouterFactory } from '../core/exchange.js'
import type { Message } from '../core/message.js'
import type { VHost } from '../core/vhost.js'
import { DestinationSet } from './destination-set.js'

/** Most routing keys whose match results are kept; the oldest entry goes first. */
export const TOPIC_CACHE_SIZE = 4096

const EMPTY: readonly Destination[] = []

class TrieNode {
  /** literal words */
  readonly children = new Map<string, TrieNode>()
  star: TrieNode | null = null
  hash: TrieNode | null = null
  /** destinations of the bindings whose key ends here */
  readonly bound = new DestinationSet()
  /** for a `#` node: the match pass that last expanded it, and the lowest word index it did so from */
  pass = 0
  expandedFrom = 0

  isEmpty(): boolean {
    return this.bound.size === 0 && this.children.size === 0 && this.star === null && this.hash === null
  }
}

/**
 * Splits a key into words as RabbitMQ does ("" → no words). For binding keys, runs of `#` words are
 * collapsed to one: `#.#` matches exactly what `#` matches, and the trie stays free of the
 * combinatorial `#.#.#…` paths.
 */
export function topicWords(key: string, collapseHashes = false): string[] {
  if (key === '') return []
  const words = key.split('.')
  if (!collapseHashes) return words
  let n = 0
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '#' && n > 0 && words[n - 1] === '#') continue
    words[n++] = words[i]
  }
  words.length = n
  return words
}

/** Router of one topic exchange. */
export class TopicRouter implements ExchangeRouter {
  private readonly root = new TrieNode()
  /** ids of the bindings held, so a repeated bind or unbind of one binding counts once */
  private readonly ids = new Set<string>()
  /** routing key → its distinct matched destinations; cleared on every bind and unbind */
  private readonly cache = new Map<string, readonly Destination[]>()
  private pass = 0
  /** scratch state of the match in progress */
  private words: string[] = []
  private readonly found = new Set<Destination>()

  constructor(private readonly cacheSize = TOPIC_CACHE_SIZE) {}

  bind(binding: Binding): void {
    if (this.ids.has(binding.id)) return
    this.ids.add(binding.id)
    this.cache.clear()
    let node = this.root
    for (const w of topicWords(binding.routingKey, true)) {
      let next = w === '*' ? node.star : w === '#' ? node.hash : (node.children.get(w) ?? null)
      if (next === null) {
        next = new TrieNode()
        if (w === '*') node.star = next
        else if (w === '#') node.hash = next
        else node.children.set(w, next)
      }
      node = next
    }
    node.bound.add(binding.destination)
  }

  unbind(binding: Binding): void {
    if (!this.ids.delete(binding.id)) return
    this.cache.clear()
    const words = topicWords(binding.routingKey, true)
    const path: TrieNode[] = [this.root]
    let node = this.root
    for (const w of words) {
      const next = w === '*' ? node.star : w === '#' ? node.hash : node.children.get(w)
      if (!next) return
      path.push(next)
      node = next
    }
    node.bound.remove(binding.destination)
    // Prune the now-empty tail of the path so unbound keys do not leave nodes behind.
    for (let i = words.length; i > 0 && path[i].isEmpty(); i--) {
      const parent = path[i - 1]
      const w = words[i - 1]
      if (w === '*') parent.star = null
      else if (w === '#') parent.hash = null
      else parent.children.delete(w)
    }
  }

  route(_message: Message, routingKey: string, out: RouteTarget): void {
    let matched = this.cache.get(routingKey)
    if (matched === undefined) {
      matched = this.match(routingKey)
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!)
      this.cache.set(routingKey, matched)
    }
    for (let i = 0; i < matched.length; i++) out.add(matched[i])
  }

  /** The distinct destinations whose binding key matches `routingKey` (uncached). */
  match(routingKey: string): readonly Destination[] {
    this.words = topicWords(routingKey)
    this.pass++
    this.walk(this.root, 0)
    if (this.found.size === 0) return EMPTY
    const result = [...this.found]
    this.found.clear()
    return result
  }

  /** Entries in the routing-key cache (for tests and diagnostics). */
  get cachedKeys(): number {
    return this.cache.size
  }

  /** Matches words[i…] against the subtrie at `node`, collecting into `found`. */
  private walk(node: TrieNode, i: number): void {
    const words = this.words
    if (i === words.length) {
      node.bound.addAllTo(this.found)
      if (node.hash !== null) this.expandHash(node.hash, i)
      return
    }
    const child = node.children.get(words[i])
    if (child !== undefined) this.walk(child, i + 1)
    if (node.star !== null) this.walk(node.star, i + 1)
    if (node.hash !== null) this.expandHash(node.hash, i)
  }

  /**
   * A `#` node reached at word i: `#` swallows words[i…k) for every k from i to the end. A `#` node
   * expanded from index j in this pass has already covered every k ≥ j, so only the k < j not yet
   * tried are walked; this keeps keys like `#.a.#.a.#` polynomial instead of exponential.
   */
  private expandHash(hash: TrieNode, i: number): void {
    let end = this.words.length
    if (hash.pass === this.pass) {
      if (hash.expandedFrom <= i) return
      end = hash.expandedFrom - 1
    }
    hash.pass = this.pass
    hash.expandedFrom = i
    for (let k = i; k <= end; k++) this.walk(hash, k)
  }
}

/** Factory registered as the "topic" exchange type. */
export const topicRouterFactory: RouterFactory = (_exchange: Exchange, _vhost: VHost) => new TopicRouter()
