import type { Command } from 'commander';
import type { Registrar } from '../program.js';
import { registerPending } from './pending.js';

export function registerDrill(program: Command, registrar: Registrar): void {
  registerPending(
    program,
    registrar,
    'drill',
    'Restore drills that prove a backup is complete and usable',
    4,
  );
}
