// Loaded with `node --import`: records every module URL the process resolves, into $TIER4_IMPORT_LOG.
import { register } from 'node:module';

register('./record-imports-hooks.mjs', import.meta.url);
