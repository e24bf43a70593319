export { drillJUnit, drillMarkdown, recoveryLine, wasRestored } from './render.js';
export type { DrillCheck, DrillReport } from './report.js';
export { type DrillOptions, runDrill } from './run.js';
export {
  type DrillHistoryEntry,
  drillHistory,
  lastPassedDrill,
  saveDrillSummary,
  writeDrillReports,
} from './store.js';
