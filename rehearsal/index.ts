/** The rehearsal's public surface, for the CLI (test/architecture.test.ts). */
export { type RehearsalOptions, type RehearsalResult, type RehearsalStep, rehearse } from './rehearse.js';
