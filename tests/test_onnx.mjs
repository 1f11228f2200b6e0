// test_onnx.mjs — runs ONNX files in onnxruntime (the npm package onnxruntime-node) for
// tests/test_onnx.py: reads a JSON list of {file, rows, cols, input} on standard input and
// prints, as JSON, each file's input and output names and output values.
import { createRequire } from 'node:module';
import path from 'node:path';
import { readFileSync } from 'node:fs';

const require = createRequire(path.join(process.env.NN_ORT || '.', 'x.js'));
const ort = require('onnxruntime-node');
const jobs = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const j of jobs) {
  const session = await ort.InferenceSession.create(j.file);
  const x = new ort.Tensor('float32', Float32Array.from(j.input), j.shape || [j.rows, j.cols]);
  const out = await session.run({ [session.inputNames[0]]: x });
  const y = out[session.outputNames[0]];
  results.push({ file: j.file, inputs: session.inputNames, outputs: session.outputNames,
                 dims: y.dims, values: Array.from(y.data) });
}
console.log(JSON.stringify(results));
