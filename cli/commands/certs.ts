import type { Command } from 'commander';
import type { Registrar } from '../program.js';
import { registerPending } from './pending.js';

export function registerCerts(program: Command, registrar: Registrar): void {
  registerPending(
    program,
    registrar,
    'certs',
    'Certificate expiry, CSRs, rotation and client certificates',
    7,
  );
}
