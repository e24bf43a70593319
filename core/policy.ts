import type { CheckStatus } from './checks.js';

/**
 * The one shape of a policy rule, for the chart's rendered manifests (charts/primero/policy.ts) and the
 * Azure stack's synthesized Terraform JSON (stacks/azure-demo/policy.ts): pure functions over plain data.
 */

/** One thing a rule found wrong. */
export interface PolicyFinding {
  /** The rule's id. */
  rule: string;
  /** What is wrong: `Kind/name` of a manifest, or `type.name` of a Terraform resource. */
  object: string;
  message: string;
}

export interface PolicyRule<Input, Context = undefined> {
  id: string;
  /** What the rule asks for, in a line. */
  title: string;
  /** The status of a rule that finds something: every rule today fails the render or synth. */
  severity: Extract<CheckStatus, 'fail' | 'warn'>;
  /** Everything the rule finds wrong; empty when the input satisfies it. */
  check(input: Input, context: Context): PolicyFinding[];
}

/** A rule's verdict: `ok`, its severity, or `warn` when a failure is waived (with the operator's reason). */
export interface RuleOutcome {
  rule: string;
  title: string;
  status: CheckStatus;
  findings: PolicyFinding[];
  /** Why the operator accepted the failure. */
  reason?: string;
}

export interface Waiver {
  rule: string;
  reason: string;
}

/** Runs every rule. A failing rule that is waived is reported as `warn`, with its reason. */
export function evaluateRules<Input, Context>(
  rules: ReadonlyArray<PolicyRule<Input, Context>>,
  input: Input,
  context: Context,
  waivers: ReadonlyArray<Waiver> = [],
): RuleOutcome[] {
  return rules.map((rule): RuleOutcome => {
    const findings = rule.check(input, context);
    const outcome = { rule: rule.id, title: rule.title, findings };
    if (findings.length === 0) return { ...outcome, status: 'ok' };
    const waiver = waivers.find((w) => w.rule === rule.id);
    return waiver
      ? { ...outcome, status: 'warn', reason: waiver.reason }
      : { ...outcome, status: rule.severity };
  });
}
