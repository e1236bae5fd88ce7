/**
 * The `name` filter with `use_regex=true` (rabbit_mgmt_util: `re:run(Name, Pattern, [caseless])`,
 * an unanchored, case-insensitive search) compiled with RE2 (re2js, pure JavaScript) instead of
 * JavaScript's backtracking RegExp: RE2 matches in time linear in the input, so a pattern such as
 * `(a+)+$` cannot freeze the event loop on a name like `alice-aaaa…!` (with RegExp it took
 * seconds per name and doubled with every character).
 *
 * Linear is still "program size × input length", so very large programs (`\w{1000}`, counted
 * repeats of alternations) are refused with a 400 rather than matched against every name. RE2 has
 * no backreferences or lookaround; such a pattern is a 400 too.
 */
import { RE2JS } from 're2js'
import { badRequest } from './http-errors.js'

/**
 * Largest compiled program accepted (RE2 instructions). Real filters are far below it (`^orders\.`
 * is 10, `(foo|bar)\.[a-z]+$` about 20); at this size 10,000 names of 255 bytes cost ~100 ms.
 */
export const MAX_PROGRAM_SIZE = 256

/** Compiles a `name` filter; throws 400 for a pattern RE2 refuses or one too large to run. */
export function nameMatcher(pattern: string): (name: string) => boolean {
  let re: RE2JS
  try {
    re = RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE)
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw badRequest(`invalid regular expression in name: '${pattern}': ${why}`)
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) {
    throw badRequest(`regular expression in name is too complex (${re.programSize()} instructions; the limit is ${MAX_PROGRAM_SIZE})`)
  }
  return (name) => re.test(name)
}
