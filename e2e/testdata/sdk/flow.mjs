// The guest lifecycle as an SPA or mobile client does it with the official
// SDK: sign in anonymously, use the records API, upgrade in place, merge a
// second guest into the account by signing in, and self-delete a third.
// Prints one JSON object of observations; e2e/sdk_test.go checks them.
//
//   node flow.mjs http://127.0.0.1:PORT
import PocketBase from 'pocketbase';

const url = process.argv[2];
const out = {};
const errStatus = async (fn) => {
  try { await fn(); return 0; } catch (e) { return e.status ?? -1; }
};
const signInGuest = async (pb) => {
  const auth = await pb.send('/api/collections/users/auth-anonymously', { method: 'POST' });
  pb.authStore.save(auth.token, auth.record);
  return auth;
};

// 1. A guest, refreshed, shopping through the records API.
const pb = new PocketBase(url);
const guest = await signInGuest(pb);
out.guestId = guest.record.id;
out.guestIsAnonymous = pb.authStore.record.isAnonymous;
out.authStoreValid = pb.authStore.isValid;
await pb.collection('users').authRefresh();
out.refreshSameId = pb.authStore.record.id === guest.record.id;

const product = (await pb.collection('products').getList(1, 1, { sort: 'price' })).items[0];
const item = await pb.collection('cart_items').create({ user: guest.record.id, product: product.id, quantity: 2 });
out.cartItemId = item.id;
out.guestPaymentStatus = await errStatus(() => pb.collection('payment_methods').create({
  user: guest.record.id, brand: 'visa', last4: '4242', expiry: '12/30' }));
out.forgeFlagStatus = await errStatus(() => pb.collection('users').update(guest.record.id, { isAnonymous: false }));

// 2. Upgrade in place: same id, fresh token (the old one died with the key rotation).
const email = `sdk-${Date.now()}@example.com`;
out.shortPasswordStatus = await errStatus(() => pb.send('/api/collections/users/upgrade-anonymous', {
  method: 'POST', body: { email, password: 'short', passwordConfirm: 'short' } }));
const oldToken = pb.authStore.token;
const up = await pb.send('/api/collections/users/upgrade-anonymous', {
  method: 'POST', body: { email, password: 'correct horse 1', passwordConfirm: 'correct horse 1' } });
pb.authStore.save(up.token, up.record);
out.upgradeSameId = up.record.id === guest.record.id;
out.upgradedIsAnonymous = up.record.isAnonymous;
out.upgradedEmail = up.record.email;
out.oldTokenStatus = await errStatus(() => new PocketBase(url).send('/api/collections/users/auth-refresh', {
  method: 'POST', headers: { Authorization: oldToken } }));
out.upgradeAgainStatus = await errStatus(() => pb.send('/api/collections/users/upgrade-anonymous', {
  method: 'POST', body: { email: 'x' + email, password: 'correct horse 1', passwordConfirm: 'correct horse 1' } }));
out.cartKept = (await pb.collection('cart_items').getFullList()).some((i) => i.id === item.id);
out.accountPaymentOk = (await errStatus(() => pb.collection('payment_methods').create({
  user: guest.record.id, brand: 'visa', last4: '4242', expiry: '12/30' }))) === 0;

// 3. A second visitor: a guest with a cart who then signs in to that account.
const pb2 = new PocketBase(url);
const guest2 = await signInGuest(pb2);
const item2 = await pb2.collection('cart_items').create({ user: guest2.record.id, product: product.id, quantity: 1 });
out.emailInUseStatus = await errStatus(() => pb2.send('/api/collections/users/upgrade-anonymous', {
  method: 'POST', body: { email, password: 'correct horse 2', passwordConfirm: 'correct horse 2' } }));
const signedIn = await pb2.collection('users').authWithPassword(email, 'correct horse 1');
out.mergeAccountId = signedIn.record.id;
out.mergedCart = (await pb2.collection('cart_items').getFullList()).map((i) => i.id).sort();
out.expectedMergedCart = [item.id, item2.id].sort();
out.guest2Id = guest2.record.id;

// 4. A third visitor deletes itself.
const pb3 = new PocketBase(url);
const guest3 = await signInGuest(pb3);
await pb3.send('/api/collections/users/delete-anonymous', { method: 'POST' });
out.guest3Id = guest3.record.id;
out.deletedRefreshStatus = await errStatus(() => pb3.collection('users').authRefresh());

process.stdout.write(JSON.stringify(out));
