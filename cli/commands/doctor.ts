import type { Command } from 'commander';
import type { Registrar } from '../program.js';
import { registerPending } from './pending.js';

export function registerDoctor(program: Command, registrar: Registrar): void {
  registerPending(
    program,
    registrar,
    'doctor',
    'Are our sites safe? Backups, drills, certificates, drift',
    4,
  );
}
