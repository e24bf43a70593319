export * from './account.js';
export * from './client.js';
export * from './configurations.js';
export * from './from-site.js';
export * from './live-configuration.js';
export * from './version.js';
