// Reads a pb_auth cookie the way an app using the official SDK does, and
// writes one the way the SDK does. Used by anonauth's Go tests.
//
//   node cookie.cjs load '<Set-Cookie or Cookie header>' [key]  -> {"token", "recordId", "isAnonymous"}
//   node cookie.cjs export '<token>' '<record JSON>' [key]      -> the SDK's Set-Cookie header
//
// key is the cookie name (the SDK's default is "pb_auth"), as an app passes
// it for a custom anonauth Config.CookieName such as "__Host-pb_auth".
const { default: PocketBase, LocalAuthStore } = require('pocketbase');

const [mode, a, b, c] = process.argv.slice(2);
const pb = new PocketBase('http://127.0.0.1');

if (mode === 'load') {
  pb.authStore.loadFromCookie(a, b || undefined);
  const rec = pb.authStore.record || {};
  process.stdout.write(JSON.stringify({ token: pb.authStore.token, recordId: rec.id || '', isAnonymous: rec.isAnonymous === true }));
} else if (mode === 'export') {
  pb.authStore.save(a, JSON.parse(b));
  process.stdout.write(pb.authStore.exportToCookie({ secure: !!c }, c || undefined));
} else {
  process.stderr.write('usage: cookie.cjs load|export ...\n');
  process.exit(2);
}
