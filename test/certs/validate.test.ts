import { beforeAll, describe, expect, test } from 'vitest';
import { checkChain, parsePemCertificates, trustAnchors } from '../../certs/certificate.js';
import { checkNewPair } from '../../certs/validate.js';
import {
  createIntermediate,
  createRootCa,
  type Issuer,
  issueLeaf,
  type TestPair,
} from '../support/certs-factory.js';

const HOST = 'primero.test';

let root: Issuer;
let intermediate: Issuer;
let good: TestPair;

beforeAll(async () => {
  root = await createRootCa('Tier4 Test Root');
  intermediate = await createIntermediate(root, 'Tier4 Test Issuing CA');
  good = await issueLeaf(intermediate, { names: [HOST, 'www.primero.test'], notAfterDays: 90 });
});

function policy(
  overrides: { anchors?: ReturnType<typeof trustAnchors>; names?: string[]; failDays?: number } = {},
) {
  return {
    names: overrides.names ?? [HOST],
    anchors: overrides.anchors ?? trustAnchors(root.pem),
    failDays: overrides.failDays ?? 14,
  };
}

describe('a new certificate is checked before it is installed', () => {
  test('a good pair passes, and is described', () => {
    const check = checkNewPair(good, policy());
    expect(check.problems).toEqual([]);
    expect(check.info.sans).toEqual([HOST, 'www.primero.test']);
    expect(check.info.keyType).toBe('EC prime256v1');
    expect(check.info.keySize).toBe(256);
    expect(check.info.chain).toMatchObject({ complete: true, trusted: true, anchor: 'CN=Tier4 Test Root' });
    expect(check.info.daysLeft).toBeGreaterThanOrEqual(89);
    expect(check.info.sha1).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
  });

  test('a key that is not the certificate’s is refused', async () => {
    const other = await issueLeaf(intermediate, { names: [HOST] });
    const check = checkNewPair({ cert: good.cert, key: other.key }, policy());
    expect(check.problems).toContain('the key does not belong to the certificate');
  });

  test('an expired certificate is refused', async () => {
    const expired = await issueLeaf(intermediate, { names: [HOST], notBeforeDays: -100, notAfterDays: -2 });
    expect(checkNewPair(expired, policy()).problems.join()).toMatch(/expired on/);
  });

  test('one with too few days left is refused, and the threshold is the configured failDays', async () => {
    const short = await issueLeaf(intermediate, { names: [HOST], notAfterDays: 10 });
    expect(checkNewPair(short, policy({ failDays: 14 })).problems.join()).toMatch(
      /not more than failDays \(14\)/,
    );
    expect(checkNewPair(short, policy({ failDays: 5 })).problems).toEqual([]);
  });

  test('a certificate that does not name the host is refused', async () => {
    const other = await issueLeaf(intermediate, { names: ['elsewhere.test'] });
    expect(checkNewPair(other, policy()).problems.join()).toMatch(/do not cover primero\.test/);
    const noSan = await issueLeaf(intermediate, { names: [] });
    expect(checkNewPair(noSan, policy()).problems.join()).toMatch(/\(none\) do not cover primero\.test/);
    expect(checkNewPair(good, policy({ names: [HOST, 'api.primero.test'] })).problems.join()).toMatch(
      /do not cover api\.primero\.test/,
    );
  });

  test('a chain without its intermediate is refused', async () => {
    const bare = await issueLeaf(intermediate, { names: [HOST], omitChain: true });
    expect(checkNewPair(bare, policy()).problems.join()).toMatch(
      /chain does not reach a trusted CA: the issuer of "CN=primero.test" \("CN=Tier4 Test Issuing CA"\) is neither in the chain/,
    );
  });

  test('a chain to a CA that is not trusted is refused until tls.caFile names it', () => {
    // Without the root the chain cannot be told apart from one missing an intermediate: both are refused.
    expect(checkNewPair(good, policy({ anchors: trustAnchors() })).problems.join()).toMatch(
      /"CN=Tier4 Test Issuing CA" \("CN=Tier4 Test Root"\) is neither in the chain nor a trusted CA/,
    );
    const withRoot = { ...good, cert: `${good.cert}${root.pem}` };
    expect(checkNewPair(withRoot, policy({ anchors: trustAnchors() })).problems.join()).toMatch(
      /not trusted: the chain ends at the self-signed "CN=Tier4 Test Root"/,
    );
    expect(checkNewPair(good, policy({ anchors: trustAnchors(root.pem) })).problems).toEqual([]);
  });

  test('a weak RSA key is refused; RSA 2048 passes', async () => {
    const weak = await issueLeaf(intermediate, { names: [HOST], key: { rsa: 1024 } });
    expect(checkNewPair(weak, policy()).problems.join()).toMatch(/RSA 1024; at least RSA 2048/);
    const strong = await issueLeaf(intermediate, { names: [HOST], key: { rsa: 2048 } });
    expect(checkNewPair(strong, policy()).problems).toEqual([]);
  });

  test('a file that is not PEM is a usage error that does not echo the key', () => {
    expect(() => checkNewPair({ cert: 'nonsense', key: good.key }, policy())).toThrow(
      /holds no PEM certificate/,
    );
    let message = '';
    try {
      checkNewPair({ cert: good.cert, key: 'not a key at all' }, policy());
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/is not a PEM private key/);
    expect(message).not.toContain('not a key at all');
  });
});

describe('chain building', () => {
  test('a self-signed leaf is complete but untrusted', async () => {
    const chain = parsePemCertificates(root.pem, 'root');
    expect(checkChain(chain, trustAnchors())).toMatchObject({ complete: true, trusted: false });
    expect(checkChain(chain, trustAnchors(root.pem))).toMatchObject({ complete: true, trusted: true });
  });

  test('intermediates in the wrong order are still followed', () => {
    const [leaf, inter] = parsePemCertificates(good.cert, 'good');
    const shuffled = [leaf!, parsePemCertificates(root.pem, 'root')[0]!, inter!];
    expect(checkChain(shuffled, trustAnchors(root.pem))).toMatchObject({ complete: true, trusted: true });
  });
});
