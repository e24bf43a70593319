/**
 * JSON with object keys sorted at every level: the same value always gives the same bytes (what a manifest's
 * MAC covers). The fast path lets JSON.stringify do the writing and only hands it each object with its keys in
 * order; anything it would write differently from the plain recursive definition below (undefined or a function
 * in an array, an object with toJSON or a prototype, integer-like keys, which JS objects keep in numeric order)
 * takes the recursive path instead. A backup set's manifest lists every attachment: with 10,000 of them the
 * recursive writer alone took about a third of a no-change backup's time, the fast path a third of that.
 */
export function canonicalJson(value: unknown): string {
  try {
    return JSON.stringify(value, sortedKeys) as string;
  } catch (error) {
    if (error === NOT_PLAIN) return recursiveCanonicalJson(value);
    throw error;
  }
}

/** The definition: arrays in order, objects by key (code-unit order) without undefined members. */
export function recursiveCanonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(recursiveCanonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${recursiveCanonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const NOT_PLAIN = Symbol('not plain JSON data');
const INTEGER_LIKE = /^(0|[1-9]\d*)$/;

function sortedKeys(this: unknown, key: string, value: unknown): unknown {
  const holder = this as Record<string, unknown>;
  const original = holder[key];
  if (original === undefined) {
    if (Array.isArray(holder)) throw NOT_PLAIN;
    return value; // an undefined member: JSON.stringify leaves it out, as the definition does
  }
  if (typeof original === 'function' || typeof original === 'symbol' || typeof original === 'bigint')
    throw NOT_PLAIN;
  if (original === null || typeof original !== 'object' || Array.isArray(original)) return value;
  const prototype = Object.getPrototypeOf(original);
  if ((prototype !== Object.prototype && prototype !== null) || 'toJSON' in original) throw NOT_PLAIN;
  const keys = Object.keys(original);
  let ordered = true;
  for (let i = 0; i < keys.length; i += 1) {
    if (INTEGER_LIKE.test(keys[i]!)) throw NOT_PLAIN;
    if (i > 0 && keys[i - 1]! > keys[i]!) ordered = false;
  }
  if (ordered) return original;
  const copy: Record<string, unknown> = {};
  for (const name of keys.sort()) copy[name] = (original as Record<string, unknown>)[name];
  return copy;
}
