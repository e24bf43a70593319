import type { Command } from 'commander';
import type { Registrar } from '../program.js';
import { registerPending } from './pending.js';

export function registerSite(program: Command, registrar: Registrar): void {
  registerPending(
    program,
    registrar,
    'site',
    'Synthesize, render, plan and deploy the demo and production sites',
    5,
  );
}
