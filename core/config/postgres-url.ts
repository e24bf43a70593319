import { SSL_MODES } from '../postgres/tls.js';

/**
 * The one check of a postgres:// URL tier4 is given, in tier4.yaml or on a command line (`restore
 * --target-database`): what is wrong with it, empty when nothing is. A password never belongs in it (it
 * would end up in logs, audit records and process lists); `passwordGoes` says where it goes instead.
 */
export function postgresUrlProblems(
  text: string,
  options: { passwordGoes: string; database?: 'required' },
): string[] {
  if (!/^postgres(ql)?:\/\//.test(text)) return ['must be a postgres:// URL'];
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return ['is not a valid postgres:// URL'];
  }
  const problems: string[] = [];
  if (url.password !== '') problems.push(`must not contain a password; put it in ${options.passwordGoes}`);
  if (url.searchParams.has('password')) {
    problems.push(`must not carry a password parameter; put it in ${options.passwordGoes}`);
  }
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== null && !(SSL_MODES as readonly string[]).includes(sslmode)) {
    problems.push(`has sslmode ${sslmode}, which is not one of ${SSL_MODES.join(', ')}`);
  }
  if (url.username === '') problems.push('must name a user, like postgres://primero@host/db');
  if (options.database === 'required' && url.pathname.length < 2) {
    problems.push('must name a database, like postgres://primero@host:5432/restored');
  }
  return problems;
}
