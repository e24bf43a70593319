import type { Command } from 'commander';
import type { Registrar } from '../program.js';
import { registerPending } from './pending.js';

export function registerBackup(program: Command, registrar: Registrar): void {
  registerPending(program, registrar, 'backup', 'Encrypted, verifiable, incremental backups of a site', 3);
}

export function registerRestore(program: Command, registrar: Registrar): void {
  registerPending(
    program,
    registrar,
    'restore',
    'Restore a backup set into a database and attachment store',
    3,
  );
}
