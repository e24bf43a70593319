import type { Command } from 'commander';
import type { Registrar } from '../program.js';
import { registerPending } from './pending.js';

export function registerPromote(program: Command, registrar: Registrar): void {
  registerPending(
    program,
    registrar,
    'promote',
    'Promote configuration from demo to production, with a diff and rollback',
    8,
  );
}
