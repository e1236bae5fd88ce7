/**
 * The sliced JSON parser used for large request bodies gives JSON.parse's result for valid JSON
 * and refuses what JSON.parse refuses, whatever the slicing.
 */
import { describe, expect, it } from 'vitest'
import { parseJsonInSlices } from '../../admin-ui/json-sliced-parse.js'

const same = async (text: string): Promise<void> => {
  let expected: unknown
  let expectedError = false
  try {
    expected = JSON.parse(text)
  } catch {
    expectedError = true
  }
  if (expectedError) await expect(parseJsonInSlices(Buffer.from(text)), text).rejects.toThrow(SyntaxError)
  else expect(await parseJsonInSlices(Buffer.from(text)), text).toEqual(expected)
}

describe('parseJsonInSlices', () => {
  it('equals JSON.parse on valid documents', async () => {
    const big = {
      rabbit_version: '3.10.8',
      queues: Array.from({ length: 1300 }, (_, i) => ({ name: `q,[${i}]"\\`, arguments: { 'x-list': [1, [2, { a: ',]' }]], é: 'ünï' } })),
      bindings: [],
      spaced: [ ],
      scalars: [1, 'two', null, true, 4.5e3],
      nested: { inner: [1, 2, 3] },
      n: 7,
    }
    await same(JSON.stringify(big))
    await same(JSON.stringify(big, null, 2))
    for (const t of ['{}', ' { "a" : [ ] } ', '{"a":[1],"a":[2,3]}', '[1,2,3]', '"x"', '42', 'null', '{"__proto__": [1], "x": {"__proto__": 2}}']) {
      await same(t)
    }
    const parsed = (await parseJsonInSlices(Buffer.from('{"__proto__": [1]}'))) as Record<string, unknown>
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true)
    expect(parsed['__proto__']).toEqual([1])
  })

  it('refuses what JSON.parse refuses', async () => {
    for (const t of ['{"a":[1}', '{"a":[1,]}', '{"a":[,1]}', '{"a":[1 2]}', '{"a":[1]} x', '{"a":[1]', '{"a":"[1]}', '{"a":[1]}}', '{"a":[1],}', '{"a":[{]}]}', '', '{"a":[1],"b":[}']) {
      await same(t)
    }
  })
})
