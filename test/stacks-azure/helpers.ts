import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { REPO_ROOT } from '../support/cli.js';

export const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');
export const FIXTURE = join(REPO_ROOT, 'test', 'stacks-azure', 'fixtures', 'tier4.yaml');
/** The resources FIXTURE's demo site synthesizes to (test/stacks-azure/synthesized-fixture.test.ts). */
export const SYNTHESIZED = join(REPO_ROOT, 'test', 'stacks-azure', 'fixtures', 'synthesized-demo.json');

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tier4-azure-${label}-`));
}

/** The fixture with edits applied, written into its own temp folder (so cdktf.out/ lands there). */
export async function fixtureWith(
  edit: (doc: ReturnType<typeof parseDocument>) => void = () => {},
  source = FIXTURE,
): Promise<string> {
  const doc = parseDocument(await readFile(source, 'utf8'));
  edit(doc);
  const file = join(await tempDir('config'), 'tier4.yaml');
  await writeFile(file, doc.toString());
  return file;
}

/**
 * A stand-in for terraform: neither Terraform's registry nor Azure is reachable here. It behaves as the
 * real CLI does at its interface (exit codes of `plan -detailed-exitcode`, `output -json` shape), and
 * records each invocation (working directory and arguments) in calls.log.
 */
export async function fakeTerraform(options: { changes: boolean; planExit?: number }): Promise<{
  dir: string;
  log: string;
}> {
  const dir = await tempDir('fake-terraform');
  const log = join(dir, 'calls.log');
  const planExit = options.planExit ?? (options.changes ? 2 : 0);
  const script = `#!/bin/sh
echo "$(pwd) $*" >> '${log}'
case "$1" in
  init) echo "Terraform has been successfully initialized!" ;;
  plan)
    for arg in "$@"; do case "$arg" in -out=*) : > "\${arg#-out=}" ;; esac; done
    echo "Plan: 54 to add, 0 to change, 0 to destroy."
    exit ${planExit} ;;
  apply) echo "Apply complete!" ;;
  output) echo '{"aks_cluster_name":{"sensitive":false,"type":"string","value":"aks-test-cp-demo"},"tenant_id":{"sensitive":false,"type":"string","value":"00000000-0000-0000-0000-0000000000e1"},"workload_identity_client_id":{"sensitive":false,"type":"string","value":"00000000-0000-0000-0000-0000000000b1"},"cert_manager_identity_client_id":{"sensitive":false,"type":"string","value":"00000000-0000-0000-0000-0000000000c1"},"hidden":{"sensitive":true,"type":"string","value":"sensitive-value-never-printed"}}' ;;
  *) echo "unexpected command $1" >&2; exit 1 ;;
esac
`;
  await writeFile(join(dir, 'terraform'), script);
  await chmod(join(dir, 'terraform'), 0o755);
  return { dir, log };
}

export async function calls(log: string): Promise<string[]> {
  try {
    return (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** A Terraform interpolation, as cdktf writes references: ${address}. */
export function terraformRef(address: string): string {
  return '$' + `{${address}}`;
}
