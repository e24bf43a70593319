import { UsageError } from '../errors.js';
import { resolveSecret } from '../secrets.js';
import type { BackupsConfig } from './schema.js';

/**
 * The recipients printed in examples/tier4.example.yaml. Their identities are not secret to anyone who wrote the
 * example, and no one keeps them: sets encrypted to them alone could be read by the wrong people or by no one.
 */
const EXAMPLE_RECIPIENTS = new Set([
  'age12ua8xs7zn4mcuf6za0nus29ttg47j8wnz84frqxgrnm07gtq2e6qdk3mhd',
  'age19ew6c40z6jysldyyf47cquz2v9336krlg8q2xzj9clmryemgrfds0kjy6v',
]);

/**
 * What is wrong with a site's recipients, or undefined: the example's placeholders, or a configured identity
 * (when it can be read here) that matches none of them, so the sets could not be restored with it.
 */
export async function recipientProblem(
  site: string,
  backups: BackupsConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const placeholders = backups.encryption.recipients.filter((r) => EXAMPLE_RECIPIENTS.has(r));
  if (placeholders.length > 0) {
    return `sites.${site}.backups.encryption.recipients holds the example's placeholder ${placeholders[0]}: replace it with your own (age-keygen, or tier4 backup keygen)`;
  }
  const ref = backups.encryption.identity;
  if (!ref) return undefined;
  let identities: string[];
  try {
    identities = parseIdentities(resolveSecret(ref, env));
  } catch {
    return undefined; // not readable here (the backup job has no identity): checked where it is used
  }
  const { identityToRecipient } = await import('age-encryption');
  const own = await Promise.all(identities.map((identity) => identityToRecipient(identity)));
  if (!own.some((recipient) => backups.encryption.recipients.includes(recipient))) {
    return `the identity in sites.${site}.backups.encryption.identity matches none of the recipients: backups encrypted now could not be restored with it`;
  }
  return undefined;
}

/** The AGE-SECRET-KEY-1… lines of an age identity file (comments and blank lines skipped). */
export function parseIdentities(text: string): string[] {
  const identities = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (identities.length === 0 || identities.some((line) => !/^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/.test(line))) {
    throw new UsageError(
      'The age identity is not valid: expected one AGE-SECRET-KEY-1… line per identity.',
      'Point backups.encryption.identity at the file `age-keygen` wrote.',
    );
  }
  return identities;
}
