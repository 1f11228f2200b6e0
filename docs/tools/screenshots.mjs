// screenshots.mjs — the README's pictures of the --html page, one per view, made with headless
// Chromium (playwright-core, as tests/test_html.sh uses it). Run docs/tools/screenshots.sh.
// Arguments: OUT_DIR NEURON.html XOR.html MOONS.html VANISHING.html
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(path.join(process.env.NN_PLAYWRIGHT || '.', 'x.js'));
const { chromium } = require('playwright-core');
const [out, neuron, xor, moons, vanishing] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.NN_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
async function open(file, hash) {
  const page = await context.newPage();
  await page.goto(pathToFileURL(path.resolve(file)).href + (hash || ''), { waitUntil: 'load' });
  return page;
}
// the graph, mid-backward through the worked example
let page = await open(neuron, '#pass=1&event=14');
await page.screenshot({ path: path.join(out, 'page-graph.png') });
// the neuron view of xor, its gradients arrived
page = await open(xor, '#pass=1&event=23&view=neurons');
await page.screenshot({ path: path.join(out, 'page-neurons.png'), clip: { x: 0, y: 0, width: 1280, height: 470 } });
// the predictions of a moons run, at its last traced pass
page = await open(moons);
await page.keyboard.press('End');
await (await page.$('#predcard')).screenshot({ path: path.join(out, 'page-predictions.png') });
// a lesson page: the warning, both runs' losses, the gradient norms by layer
page = await open(vanishing);
await (await page.$('#panels .col:last-child')).screenshot({ path: path.join(out, 'page-lesson.png') });
await browser.close();
