/** The doctor's public surface, for the CLI and the rehearsal (test/architecture.test.ts). */
export { doctorDownMetrics, EXPOSITION_CONTENT_TYPE, type Metric, prometheusText } from './prometheus.js';
export type { DoctorCheck, DoctorOptions, DoctorReport, DoctorStatus, SiteFindings } from './run.js';
export { runDoctor } from './run.js';
export { type Exporter, type ExporterOptions, parseListen, startExporter } from './serve.js';
export { doctorSnapshot } from './snapshot.js';
