import { type Document, isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { configJsonSchema } from './json-schema.js';

/**
 * Where a problem is in tier4.yaml, and what a mistyped setting probably meant. Only used once validation
 * has failed, so the schema walk costs nothing on the usual path.
 */
export interface IssueLocator {
  /** "line 12" for the setting at the path (the key itself for an unknown key), or undefined. */
  lineOf(path: ReadonlyArray<PropertyKey>, unknownKey?: string): string | undefined;
  /** The known setting closest to an unknown key at that path, when it is close enough to be a typo. */
  suggestion(path: ReadonlyArray<PropertyKey>, unknownKey: string): string | undefined;
}

export function issueLocator(text: string): IssueLocator {
  const lineCounter = new LineCounter();
  const document: Document = parseDocument(text, { lineCounter });
  let schema: JsonSchema | undefined;
  return {
    lineOf(path, unknownKey) {
      const keys = path.map(String);
      let offset: number | undefined;
      if (unknownKey !== undefined) {
        const parent = keys.length === 0 ? document.contents : document.getIn(keys, true);
        if (isMap(parent)) {
          const pair = parent.items.find(
            (item) => isScalar(item.key) && String(item.key.value) === unknownKey,
          );
          if (pair && isScalar(pair.key)) offset = pair.key.range?.[0];
        }
      } else {
        for (let depth = keys.length; depth > 0 && offset === undefined; depth--) {
          // A missing setting has no line: point at the nearest parent that exists.
          const node = document.getIn(keys.slice(0, depth), true) as
            | { range?: [number, number, number] }
            | undefined;
          offset = node?.range?.[0];
        }
      }
      return offset === undefined ? undefined : `line ${lineCounter.linePos(offset).line}`;
    },
    suggestion(path, unknownKey) {
      schema ??= configJsonSchema() as JsonSchema;
      const known = propertiesAt(schema, path.map(String));
      let best: { name: string; distance: number } | undefined;
      for (const name of known) {
        const distance = editDistance(unknownKey.toLowerCase(), name.toLowerCase());
        if (!best || distance < best.distance) best = { name, distance };
      }
      // Close enough to be a typo: a third of the word, at least one edit.
      return best && best.distance <= Math.max(1, Math.floor(unknownKey.length / 3)) ? best.name : undefined;
    },
  };
}

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

/** The setting names allowed at a path, following maps (additionalProperties) and alternatives (anyOf). */
function propertiesAt(schema: JsonSchema, path: string[]): string[] {
  let current: JsonSchema[] = [schema];
  for (const key of path) {
    current = current.flatMap(branches).flatMap((node) => {
      const named = node.properties?.[key];
      if (named) return [named];
      return typeof node.additionalProperties === 'object' ? [node.additionalProperties] : [];
    });
  }
  return [...new Set(current.flatMap(branches).flatMap((node) => Object.keys(node.properties ?? {})))];
}

function branches(node: JsonSchema): JsonSchema[] {
  const alternatives = [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])];
  return alternatives.length > 0 ? [node, ...alternatives.flatMap(branches)] : [node];
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length]!;
}
