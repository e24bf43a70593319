import type { LiveConfiguration } from '../../primero-api/live-configuration.js';

/** A site's live configuration as the read APIs would give it: the models named, every other one empty. */
export function live(models: Partial<LiveConfiguration['models']>): LiveConfiguration {
  return {
    site: 'x',
    models: {
      FormSection: [],
      Lookup: [],
      Agency: [],
      Role: [],
      UserGroup: [],
      Report: [],
      ContactInformation: [],
      ...models,
    },
  };
}
