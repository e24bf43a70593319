/**
 * Certificates' public surface, for the CLI and the doctor: status, CSRs, rotation and client
 * certificates. Other areas import this file, never the modules behind it (test/architecture.test.ts).
 */
export * from './client.js';
export * from './csr.js';
export * from './rotate.js';
export * from './status.js';
