import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { REPO_ROOT } from './cli.js';

export const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');

/**
 * A recipient of the tests' own (made with age-keygen; its identity was thrown away): what an operator puts in
 * place of the example's placeholders, which `config validate`, `backup create` and doctor refuse.
 */
export const OWN_RECIPIENT = 'age1lnr9qkwc6wltt25vmfamug0a2wcqzpvtggd8hh22h6a336hxgcrq8qsvme';

type Doc = ReturnType<typeof parseDocument>;

/** Replaces every site's backup recipients with OWN_RECIPIENT. */
export function withOwnRecipients(doc: Doc): void {
  const sites = doc.getIn(['sites']) as { items: Array<{ key: { value: string } }> };
  for (const { key } of sites.items) {
    if (doc.hasIn(['sites', key.value, 'backups', 'encryption', 'recipients']))
      doc.setIn(['sites', key.value, 'backups', 'encryption', 'recipients'], doc.createNode([OWN_RECIPIENT]));
  }
}

/** The example as a new deployment would write it (own recipients), with an optional edit, in a temp file. */
export function ownExample(edit: (doc: Doc) => void = () => undefined): string {
  const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
  withOwnRecipients(doc);
  edit(doc);
  const dir = mkdtempSync(join(tmpdir(), 'tier4-example-'));
  writeFileSync(join(dir, 'tier4.yaml'), doc.toString());
  return join(dir, 'tier4.yaml');
}
