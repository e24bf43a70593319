import type { Command } from 'commander';
import type { Registrar } from '../program.js';
import { registerPending } from './pending.js';

export function registerRunbook(program: Command, registrar: Registrar): void {
  registerPending(program, registrar, 'runbook', 'The operating procedures, in the terminal', 9);
}
