// The reference side of pow_conformance_test.go. Reads a JSON request on
// stdin, answers JSON on stdout:
//
//   in:  {key, ours: [challenge JSON issued by our Go code]}
//   out: {ours:   [{payload, verified}]  // solved by altcha-lib's solver, verified by altcha-lib
//         theirs: [{name, payload, verified}]}  // created by altcha-lib, with altcha-lib's verdict
//
// Payloads are what the altcha widget submits: base64(JSON{algorithm,
// challenge, number, salt, signature, took}).
import { createChallenge, solveChallenge, verifySolution } from 'altcha-lib/v1';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (c) => (data += c));
  process.stdin.on('end', () => resolve(data));
}));
const key = input.key;

const encode = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64');

async function solve(challenge) {
  const { promise } = solveChallenge(challenge.challenge, challenge.salt, challenge.algorithm, challenge.maxnumber);
  const solution = await promise;
  if (!solution) throw new Error('altcha-lib found no solution for ' + JSON.stringify(challenge));
  return {
    algorithm: challenge.algorithm,
    challenge: challenge.challenge,
    number: solution.number,
    salt: challenge.salt,
    signature: challenge.signature,
    took: solution.took,
  };
}

async function entry(name, payloadObj, b64 = encode(payloadObj)) {
  return { name, payload: b64, verified: await verifySolution(b64, key) };
}

const ours = [];
for (const c of input.ours) {
  const payload = encode(await solve(c));
  ours.push({ payload, verified: await verifySolution(payload, key) });
}

const hour = 3600 * 1000;
const theirs = [];
const live = await createChallenge({ hmacKey: key, maxnumber: 2000, expires: new Date(Date.now() + hour), params: { collection: 'abc' } });
const good = await solve(live);
theirs.push(await entry('valid, with expiry and params', good));
theirs.push(await entry('valid, no parameters', await solve(await createChallenge({ hmacKey: key, maxnumber: 2000 }))));
theirs.push(await entry('valid, number 0', await solve(await createChallenge({ hmacKey: key, maxnumber: 2000, number: 0 }))));
theirs.push(await entry('expired', await solve(await createChallenge({ hmacKey: key, maxnumber: 2000, expires: new Date(Date.now() - hour) }))));
theirs.push(await entry('other key', await solve(await createChallenge({ hmacKey: key + 'x', maxnumber: 2000 }))));
theirs.push(await entry('wrong number', { ...good, number: good.number + 1 }));
theirs.push(await entry('number as string', { ...good, number: String(good.number) }));
theirs.push(await entry('tampered signature', { ...good, signature: good.signature.replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
theirs.push(await entry('tampered challenge', { ...good, challenge: good.challenge.replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
theirs.push(await entry('tampered salt (expiry moved)', { ...good, salt: good.salt.replace(/expires=(\d+)/, (_, n) => 'expires=' + (Number(n) + 1)) }));
theirs.push(await entry('uppercase signature', { ...good, signature: good.signature.toUpperCase() }));
theirs.push(await entry('unsupported algorithm', { ...good, algorithm: 'SHA-1' }));
theirs.push(await entry('not base64', null, '%%%not-base64%%%'));
theirs.push(await entry('not JSON', null, Buffer.from('{nope').toString('base64')));

process.stdout.write(JSON.stringify({ ours, theirs }));
