// Loaded with `node --import`: writes the process's peak resident set size (KiB) to $TIER4_RSS_OUT at exit.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (process.env.TIER4_RSS_OUT)
    writeFileSync(process.env.TIER4_RSS_OUT, String(process.resourceUsage().maxRSS));
});
