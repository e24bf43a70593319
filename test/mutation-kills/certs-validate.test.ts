import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { trustAnchors } from '../../certs/certificate.js';
import { checkNewPair } from '../../certs/validate.js';
import { createRootCa, type Issuer, issueLeaf, type TestPair } from '../support/certs-factory.js';
import { opensslSelfSigned } from '../support/certs-openssl.js';

// checkNewPair (certs/validate.ts), the gate before any certificate is installed: the exact list of problems,
// at and around each time boundary, with certificates made by openssl and by the test CA.

const HOST = 'primero.test';
const DAY = 86_400_000;

let root: Issuer;
let good: TestPair;
let noEku: TestPair;
let anyEku: TestPair;
let clientAndCode: TestPair;
let clientOnly: TestPair;
let twoNames: TestPair;

beforeAll(async () => {
  root = await createRootCa('Tier4 Validate Root');
  good = await issueLeaf(root, { names: [HOST], notAfterDays: 90 });
  clientOnly = await issueLeaf(root, { names: [HOST], purpose: 'clientAuth' });
  twoNames = await issueLeaf(root, { names: ['a.test', 'b.test'] });
  noEku = await opensslSelfSigned(HOST, [`subjectAltName=DNS:${HOST}`]);
  anyEku = await opensslSelfSigned(HOST, [
    `subjectAltName=DNS:${HOST}`,
    'extendedKeyUsage=anyExtendedKeyUsage',
  ]);
  clientAndCode = await opensslSelfSigned(HOST, [
    `subjectAltName=DNS:${HOST}`,
    'extendedKeyUsage=clientAuth,codeSigning',
  ]);
});

const validity = (pair: TestPair) => {
  const leaf = new X509Certificate(pair.leaf);
  return { from: new Date(leaf.validFrom).getTime(), to: new Date(leaf.validTo).getTime() };
};

const policy = (now: number, failDays = 14, names = [HOST]) => ({
  names,
  anchors: trustAnchors(root.pem),
  failDays,
  now: new Date(now),
});

describe('checkNewPair: time', () => {
  test('valid from its notBefore on, not a millisecond earlier', () => {
    const { from } = validity(good);
    expect(checkNewPair(good, policy(from)).problems).toEqual([]);
    const early = checkNewPair(good, policy(from - 1));
    expect(early.problems).toEqual([`it is not valid before ${early.info.notBefore}`]);
    expect(early.info.notBefore).toBe(new Date(from).toISOString());
  });

  test('refused at its notAfter (expired), and with exactly failDays left; accepted a millisecond before that', () => {
    const { to } = validity(good);
    const expired = checkNewPair(good, policy(to));
    expect(expired.problems).toEqual([`it expired on ${new Date(to).toISOString()}`]);
    expect(checkNewPair(good, policy(to + DAY)).problems).toEqual([
      `it expired on ${new Date(to).toISOString()}`,
    ]);
    // A millisecond before notAfter it has not expired, but 0 days are left: not more than failDays.
    expect(checkNewPair(good, policy(to - 1)).problems).toEqual([
      'it expires in 0 days, not more than failDays (14)',
    ]);
    expect(checkNewPair(good, policy(to - 14 * DAY)).problems).toEqual([
      'it expires in 14 days, not more than failDays (14)',
    ]);
    expect(checkNewPair(good, policy(to - 14 * DAY - 1)).problems).toEqual([]);
    // failDays 0: only expiry counts.
    expect(checkNewPair(good, policy(to - 1, 0)).problems).toEqual([]);
  });
});

describe('checkNewPair: names, purpose, labels', () => {
  test('the SANs it has and every name it misses are listed', () => {
    const { from } = validity(twoNames);
    expect(checkNewPair(twoNames, policy(from, 14, [HOST, 'www.primero.test', 'a.test'])).problems).toEqual([
      'its subject alternative names (a.test, b.test) do not cover primero.test, www.primero.test',
    ]);
  });

  test('an extended key usage without serverAuth is refused; none at all, or anyExtendedKeyUsage, is accepted', () => {
    const { from } = validity(clientOnly);
    expect(checkNewPair(clientOnly, policy(from)).problems).toEqual([
      'its extended key usage (1.3.6.1.5.5.7.3.2) lacks serverAuth: it is not a server certificate',
    ]);
    const twoPurposes = {
      names: [HOST],
      anchors: trustAnchors(clientAndCode.cert),
      failDays: 14,
      now: new Date(validity(clientAndCode).from),
    };
    expect(checkNewPair(clientAndCode, twoPurposes).problems).toEqual([
      'its extended key usage (1.3.6.1.5.5.7.3.2, 1.3.6.1.5.5.7.3.3) lacks serverAuth: it is not a server certificate',
    ]);
    for (const pair of [noEku, anyEku]) {
      const selfSigned = {
        names: [HOST],
        anchors: trustAnchors(pair.cert),
        failDays: 14,
        now: new Date(validity(pair).from),
      };
      expect(checkNewPair(pair, selfSigned).problems).toEqual([]);
    }
  });

  test('problems come in order: key, chain, names, time, purpose', async () => {
    const other = await issueLeaf(root, { names: ['x.test'], purpose: 'clientAuth', notAfterDays: 5 });
    const check = checkNewPair(
      { cert: other.cert, key: good.key },
      {
        names: [HOST],
        anchors: trustAnchors(),
        failDays: 14,
        now: new Date(validity(other).to - 5 * DAY - 1000),
      },
    );
    expect(check.problems).toEqual([
      'the key does not belong to the certificate',
      'the chain does not reach a trusted CA: the issuer of "CN=x.test" ("CN=Tier4 Validate Root") is neither in the chain nor a trusted CA',
      'its subject alternative names (x.test) do not cover primero.test',
      `it expires in 5 days, not more than failDays (14)`,
      'its extended key usage (1.3.6.1.5.5.7.3.2) lacks serverAuth: it is not a server certificate',
    ]);
  });

  test('without labels, errors name "the certificate file" and "the key file"', () => {
    const now = validity(good).from;
    expect(() => checkNewPair({ cert: 'nonsense', key: good.key }, policy(now))).toThrow(
      'the certificate file holds no PEM certificate.',
    );
    expect(() => checkNewPair({ cert: good.cert, key: 'nonsense' }, policy(now))).toThrow(
      'the key file is not a PEM private key.',
    );
    expect(() =>
      checkNewPair({ cert: good.cert, key: 'nonsense' }, policy(now), { cert: 'new.crt', key: 'new.key' }),
    ).toThrow('new.key is not a PEM private key.');
  });

  test('without `now`, the current time decides', () => {
    const { to } = validity(good);
    expect(
      checkNewPair(good, { names: [HOST], anchors: trustAnchors(root.pem), failDays: 14 }).problems,
    ).toEqual([]);
    const daysLeft = Math.floor((to - Date.now()) / DAY);
    expect(
      checkNewPair(good, { names: [HOST], anchors: trustAnchors(root.pem), failDays: 200 }).problems,
    ).toEqual([`it expires in ${daysLeft} days, not more than failDays (200)`]);
  });
});
