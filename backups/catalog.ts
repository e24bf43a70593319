import { layout, SET_ID_PATTERN, setIdTime } from './layout.js';
import { type Manifest, openManifest } from './manifest.js';
import type { ObjectStore } from './store/types.js';
import { openVerification, type Verification } from './verification-record.js';

export type { Verification };

export interface CatalogEntry {
  id: string;
  time: Date;
  /** Every object key stored under this set's folder. */
  objects: string[];
  manifest?: Manifest;
  /** Why the manifest is missing or not trusted. */
  problem?: string;
  /**
   * For an untrusted manifest: the blob objects it names, read without trusting it, so that prune never
   * deletes what it may need (a rotated or mistyped key makes every set untrusted). Undefined when the
   * manifest is too damaged to tell.
   */
  references?: string[];
  lastVerified?: Verification;
}

export interface Catalog {
  /** Sets with a complete, authentic manifest, oldest first. */
  complete: CatalogEntry[];
  /** Folders without a manifest (interrupted or in progress): these sets do not exist. */
  incomplete: CatalogEntry[];
  /** Manifests that fail to parse or fail their MAC. */
  invalid: CatalogEntry[];
  /** Things read and ignored (a verification record that fails its MAC…), each naming its object. */
  warnings: string[];
}

/** `state` is where verification records live (backups.stateRepository); by default the repository. */
export async function readCatalog(
  store: ObjectStore,
  site: string,
  macKeys: readonly Buffer[],
  state: ObjectStore = store,
): Promise<Catalog> {
  const prefix = layout.setsPrefix(site);
  const byId = new Map<string, string[]>();
  const odd = new Set<string>();
  const linked = new Set<string>();
  for await (const object of store.list(prefix)) {
    const id = object.key.slice(prefix.length).split('/')[0] ?? '';
    if (!SET_ID_PATTERN.test(id)) {
      odd.add(id);
      continue;
    }
    if (object.symlink) linked.add(object.key);
    const objects = byId.get(id) ?? [];
    objects.push(object.key);
    byId.set(id, objects);
  }
  const catalog: Catalog = { complete: [], incomplete: [], invalid: [], warnings: [] };
  for (const name of odd)
    catalog.warnings.push(
      `${prefix}${name} is not a backup set (not a set id): left alone; find out what put it there`,
    );
  // Verification records kept apart from the repository, by set id.
  let recordsIn: Map<string, string[]> | undefined;
  if (state !== store) {
    recordsIn = new Map();
    for await (const object of state.list(prefix)) {
      const id = object.key.slice(prefix.length).split('/')[0] ?? '';
      recordsIn.set(id, [...(recordsIn.get(id) ?? []), object.key]);
    }
  }
  const byTime = (a: string, b: string) =>
    setIdTime(a).getTime() - setIdTime(b).getTime() || (a < b ? -1 : a > b ? 1 : 0);
  for (const id of [...byId.keys()].sort(byTime)) {
    const objects = byId.get(id)!;
    const entry: CatalogEntry = { id, time: setIdTime(id), objects };
    const links = objects.filter((key) => linked.has(key));
    if (links.length > 0) {
      // Never followed: a link may point anywhere. Kept out of prune's reach (not incomplete) and reported.
      entry.problem = `${links.join(', ')} is a symbolic link, not a stored object`;
      catalog.invalid.push(entry);
      catalog.warnings.push(`set ${id}: ${entry.problem}; the set is not trusted`);
      continue;
    }
    if (!objects.includes(layout.manifest(site, id))) {
      entry.problem = 'no manifest: interrupted or still running';
      catalog.incomplete.push(entry);
      continue;
    }
    const bytes = await store.getBytes(layout.manifest(site, id));
    const opened = bytes
      ? openManifest(bytes, macKeys, id)
      : { ok: false as const, reason: 'manifest vanished' };
    if (!opened.ok) {
      entry.problem = opened.reason;
      const references = bytes ? untrustedReferences(bytes) : undefined;
      if (references) entry.references = references;
      catalog.invalid.push(entry);
      continue;
    }
    entry.manifest = opened.manifest;
    const verifications = (recordsIn ? (recordsIn.get(id) ?? []) : objects)
      .filter((key) => key.startsWith(`${layout.setPrefix(site, id)}verified/`))
      .sort();
    // The newest record that is authentic; any other is ignored, loudly.
    for (const key of verifications.reverse()) {
      const record = await (recordsIn ? state : store).getBytes(key);
      if (!record) continue;
      const opened = openVerification(record, macKeys, id);
      if (opened.ok) {
        entry.lastVerified = opened.verification;
        break;
      }
      catalog.warnings.push(`ignored verification record ${key}: ${opened.reason}`);
    }
    catalog.complete.push(entry);
  }
  return catalog;
}

/** The blob objects a manifest names, without trusting it: undefined when it cannot be read that far. */
function untrustedReferences(bytes: Buffer): string[] | undefined {
  try {
    const blobs = (JSON.parse(bytes.toString('utf8')) as { attachments?: { blobs?: unknown } }).attachments
      ?.blobs;
    if (!Array.isArray(blobs)) return undefined;
    const objects = blobs.map((blob) => (blob as { object?: unknown })?.object);
    return objects.every((object) => typeof object === 'string') ? (objects as string[]) : undefined;
  } catch {
    return undefined;
  }
}
