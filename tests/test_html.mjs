// test_html.mjs — drives the `nn --html` page in headless Chromium (playwright-core) and checks
// it against the JSON trace of the same script. Run by tests/test_html.sh, which installs what it
// needs and passes:
//   NN_PLAYWRIGHT  the node_modules folder holding playwright-core
//   NN_CHROMIUM    the browser (Debian's /usr/bin/chromium)
//   NN_HTML_SCREENSHOTS  optional: a folder for a PNG of the page mid-backward
// Arguments: PAGE.html TRACE.jsonl [MORE.html ...]. The first page gets every check; the others
// (bigger networks) are stepped through from end to end with no error allowed.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const require = createRequire(path.join(process.env.NN_PLAYWRIGHT || '.', 'x.js'));
const { chromium } = require('playwright-core');

const [pagePath, tracePath, ...morePages] = process.argv.slice(2);
const failures = [];
let checks = 0;
function check(ok, what) {
  checks++;
  if (!ok) failures.push(what);
  return ok;
}

// The numbers written in a text, as the page shows them (U+2212 for minus), not counting the
// digits of names like t2.
function numbersIn(text) {
  const t = text.replace(/\u2212/g, '-');
  return (t.match(/(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/g) || []).map(Number);
}
// A number shown with 6 significant digits stands for the trace's value.
function same(shown, want) {
  return Math.abs(shown - want) <= 5.000001e-6 * Math.abs(want) + 1e-30;
}
function shows(text, want) { return numbersIn(text).some((x) => same(x, want)); }
const fmt = (x) => JSON.stringify(x);

const events = readFileSync(tracePath, 'utf8').split('\n')
  .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const expected = events.filter((e) => ['forward', 'backward', 'gradient', 'update'].includes(e.event));
const passEv = events.find((e) => e.event === 'pass');

const browser = await chromium.launch({
  executablePath: process.env.NN_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });

// Everything the page asks for, everything it complains about.
async function open(file) {
  const page = await context.newPage();
  const url = pathToFileURL(path.resolve(file)).href;
  const log = { url, requests: [], errors: [] };
  page.on('request', (r) => log.requests.push(r.url()));
  page.on('websocket', (w) => log.requests.push(w.url()));
  page.on('console', (m) => { if (m.type() === 'error') log.errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => log.errors.push('page error: ' + e.message));
  await page.goto(url, { waitUntil: 'load' });
  return { page, log };
}
function checkQuiet(log, name) {
  check(log.errors.length === 0, name + ': errors in the console: ' + log.errors.join('; '));
  const others = log.requests.filter((u) => u !== log.url);
  check(others.length === 0, name + ': requests besides the file itself: ' + others.join(', '));
}

// What the page shows now.
const snapshot = (page) => page.evaluate(() => {
  const ex = document.getElementById('explain');
  const nodes = {};
  for (const g of document.querySelectorAll('#graph .node')) {
    const v = g.querySelector('.val'), gr = g.querySelector('.grad');
    nodes[g.dataset.node] = { val: v ? v.textContent : '', valRaw: v ? v.getAttribute('data-raw') : null,
      grad: gr ? gr.textContent : '', gradRaw: gr ? gr.getAttribute('data-raw') : null,
      current: g.classList.contains('current') };
  }
  const pills = {};       // the gradient written on each edge, by "from>to"
  for (const g of document.querySelectorAll('#graph g[data-pill-from]'))
    if (g.style.display !== 'none') pills[g.dataset.pillFrom + '>' + g.dataset.pillTo] = g.textContent;
  return {
    frame: Number(document.body.dataset.frame),
    phase: ex.dataset.phase, node: ex.dataset.node, text: ex.innerText,
    current: Array.from(document.querySelectorAll('#graph .node.current')).map((g) => g.dataset.node),
    nodes, pills,
    lossPoints: document.querySelectorAll('#loss path, #loss circle').length,
  };
});

// ---- the first page: every event of the trace, in order, with its numbers
{
  const { page, log } = await open(pagePath);
  let snap = await snapshot(page);
  check(snap.frame === 0 && snap.phase === 'start', 'the page opens at the start of the first pass');
  check(snap.lossPoints > 0, 'the loss curve is drawn');
  const seen = [];
  let shot = false, sawChart = false;
  for (let k = 0; k < 500; k++) {
    await page.keyboard.press('ArrowRight');
    const next = await snapshot(page);
    if (next.frame === snap.frame) break;           // the end
    check(next.frame === snap.frame + 1, 'ArrowRight moves one event: ' + snap.frame + ' -> ' + next.frame);
    snap = next;
    if (['forward', 'backward', 'gradient', 'update'].includes(snap.phase)) seen.push(snap);
    if (snap.phase === 'forward' && snap.text.includes('sigmoid(1.1)')) {
      // an activation is drawn with its derivative, this node's input marked on both
      const chart = await page.evaluate(() => {
        const c = document.querySelector('#detail .actchart');
        return c && { op: c.dataset.op, paths: c.querySelectorAll('path').length,
          at: Array.from(c.querySelectorAll('circle title')).map((t) => t.textContent) };
      });
      sawChart = !!chart;
      check(chart && chart.op === 'sigmoid' && chart.paths === 2
        && chart.at.some((t) => t === 'sigmoid(1.1) = 0.75026')
        && chart.at.some((t) => t === 'its derivative at 1.1: 0.18737'),
        'the sigmoid step draws sigmoid and its derivative at 1.1: ' + JSON.stringify(chart));
    }
    if (snap.phase === 'loss' && passEv) {
      check(shows(snap.text, passEv.loss), 'the loss step shows loss ' + passEv.loss + ': ' + snap.text);
      check(snap.current.join() === String(passEv.root), 'the loss step highlights the root');
    }
    if (!shot && process.env.NN_HTML_SCREENSHOTS && snap.phase === 'backward'
        && seen.filter((s) => s.phase === 'backward').length === 3) {
      const file = path.join(process.env.NN_HTML_SCREENSHOTS, 'nn-html-' + path.basename(pagePath, '.html') + '-backward.png');
      await page.screenshot({ path: file });
      console.log('screenshot: ' + file);
      shot = true;
    }
  }
  if (path.basename(pagePath).startsWith('neuron'))
    check(sawChart, 'the worked example\u2019s sigmoid step has its activation chart');
  check(seen.length === expected.length,
    'one step per forward, backward, gradient and update event: ' + seen.length + ' steps, ' + expected.length + ' events');
  for (let k = 0; k < Math.min(seen.length, expected.length); k++) {
    const s = seen[k], e = expected[k], where = e.event + ' ' + e.label + ' (node ' + e.node + ')';
    if (!check(s.phase === e.event && s.node === String(e.node),
      'step ' + (k + 1) + ' shows ' + s.phase + ' of node ' + s.node + ', the trace has ' + where)) continue;
    check(s.current.length === 1 && s.current[0] === String(e.node), where + ': the node is highlighted');
    const n = s.nodes[e.node];
    if (e.event === 'forward') {
      check(n.valRaw !== null && Number(n.valRaw) === e.value, where + ': node value ' + n.valRaw + ', trace ' + fmt(e.value));
      check(shows(n.val, e.value), where + ': node shows "' + n.val + '" for ' + fmt(e.value));
      check(shows(s.text, e.value), where + ': the explanation shows ' + fmt(e.value) + ': ' + s.text);
    } else if (e.event === 'backward') {
      check(Number(n.gradRaw) === e.grad && shows(n.grad, e.grad), where + ': node grad "' + n.grad + '", trace ' + fmt(e.grad));
      check(shows(s.text, e.grad), where + ': the explanation shows the gradient ' + fmt(e.grad));
      for (const inp of e.inputs) {
        const m = s.nodes[inp.node], w = where + ' -> ' + inp.label;
        check(Number(m.gradRaw) === inp.grad && shows(m.grad, inp.grad), w + ': input grad "' + m.grad + '", trace ' + fmt(inp.grad));
        check(shows(s.text, inp.local_value), w + ': local derivative ' + fmt(inp.local_value) + ' in: ' + s.text);
        check(shows(s.text, inp.chain), w + ': chain ' + fmt(inp.chain) + ' in: ' + s.text);
        const pill = s.pills[inp.node + '>' + e.node];
        check(pill !== undefined && shows(pill, inp.chain), w + ': the edge shows the gradient ' + fmt(inp.chain));
      }
    } else if (e.event === 'gradient') {
      check(Number(n.gradRaw) === e.grad && shows(n.grad, e.grad), where + ': node grad "' + n.grad + '", trace ' + fmt(e.grad));
      check(shows(s.text, e.grad), where + ': the explanation shows ' + fmt(e.grad));
    } else if (e.event === 'update') {
      for (const key of ['before', 'lr', 'grad', 'after'])
        check(shows(s.text, e[key]), where + ': the explanation shows ' + key + ' ' + fmt(e[key]) + ': ' + s.text);
      const shown = numbersIn(n.val);
      check(Number(n.valRaw) === e.after && shown.length === 2 && same(shown[0], e.before) && same(shown[1], e.after),
        where + ': node shows "' + n.val + '" for ' + fmt(e.before) + ' -> ' + fmt(e.after));
    }
  }
  // The worked example's sentences, word for word (examples/neuron.nn).
  if (path.basename(pagePath).startsWith('neuron')) {
    const all = seen.map((s) => s.text).join('\n');
    for (const want of ['yhat = sigmoid(z) = sigmoid(1.1) = 0.75026',
      '\u2202loss/\u2202z = \u2202loss/\u2202yhat \u00D7 yhat \u00D7 (1 \u2212 yhat) = \u22120.49948 \u00D7 0.18737 = \u22120.0935875',
      '\u2202loss/\u2202w = 0.49948 \u00D7 (\u22121) \u00D7 0.18737 \u00D7 1 \u00D7 2 = \u22120.187175',
      'w: 0.5 \u2212 0.1 \u00D7 (\u22120.187175) = 0.518717',
      'b: 0.1 \u2212 0.1 \u00D7 (\u22120.0935875) = 0.109359'])
      check(all.includes(want), 'the page says "' + want + '"');
  }
  // The other keys and buttons.
  const frameNow = async () => (await snapshot(page)).frame;
  const last = await frameNow();
  await page.keyboard.press('Home');
  check(await frameNow() === 0, 'Home goes to the first event');
  await page.keyboard.press('End');
  check(await frameNow() === last, 'End goes to the last event');
  await page.keyboard.press('ArrowLeft');
  check(await frameNow() === last - 1, 'ArrowLeft goes back one event');
  await page.keyboard.press('Home');
  await page.keyboard.press(' ');
  await page.waitForTimeout(2600);
  await page.keyboard.press(' ');
  const played = await frameNow();
  await page.waitForTimeout(1500);
  check(played >= 1 && await frameNow() === played, 'space plays, and space again pauses (at ' + played + ')');
  await page.click('#next');
  check(await frameNow() === played + 1, 'the next button steps');
  await page.click('#prev');
  check(await frameNow() === played, 'the previous button steps back');
  await page.click('#last');
  check(await frameNow() === last, 'the last button goes to the end');
  checkQuiet(log, path.basename(pagePath));
  await page.close();
}

// ---- deep links: the address names a step (#pass=P&event=E), and follows the stepper
{
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(path.resolve(pagePath)).href + '#pass=1&event=14', { waitUntil: 'load' });
  check((await snapshot(page)).frame === 13, 'a deep link (#pass=1&event=14) opens on its step');
  await page.keyboard.press('ArrowRight');
  const hash = await page.evaluate(() => location.hash);
  check(hash === '#pass=1&event=15', 'the address follows the stepper: ' + hash);
  await page.evaluate(() => { location.hash = '#pass=1&event=3'; });
  await page.waitForTimeout(200);
  check((await snapshot(page)).frame === 2, 'a link typed into the address moves the stepper there');
  // the one neuron in the neuron view: one input, one unit, the weight's line with its gradient
  await page.keyboard.press('End');
  await page.keyboard.press('v');
  const line = await page.evaluate(() => Array.from(document.querySelectorAll('#neurons line.wt'))
    .map((l) => l.querySelector('title').textContent));
  check(line.length === 1 && line[0].includes('\u2202loss/\u2202w[0,0] = \u22120.187175')
    && line[0].startsWith('w[0,0] = 0.518717'),
    'the one neuron as a neuron: its weight after the update, and its gradient: ' + line.join(' | '));
  check(errors.length === 0, 'deep links: no page error: ' + errors.join('; '));
  await page.close();
}

// ---- lesson pages (lesson-NAME.html, from examples/NAME.nn): what the lesson needs to be seen
async function lessonChecks(page, name) {
  const got = await page.evaluate(() => ({
    warnShown: !document.getElementById('warncard').hidden,
    warnings: document.getElementById('warnings').innerText,
    title: document.getElementById('losstitle').textContent,
    legend: Array.from(document.querySelectorAll('#losslegend .run')).map((e) => e.textContent),
    lines: document.querySelectorAll('#loss path').length,
    grads: Array.from(document.querySelectorAll('#gradcards .gradcard')).map((c) => ({
      title: c.querySelector('h2').textContent,
      legend: Array.from(c.querySelectorAll('.legend .run')).map((e) => e.textContent),
      lines: c.querySelectorAll('svg path').length })),
  }));
  if (name === 'lesson-vanishing.html') {
    check(got.warnShown && got.warnings.includes('vanishing gradients') && got.warnings.includes('what helps: try relu'),
      name + ': the warning and its fix are on the page: ' + got.warnings);
    check(got.title === 'loss per update (2 train blocks, 300 updates each)', name + ': the loss title: ' + got.title);
    check(got.legend.length === 2 && got.legend[0].startsWith('deep_sigmoid') && got.legend[1].startsWith('deep_relu'),
      name + ': a legend names both runs: ' + got.legend.join(' | '));
    check(got.lines === 2, name + ': one loss line per run: ' + got.lines);
    // gradient norms by layer: the sigmoid stack's first layer far below its last, the relu's not
    const first = (legend) => Number(legend.split(': ')[1].split(' ')[0].replace('\u2212', '-'));
    check(got.grads.length === 2 && got.grads[0].title.includes('deep_sigmoid') && got.grads[1].title.includes('deep_relu'),
      name + ': a gradient-norm chart per run: ' + got.grads.map((g) => g.title).join(' | '));
    if (got.grads.length === 2) {
      const [sig, relu] = got.grads;
      check(sig.lines === 7 && sig.legend.length === 7 && sig.legend[0].startsWith('layer1') && sig.legend[6].startsWith('layer7'),
        name + ': seven layers drawn and named: ' + sig.legend.join(' | '));
      check(first(sig.legend[0]) * 100 < first(sig.legend[6]),
        name + ': sigmoid: layer1 far below layer7: ' + sig.legend[0] + ' / ' + sig.legend[6]);
      check(first(relu.legend[0]) * 10 > first(relu.legend[6]),
        name + ': relu: layer1 not far below layer7: ' + relu.legend[0] + ' / ' + relu.legend[6]);
    }
  }
  if (name === 'lesson-neuron-train.html') {
    // a scalar formula trained: yhat (and z) per update, beside the loss per update
    const values = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.valuecard .legend .run')).map((e) => e.textContent));
    check(values.length === 2 && values.includes('z: 1.1 \u2192 2.12332')
      && values.some((v) => v.startsWith('yhat: 0.75026 \u2192 ')),
      name + ': yhat and z per update: ' + values.join(' | '));
    check(got.title === 'loss per update (train block, 50 updates)', name + ': the loss per update: ' + got.title);
  }
  if (name === 'lesson-spiral.html') {
    // a block with validation: its validation loss, per epoch, labelled beside the training loss
    check(got.title === 'loss per update (train block, 2000 updates)', name + ': the loss title: ' + got.title);
    check(got.legend.length === 2 && got.legend[0].startsWith('net: ')
      && got.legend[1].startsWith('net (validation, per epoch): ') && got.lines === 2,
      name + ': training and validation loss, labelled: ' + got.legend.join(' | '));
  }
  if (name === 'lesson-moons.html') {
    // the predictions over the input space, pass by pass: the boundary moves as the model learns
    const pred = () => page.evaluate(() => ({
      shown: !document.getElementById('predcard').hidden,
      title: document.getElementById('predtitle').textContent,
      above: Number(document.getElementById('pred').dataset.above),
      cells: document.querySelectorAll('#pred rect').length,
      dots: document.querySelectorAll('#pred circle').length }));
    await page.keyboard.press('Home');
    const a = await pred();
    await page.keyboard.press('End');
    const b = await pred();
    check(a.shown && a.title.endsWith('pass 1') && b.title.endsWith('pass 5'),
      name + ': the predictions card follows the passes: ' + a.title + ' | ' + b.title);
    check(a.cells === 625 && a.dots === 100, name + ': a 25 by 25 grid and the 100 training rows: '
      + a.cells + ' cells, ' + a.dots + ' dots');
    check(a.above !== b.above && Math.abs(a.above - b.above) > 50,
      name + ': the boundary moves between the first and the last pass: ' + a.above + ' -> ' + b.above
      + ' cells above 0.5');
  }
}

// ---- other pages: stepped through end to end without an error
for (const file of morePages) {
  if (path.basename(file).startsWith('lesson-')) {
    const { page, log } = await open(file);
    await lessonChecks(page, path.basename(file));
    checkQuiet(log, path.basename(file));
    await page.close();
    continue;
  }
  const { page, log } = await open(file);
  const name = path.basename(file);
  const start = (await snapshot(page)).frame;
  let frame = start, k = 0;
  const titles = [], heads = [];
  for (; k < 2000; k++) {
    await page.keyboard.press('ArrowRight');
    const f = (await snapshot(page)).frame;
    if (f === frame) break;
    frame = f;
    const t = await page.evaluate(() => ({
      title: document.querySelector('#explain .title').textContent,
      head: Array.from(document.querySelectorAll('#explain .layerhead')).map((e) => e.textContent).join(' ') }));
    titles.push(t.title);
    if (t.head) heads.push(t.head);
  }
  check(k > 3, name + ': steps through ' + k + ' events');
  // the labels of the graph are whole (a gradient's key names the node's last part), and the
  // cells of tensors have a colour key
  const graph = await page.evaluate(() => ({
    keys: Array.from(document.querySelectorAll('#graph .key')).map((e) => e.textContent),
    cellkey: !document.getElementById('cellkey').hidden }));
  check(!graph.keys.some((t) => t.includes('\u2026')), name + ': no cut label in the graph: ' + graph.keys.join(' | '));
  if (graph.keys.some((t) => t.startsWith('value [')))
    check(graph.cellkey, name + ': tensors drawn as cells come with a colour key');
  if (name.startsWith('xor_step') && process.env.NN_XOR_TRACE) {
    // the neuron view: each weight's line shows the gradient the JSON trace has for it
    const ev = readFileSync(process.env.NN_XOR_TRACE, 'utf8').split('\n').filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l)).find((e) => e.event === 'gradient' && e.label === 'net.layer1.W');
    await page.keyboard.press('End');
    await page.keyboard.press('v');
    const nv = await page.evaluate(() => ({
      shown: getComputedStyle(document.getElementById('neurons')).display !== 'none',
      hash: location.hash,
      lines: Array.from(document.querySelectorAll('#neurons line.wt')).map((l) => ({
        w: l.dataset.w, i: Number(l.dataset.i), j: Number(l.dataset.j), grad: l.dataset.grad,
        title: l.querySelector('title').textContent })) }));
    check(nv.shown && nv.hash.endsWith('&view=neurons'), name + ': v shows the neuron view, and the address says so: ' + nv.hash);
    const w1 = nv.lines.filter((l) => l.w === 'net.layer1.W');
    check(ev && w1.length === 16, name + ': net.layer1.W is drawn as 16 lines: ' + w1.length);
    const cols = ev ? ev.grad[0].length : 0;
    for (const [i, j] of [[0, 0], [0, 5], [1, 3], [1, 7]]) {
      const l = w1.find((q) => q.i === i && q.j === j), want = ev ? ev.grad[i][j] : NaN;
      check(l && Number(l.grad) === want && shows(l.title, want),
        name + ': the line of net.layer1.W[' + i + ',' + j + '] shows its gradient ' + want + ' (of ' + cols
        + ' columns): ' + (l ? l.grad + ' / ' + l.title : 'no line'));
    }
    await page.keyboard.press('v');
    // a link that names the view opens on it
    const linked = await context.newPage();
    await linked.goto(pathToFileURL(path.resolve(file)).href + '#pass=1&event=5&view=neurons', { waitUntil: 'load' });
    const opened = await linked.evaluate(() => [getComputedStyle(document.getElementById('neurons')).display,
      location.hash]);
    check(opened[0] !== 'none' && opened[1] === '#pass=1&event=5&view=neurons',
      name + ': a link with view=neurons opens the neuron view: ' + opened.join(' '));
    await linked.close();
  }
  if (name.startsWith('two_layer')) {
    // a formula written as layers (tanh(X @ W1 + b1), then W2) has a neuron view too
    await page.keyboard.press('End');
    await page.keyboard.press('v');
    const nv = await page.evaluate(() => ({
      shown: getComputedStyle(document.getElementById('neurons')).display !== 'none',
      w1: document.querySelectorAll('#neurons line[data-w="W1"]').length,
      w2: document.querySelectorAll('#neurons line[data-w="W2"]').length,
      grads: Array.from(document.querySelectorAll('#neurons line[data-w="W2"]')).filter((l) => l.dataset.grad !== '').length }));
    check(nv.shown && nv.w1 === 16 && nv.w2 === 8 && nv.grads === 8,
      name + ': the formula\u2019s layers as neurons: ' + JSON.stringify(nv));
    await page.keyboard.press('v');
  }
  if (name.startsWith('xor_step')) {
    // a model's backward is headed by its layers, top down, each where its gradient arrives
    const bwd = titles.filter((t) => / \u00B7 backward through /.test(t));
    check(bwd.length > 0 && bwd[0].startsWith('net.layer2') && bwd[bwd.length - 1].startsWith('net.layer1'),
      name + ': backward steps are headed by their layer, layer2 first: ' + bwd.join(' | '));
    check(heads.length === 2 && heads[0].startsWith('Layer net.layer2 starts here') && heads[1].startsWith('Layer net.layer1'),
      name + ': each layer\u2019s part opens with the gradient arriving from above: ' + heads.join(' | '));
  }
  if (name.startsWith('escape')) {
    const out = await page.evaluate(() => document.getElementById('outtext').textContent);
    check(out === '</script><!-- <script> </SCRIPT " \\ end', name + ': the printed line comes back intact: ' + out);
  }
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Home');
  check((await snapshot(page)).frame === 0, name + ': Home goes back to the start');
  checkQuiet(log, name);
  console.log(name + ': ' + k + ' events stepped through');
  await page.close();
}

await browser.close();
if (failures.length) {
  for (const f of failures) console.log('FAIL ' + f);
  console.log('html: ' + failures.length + ' of ' + checks + ' checks failed');
  process.exit(1);
}
console.log('html: all ' + checks + ' checks passed (' + expected.length + ' trace events of '
  + path.basename(pagePath) + ' matched' + (morePages.length ? ', ' + morePages.length + ' more page(s) stepped through' : '') + ')');
