// The HETS Desktop's acceptance scenarios in real headless Chromium (run by run.sh, which
// starts `hets serve --demo` and sets BASE, SCREENSHOTS and PERSONAS).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BASE = process.env.BASE ?? 'http://127.0.0.1:8080';
const SHOTS = process.env.SCREENSHOTS ?? 'ci-artifacts/screenshots';
const PERSONAS = process.env.PERSONAS ?? 'data/personas.toml';
const SUBMITTER_PASS = 'demo-desktop-pass';
const HELPDESK_PASS = 'demo-helpdesk-pass';
const PROVIDER_PASS = 'demo-provider-pass';

fs.mkdirSync(SHOTS, { recursive: true });
const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'hets-downloads-'));

// Debian's Chromium, never a downloaded one; the background-networking flags keep it from
// reaching for Google's hosts on this closed network. Playwright gives every launch a fresh,
// empty profile of its own (it refuses --user-data-dir here).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  downloadsPath: downloads,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

let failures = 0;
const started = Date.now();

async function scenario(name, f) {
  const t = Date.now();
  try {
    await f();
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failures += 1;
    console.log(`FAIL ${name}\n${e.stack ?? e}`);
  }
}

async function newPage() {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  return context.newPage();
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page, user, password) {
  await page.goto(`${BASE}/desktop/signin`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

/// The first value of `key` after the line `key = "<persona>"` in personas.toml.
function persona(key) {
  const text = fs.readFileSync(PERSONAS, 'utf8');
  const at = text.indexOf(`key = "${key}"`);
  assert.ok(at >= 0, `persona ${key} in ${PERSONAS}`);
  const rest = text.slice(at);
  const end = rest.indexOf('\n[[beneficiary]]', 1);
  const block = end > 0 ? rest.slice(0, end) : rest;
  const value = (k) => {
    const m = block.match(new RegExp(`^${k} = "([^"]*)"`, 'm'));
    assert.ok(m, `${k} of persona ${key}`);
    return m[1];
  };
  return {
    mbi: value('mbi'), last: value('last_name'), first: value('first_name'),
    dob: value('birth_date'), plan: value('plan_name'), contract: value('contract'),
  };
}

const today = new Date().toISOString().slice(0, 10);
const yyyymmdd = today.replaceAll('-', '');

// 1. Sign in, and the dashboard.
const sub = await newPage();
await scenario('a submitter user signs in and sees the dashboard', async () => {
  await signIn(sub, 'wdemo001', SUBMITTER_PASS);
  assert.match(sub.url(), /\/desktop\/s\/WDEMO001$/);
  await sub.getByRole('heading', { name: 'Dashboard · WDEMO001' }).waitFor();
  assert.equal(await sub.locator('#status').textContent(), 'active');
  await shot(sub, '01-dashboard');
});

// 2. Add, edit and delete a relationship; an invalid NPI refused with its message.
await scenario('add, edit and delete a relationship', async () => {
  const npi = '2298510209';
  await sub.goto(`${BASE}/desktop/s/WDEMO001/relationships`);
  await sub.getByLabel('NPI', { exact: false }).first().fill(npi);
  await sub.getByLabel('Effective date').fill('2026-01-01');
  await sub.getByRole('button', { name: 'Add relationship' }).click();
  await sub.getByText('The relationship was added.').waitFor();
  const row = sub.locator('#relationships tr', { hasText: npi });
  assert.match(await row.textContent(), /2026-01-01/);
  await shot(sub, '02-relationships');

  await sub.getByRole('link', { name: `Edit NPI ${npi}` }).click();
  await sub.getByLabel('End date').fill('2026-12-31');
  await sub.getByRole('button', { name: 'Save dates' }).click();
  await sub.getByText("The relationship's dates were changed.").waitFor();
  assert.match(await sub.locator('#relationships tr', { hasText: npi }).textContent(), /2026-12-31/);

  await sub.getByRole('link', { name: `Delete NPI ${npi}` }).click();
  await sub.getByText(`Delete the relationship between WDEMO001 and NPI ${npi}?`).waitFor();
  await shot(sub, '03-delete-confirm');
  await sub.getByRole('button', { name: 'Delete' }).click();
  await sub.getByText('The relationship was deleted.').waitFor();
  assert.equal(await sub.locator('#relationships tr', { hasText: npi }).count(), 0);
});

await scenario('an invalid NPI is refused with its message next to the field', async () => {
  await sub.goto(`${BASE}/desktop/s/WDEMO001/relationships`);
  await sub.locator('#npi').fill('1125213723');
  await sub.getByLabel('Effective date').fill('2026-01-01');
  await sub.getByRole('button', { name: 'Add relationship' }).click();
  const err = sub.locator('#npi-error');
  await err.waitFor();
  assert.equal(await err.textContent(), 'NPI 1125213723 is not valid: its check digit is wrong');
  assert.equal(await sub.locator('#npi').getAttribute('aria-invalid'), 'true');
  await shot(sub, '04-invalid-npi');
});

// 3. HDT Batch: good and bad rows, and the result file downloaded.
await scenario('an HDT Batch upload with good and bad rows, and its result file', async () => {
  await sub.goto(`${BASE}/desktop/s/WDEMO001/batch`);
  assert.match(await sub.locator('#convention').textContent(), /\{ID\}_HDTB_\{YYYYMMDD\}_\{NNN\}\.csv/);
  const name = `WDEMO001_HDTB_${yyyymmdd}_001.csv`;
  const csv = [
    'action,npi,effective_date,end_date',
    'ADD,2298510209,2026-01-01,',
    'ADD,1125213723,2026-01-01,',
    'ADD,1125213722,2026-01-01,',
    'EDIT,1497429880,2025-01-01,2026-12-31',
    'DELETE,2298510209,,',
    'ADD,1693898789,2026-01-01,',
  ].join('\n') + '\n';
  await sub.locator('#file').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await sub.getByRole('button', { name: 'Upload' }).click();
  await sub.locator('#batch-summary').waitFor();
  assert.match(await sub.locator('#batch-summary').textContent(), /2 accepted, 4 rejected/);
  await shot(sub, '05-batch-result');
  const [download] = await Promise.all([sub.waitForEvent('download'), sub.locator('#result-link').click()]);
  assert.equal(download.suggestedFilename(), `WDEMO001_HDTB_${yyyymmdd}_001_RESULTS.csv`);
  const got = fs.readFileSync(await download.path(), 'utf8');
  const expected = [
    'action,npi,effective_date,end_date,status,reason',
    'ADD,2298510209,2026-01-01,,ACCEPTED,',
    'ADD,1125213723,2026-01-01,,REJECTED,NPI 1125213723 is not valid: its check digit is wrong',
    'ADD,1125213722,2026-01-01,,REJECTED,a relationship with NPI 1125213722 exists already: use EDIT',
    'EDIT,1497429880,2025-01-01,2026-12-31,ACCEPTED,',
    'DELETE,2298510209,,,REJECTED,duplicate: NPI 2298510209 is on an earlier row of this file (line 2)',
    'ADD,1693898789,2026-01-01,,REJECTED,NPI 1693898789 is not enrolled in Medicare',
  ].join('\r\n') + '\r\n';
  assert.equal(got, expected);

  // The result is kept: listed under the latest uploads on a fresh visit, and downloadable
  // from there too.
  await sub.goto(`${BASE}/desktop/s/WDEMO001/batch`);
  const earlier = sub.locator('#batch-history tr', { hasText: name });
  assert.match(await earlier.textContent(), /wdemo001\s*2\s*4/);
  const [again] = await Promise.all([sub.waitForEvent('download'), earlier.getByRole('link').click()]);
  assert.equal(fs.readFileSync(await again.path(), 'utf8'), expected);

  // A name off the convention is refused whole, with the convention in the message.
  await sub.locator('#file').setInputFiles({ name: 'relationships.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await sub.getByRole('button', { name: 'Upload' }).click();
  const refusal = await sub.locator('.alert.error').textContent();
  assert.match(refusal, /the file name `relationships\.csv` is refused/);
  assert.match(refusal, /WDEMO001_HDTB_20260301_001\.csv/);
});

// 4. A beneficiary lookup through the real-time engine: the persona's Medicare Advantage plan.
await scenario("a beneficiary lookup shows the persona's Medicare Advantage plan", async () => {
  const p = persona('medicare-advantage');
  await sub.goto(`${BASE}/desktop/s/WDEMO001/lookup`);
  await sub.getByLabel('Provider NPI').selectOption('1125213722');
  await sub.getByLabel('MBI').fill(p.mbi);
  await sub.getByLabel('Last name').fill(p.last);
  await sub.getByLabel('First name').fill(p.first);
  await sub.getByLabel('Date of birth').fill(p.dob);
  await sub.getByRole('button', { name: 'Look up' }).click();
  const explained = await sub.locator('#explanation').textContent();
  assert.ok(explained.includes(p.plan), `the explanation names ${p.plan}:\n${explained}`);
  const raw = await sub.locator('#raw271').textContent();
  assert.match(raw, /^ISA\*/);
  assert.ok(raw.includes(p.plan), 'the raw 271 carries the plan');
  await shot(sub, '06-lookup');
});

await scenario('usage over time is an SVG chart', async () => {
  await sub.goto(`${BASE}/desktop/s/WDEMO001/usage`);
  assert.equal(await sub.locator('svg.chart').count(), 1);
  assert.ok(Number(await sub.locator('#usage-volume').textContent()) >= 1, 'the lookup counts');
  await shot(sub, '07-usage');
});

await scenario("another submitter's pages answer 404 and the help desk's 403", async () => {
  const other = await sub.goto(`${BASE}/desktop/s/WDEMO002/relationships`);
  assert.equal(other.status(), 404);
  const admin = await sub.goto(`${BASE}/desktop/admin/submitters`);
  assert.equal(admin.status(), 403);
});

// 5. The freeze window: the help desk creates one; changes are refused with its end; sign-in works.
const adm = await newPage();
await scenario('an HDT freeze refuses changes with its end; sign-in still works', async () => {
  await signIn(adm, 'helpdesk', HELPDESK_PASS);
  assert.match(adm.url(), /\/desktop\/admin\/submitters$/);
  await shot(adm, '10-admin-submitters');
  await adm.goto(`${BASE}/desktop/admin/windows`);
  const starts = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const ends = new Date(Date.now() + 2 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  await adm.locator('#freeze_starts').fill(starts);
  await adm.locator('#freeze_ends').fill(ends);
  await adm.locator('#freeze_reason').fill('HETS Active/Active migration');
  await adm.getByRole('button', { name: 'Add freeze window' }).click();
  await adm.getByText('HDT freeze window added').waitFor();
  await shot(adm, '11-admin-windows');

  // Signing out and in again works during the freeze.
  await sub.goto(`${BASE}/desktop/s/WDEMO001`);
  await sub.getByRole('button', { name: 'Sign out' }).click();
  await sub.getByText('You are signed out.').waitFor();
  await signIn(sub, 'wdemo001', SUBMITTER_PASS);
  assert.match(sub.url(), /\/desktop\/s\/WDEMO001$/);
  const banner = await sub.locator('#freeze-banner').textContent();
  assert.ok(banner.includes(`HDT is frozen until ${ends}`), banner);

  await sub.goto(`${BASE}/desktop/s/WDEMO001/relationships`);
  await sub.locator('#npi').fill('2273316937');
  await sub.getByLabel('Effective date').fill('2026-02-01');
  await sub.getByRole('button', { name: 'Add relationship' }).click();
  const refusal = await sub.locator('.alert.error').textContent();
  assert.equal(refusal,
    `HDT is frozen until ${ends} (HETS Active/Active migration): relationships cannot be added, edited or deleted until then`);
  await shot(sub, '08-freeze-refused');

  // The help desk lifts it; changes work again.
  await adm.goto(`${BASE}/desktop/admin/windows`);
  await adm.locator('form[action^="/desktop/admin/freezes/"] button').first().click();
  await adm.getByText('HDT freeze window deleted').waitFor();
});

// 6. A CAP: the help desk terminates WDEMO002 with a reason; its user submits a CAP on the
// template; the help desk accepts it; the submitter is active again.
await scenario('a CAP submitted by a submitter and accepted by the help desk', async () => {
  await adm.goto(`${BASE}/desktop/s/WDEMO002`);
  await adm.getByLabel('Action').selectOption('terminate');
  await adm.getByLabel('Reason').fill('NPI audit failures: terminated until a CAP is accepted');
  await adm.getByRole('button', { name: 'Apply' }).click();
  assert.equal(await adm.locator('#status').textContent(), 'terminated');

  const two = await newPage();
  await signIn(two, 'wdemo002', SUBMITTER_PASS);
  assert.equal(await two.locator('#status').textContent(), 'terminated');
  assert.match(await two.locator('dl.facts').textContent(), /NPI audit failures/);
  await two.goto(`${BASE}/desktop/s/WDEMO002/caps`);
  await two.getByLabel('Subject').fill('submitter');
  await two.getByLabel('Your understanding of the Rules of Behavior').fill('Only inquire for patients we serve, with valid NPIs.');
  await two.getByLabel('The specific steps you will take').fill('Validate NPI check digits before sending; train staff.');
  await two.getByLabel('The error-rate reduction you expect').fill('Invalid-NPI share under 0.1% within 30 days.');
  await two.getByRole('button', { name: 'Submit CAP' }).click();
  await two.getByText('Your corrective action plan was submitted').waitFor();
  assert.match(await two.locator('#caps').textContent(), /submitted/);
  await shot(two, '09-caps');

  await adm.goto(`${BASE}/desktop/admin/caps`);
  const card = adm.locator('.card', { hasText: 'WDEMO002' }).filter({ has: adm.getByRole('button', { name: 'Accept' }) });
  await card.locator('textarea').fill('Plan accepted; thank you.');
  await shot(adm, '12-admin-caps');
  await card.getByRole('button', { name: 'Accept' }).click();
  await adm.getByText(/CAP .* accepted/).first().waitFor();

  await two.goto(`${BASE}/desktop/s/WDEMO002`);
  assert.equal(await two.locator('#status').textContent(), 'active');
  await two.context().close();
});

await scenario('a bulletin composed for MIME submitters and sent lands in the outbox', async () => {
  await adm.goto(`${BASE}/desktop/admin/bulletins`);
  await adm.getByLabel('Audience').selectOption('mime');
  await adm.getByLabel('Send at').fill('2099-01-01T00:00:00Z');
  await adm.getByLabel('Title').fill('Browser test bulletin');
  await adm.getByLabel('Text').fill('Nothing changes for you.');
  await adm.getByRole('button', { name: 'Save bulletin' }).click();
  await adm.getByText('Bulletin saved').waitFor();
  const row = adm.locator('#bulletins tr', { hasText: 'Browser test bulletin' });
  assert.match(await row.textContent(), /mime.*2099-01-01 00:00 UTC.*not yet/);
  await row.getByRole('button', { name: 'Send now' }).click();
  await adm.getByText(/Bulletin sent: \d+ emails queued/).waitFor();
  await adm.goto(`${BASE}/desktop/admin/outbox`);
  assert.ok(await adm.locator('#outbox tr', { hasText: 'release_bulletin' }).count() >= 1);
});

await scenario('the help desk pages render', async () => {
  for (const [p, name] of [['audits', '13-admin-audits'], ['bulletins', '14-admin-bulletins'],
    ['outbox', '15-admin-outbox'], ['availability', '16-admin-availability']]) {
    const r = await adm.goto(`${BASE}/desktop/admin/${p}`);
    assert.equal(r.status(), 200, p);
    await shot(adm, name);
  }
});

// 7. Provider attestation (domain §5.6): the persona provider's user attests a vendor by its
// submitter id and revokes it; another NPI's page is not its own; the help desk switches the
// relationship rule and the provider's page tells which rule is in force.
await scenario('a provider attests and revokes a vendor; the help desk switches the rule', async () => {
  const prov = await newPage();
  await signIn(prov, 'npi1125213722', PROVIDER_PASS);
  assert.match(prov.url(), /\/desktop\/p\/1125213722$/);
  await prov.getByRole('heading', { name: 'Vendor attestations · NPI 1125213722' }).waitFor();
  assert.equal(await prov.locator('#rule-in-force').textContent(), 'declared');
  await prov.getByLabel("Vendor's submitter id").fill('WDEMO002');
  await prov.getByRole('button', { name: 'Attest', exact: true }).click();
  await prov.getByText('The vendor is attested.').waitFor();
  const row = prov.locator('#attestations tr', { hasText: 'WDEMO002' });
  assert.match(await row.textContent(), /WDEMO002\s*attested/);
  await prov.getByRole('button', { name: 'Revoke WDEMO002' }).click();
  await prov.getByText('The attestation is revoked.').waitFor();
  assert.match(await row.textContent(), /WDEMO002\s*revoked/);
  assert.equal((await prov.goto(`${BASE}/desktop/p/1497429880`)).status(), 403);
  assert.equal((await prov.goto(`${BASE}/desktop/s/WDEMO001`)).status(), 403);

  await adm.goto(`${BASE}/desktop/admin/relationship-rule`);
  assert.equal(await adm.locator('#rule-in-force').textContent(), 'declared');
  await adm.locator('input[name="rule"][value="attested"]').check();
  await adm.getByRole('button', { name: 'Set the rule' }).click();
  await adm.getByText('The rule is now attested').waitFor();
  assert.equal(await adm.locator('#rule-in-force').textContent(), 'attested');
  await shot(adm, '19-admin-relationship-rule');

  // The provider attests WDEMO002 again and reads the rule it now counts under.
  await prov.goto(`${BASE}/desktop/p/1125213722`);
  assert.equal(await prov.locator('#rule-in-force').textContent(), 'attested');
  await prov.getByRole('button', { name: 'Attest WDEMO002 again' }).click();
  await prov.getByText('The vendor is attested.').waitFor();
  await shot(prov, '18-provider-attestations');

  // Back to the default, so the demo keeps answering as before.
  await adm.locator('input[name="rule"][value="declared"]').check();
  await adm.getByRole('button', { name: 'Set the rule' }).click();
  await adm.getByText('The rule is now declared').waitFor();
  await prov.context().close();
});

// 8. Five wrong passwords lock the account; then even the right one is refused.
await scenario('five wrong passwords lock the account', async () => {
  const page = await newPage();
  for (let i = 1; i <= 5; i += 1) {
    await signIn(page, 'wdemo003', `wrong-password-${i}`);
  }
  assert.match(await page.locator('.alert.error').textContent(), /locked after too many wrong passwords until/);
  await signIn(page, 'wdemo003', SUBMITTER_PASS);
  assert.match(page.url(), /\/desktop\/signin$/);
  assert.match(await page.locator('.alert.error').textContent(), /the account is locked/);
  await shot(page, '17-locked');
  await page.context().close();
});

// 9. The help desk sets a new password for the user locked above (which lifts the lock) and
// adds a provider user for another enrolled NPI, who signs in to that NPI's page.
await scenario('the help desk resets a locked password and adds a provider user', async () => {
  await adm.goto(`${BASE}/desktop/admin/users`);
  const locked = adm.locator('#users tr', { hasText: 'wdemo003' });
  assert.match(await locked.textContent(), /until/);
  await adm.getByLabel('Username').fill('wdemo003');
  await adm.getByLabel('Role').selectOption('submitter');
  await adm.getByLabel('Submitter id').fill('WDEMO003');
  await adm.getByLabel('Password').fill('a-new-desktop-pass');
  await adm.getByRole('button', { name: 'Save user' }).click();
  await adm.getByText('User wdemo003 saved').waitFor();
  assert.doesNotMatch(await locked.textContent(), /until/);

  await adm.getByLabel('Username').fill('harbor');
  await adm.getByLabel('Role').selectOption('provider');
  await adm.getByLabel('NPI').fill('1497429880');
  await adm.getByLabel('Password').fill('harbor-front-desk-pass');
  await adm.getByRole('button', { name: 'Save user' }).click();
  await adm.getByText('User harbor saved').waitFor();
  assert.match(await adm.locator('#users tr', { hasText: 'harbor' }).textContent(), /provider user\s*NPI 1497429880/);
  await shot(adm, '20-admin-users');

  const page = await newPage();
  await signIn(page, 'wdemo003', 'a-new-desktop-pass');
  assert.match(page.url(), /\/desktop\/s\/WDEMO003$/);
  await page.context().close();
  const prov = await newPage();
  await signIn(prov, 'harbor', 'harbor-front-desk-pass');
  assert.match(prov.url(), /\/desktop\/p\/1497429880$/);
  await prov.getByRole('heading', { name: 'Vendor attestations · NPI 1497429880' }).waitFor();
  await prov.context().close();
});

await browser.close();
fs.rmSync(downloads, { recursive: true, force: true });
console.log(`${failures === 0 ? 'all scenarios passed' : `${failures} scenario(s) failed`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failures === 0 ? 0 : 1);
