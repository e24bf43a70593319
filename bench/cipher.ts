/**
 * The age payload cipher alone: tier4's native ChaCha20-Poly1305 (backups/crypto/age-format.ts) against the
 * age-encryption package's pure-JS one, same data, same run. BENCH_CIPHER_MIB (default 256) of plaintext.
 * Run with `npm run bench:cipher`.
 */
import { Readable } from 'node:stream';
import { Encrypter } from 'age-encryption';
import { encryptStream, generateIdentity } from '../backups/crypto/age.js';

const mib = Number(process.env.BENCH_CIPHER_MIB ?? 256);
const block = Buffer.alloc(1 << 20, 7);

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main(): Promise<void> {
  const { recipient } = await generateIdentity();
  const native = await seconds(async () => {
    const plain = Readable.from(
      (function* () {
        for (let i = 0; i < mib; i++) yield block;
      })(),
      { objectMode: false },
    );
    for await (const _ of await encryptStream(plain, [recipient]));
  });
  const pkg = await seconds(async () => {
    const encrypter = new Encrypter();
    encrypter.addRecipient(recipient);
    let sent = 0;
    const plain = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < mib) controller.enqueue(new Uint8Array(block));
        else controller.close();
      },
    });
    const reader = (await encrypter.encrypt(plain)).getReader();
    while (!(await reader.read()).done);
  });
  const line = (name: string, s: number) =>
    `${name.padEnd(28)} ${s.toFixed(2)} s  ${(mib / s).toFixed(0)} MiB/s`;
  process.stdout.write(
    `age encryption of ${mib} MiB\n${line('native (node:crypto)', native)}\n${line('age-encryption (pure JS)', pkg)}\nratio native/package: ${(native / pkg).toFixed(3)}x\n`,
  );
}

await main();
