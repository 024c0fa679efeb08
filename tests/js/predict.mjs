// Usage: node predict.mjs <tfjs model dir> <input.json>   (input.json: {"shape": [...], "data": [...]})
// Prints {"shape": [...], "data": [...]}: the graph model's output. Pure JS backend: no native binary needed.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";

const [modelDir, inputFile] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, "model.json"), "utf8"));

// tfjs (without tfjs-node) has no file:// loader; hand it the files through an IOHandler.
const handler = {
  load: async () => {
    const shards = manifest.weightsManifest.flatMap((group) =>
      group.paths.map((p) => fs.readFileSync(path.join(modelDir, p))));
    const weights = Buffer.concat(shards);
    return {
      modelTopology: manifest.modelTopology,
      format: manifest.format,
      generatedBy: manifest.generatedBy,
      convertedBy: manifest.convertedBy,
      signature: manifest.signature,
      userDefinedMetadata: manifest.userDefinedMetadata,
      weightSpecs: manifest.weightsManifest.flatMap((group) => group.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    };
  },
};

await tf.setBackend("cpu");
const model = await tf.loadGraphModel(handler);
const input = JSON.parse(fs.readFileSync(inputFile, "utf8"));
const output = model.execute(tf.tensor(input.data, input.shape, "float32"));
console.log(JSON.stringify({ shape: output.shape, data: Array.from(await output.data()) }));
