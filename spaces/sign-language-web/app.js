// The static Space: the pipeline's TF.js graph model runs in the page (no server). The preprocessing follows
// shared/images.py's `to_pixels` + `normalize`, which the Gradio Space and training use: alpha onto white, 8-bit
// gray (Pillow's integer weights), centre crop to the model's aspect ratio, Pillow's `reduce` when the crop is
// 3 times the model's size or more (reducing_gap), Lanczos (a = 3) to the model's size, then /255.
"use strict";

const TOP_K = 5;
const REDUCING_GAP = 3;
const LANCZOS_SUPPORT = 3;
const SKETCH_BRUSH = 18;

const $ = (id) => document.getElementById(id);
const state = { model: null, spec: null, source: null };

// ---- preprocessing (shared/images.py) ----

/** 8-bit gray of an image drawn over white: Pillow's "L" conversion, ((R·19595 + G·38470 + B·7471 + 2^15) >> 16). */
function grayPixels(source, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "#fff";
  context.fillRect(0, 0, width, height);
  context.drawImage(source, 0, 0, width, height);
  const rgba = context.getImageData(0, 0, width, height).data;
  const gray = new Float64Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    gray[i] = (rgba[4 * i] * 19595 + rgba[4 * i + 1] * 38470 + rgba[4 * i + 2] * 7471 + 0x8000) >> 16;
  }
  return gray;
}

const clip8 = (value) => Math.min(255, Math.max(0, Math.round(value)));

/** Pillow's `Image.reduce(factor, box)`: the mean of each factor×factor block (partial blocks at the edges too). */
function reduce(gray, width, box, factor) {
  const [left, top, right, bottom] = box;
  const outW = Math.ceil((right - left) / factor);
  const outH = Math.ceil((bottom - top) / factor);
  const out = new Float64Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      let sum = 0;
      let count = 0;
      for (let yy = top + y * factor; yy < Math.min(bottom, top + (y + 1) * factor); yy++) {
        for (let xx = left + x * factor; xx < Math.min(right, left + (x + 1) * factor); xx++) {
          sum += gray[yy * width + xx];
          count++;
        }
      }
      out[y * outW + x] = clip8(sum / count);
    }
  }
  return { pixels: out, width: outW, height: outH };
}

function lanczos(x) {
  const sinc = (v) => (v === 0 ? 1 : Math.sin(Math.PI * v) / (Math.PI * v));
  return Math.abs(x) < LANCZOS_SUPPORT ? sinc(x) * sinc(x / LANCZOS_SUPPORT) : 0;
}

/** Pillow's resampling weights for one axis: source range [start, end) of `inSize` pixels onto `outSize` pixels. */
function weights(start, end, inSize, outSize) {
  const scale = (end - start) / outSize;
  const filterScale = Math.max(scale, 1);
  const support = LANCZOS_SUPPORT * filterScale;
  const rows = [];
  for (let i = 0; i < outSize; i++) {
    const center = start + (i + 0.5) * scale;
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const last = Math.min(Math.trunc(center + support + 0.5), inSize);
    const taps = [];
    let total = 0;
    for (let x = first; x < last; x++) {
      const w = lanczos((x - center + 0.5) / filterScale);
      taps.push(w);
      total += w;
    }
    rows.push({ first, taps: taps.map((w) => (total === 0 ? 0 : w / total)) });
  }
  return rows;
}

/** Pillow's Lanczos `resize(size, box=box)`: a horizontal pass, then a vertical one, each rounded to 8 bits. */
function lanczosResize(image, box, outW, outH) {
  const [left, top, right, bottom] = box;
  const columns = weights(left, right, image.width, outW);
  const rowWeights = weights(top, bottom, image.height, outH);
  const across = new Float64Array(outW * image.height);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < outW; x++) {
      const { first, taps } = columns[x];
      let sum = 0;
      for (let k = 0; k < taps.length; k++) sum += taps[k] * image.pixels[y * image.width + first + k];
      across[y * outW + x] = clip8(sum);
    }
  }
  const out = new Float64Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const { first, taps } = rowWeights[y];
    for (let x = 0; x < outW; x++) {
      let sum = 0;
      for (let k = 0; k < taps.length; k++) sum += taps[k] * across[(first + k) * outW + x];
      out[y * outW + x] = clip8(sum);
    }
  }
  return out;
}

/** shared.images.to_pixels for a gray model: centre crop to the model's aspect ratio, reduce, Lanczos; 8-bit gray. */
function toPixels(source, sourceW, sourceH, outW, outH) {
  const gray = grayPixels(source, sourceW, sourceH);
  const cropW = Math.min(sourceW, (sourceH * outW) / outH);
  const cropH = Math.min(sourceH, (sourceW * outH) / outW);
  let box = [(sourceW - cropW) / 2, (sourceH - cropH) / 2, (sourceW + cropW) / 2, (sourceH + cropH) / 2];
  let image = { pixels: gray, width: sourceW, height: sourceH };
  const factor = Math.max(1, Math.min(Math.trunc(cropW / outW / REDUCING_GAP), Math.trunc(cropH / outH / REDUCING_GAP)));
  if (factor > 1) {
    // Pillow's _get_safe_box: the crop plus the filter's reach, in whole pixels, reduced from there
    const reachX = (LANCZOS_SUPPORT - 0.5) * (cropW / outW);
    const reachY = (LANCZOS_SUPPORT - 0.5) * (cropH / outH);
    const safe = [
      Math.max(0, Math.trunc(box[0] - reachX)), Math.max(0, Math.trunc(box[1] - reachY)),
      Math.min(sourceW, Math.ceil(box[2] + reachX)), Math.min(sourceH, Math.ceil(box[3] + reachY)),
    ];
    image = reduce(gray, sourceW, safe, factor);
    box = [(box[0] - safe[0]) / factor, (box[1] - safe[1]) / factor, (box[2] - safe[0]) / factor, (box[3] - safe[1]) / factor];
  }
  return lanczosResize(image, box, outW, outH);
}

// ---- the model ----

function showView(pixels, width, height) {
  const view = $("view");
  view.width = width;
  view.height = height;
  const data = new ImageData(width, height);
  pixels.forEach((value, i) => data.data.set([value, value, value, 255], 4 * i));
  view.getContext("2d").putImageData(data, 0, 0);
}

async function classify() {
  const { spec, model, source } = state;
  if (!source) throw new Error("No image was given: upload one, pick an example or sketch one first.");
  const { height, width } = spec.input;
  const pixels = toPixels(source.image, source.width, source.height, width, height);
  showView(pixels, width, height);
  const input = tf.tensor4d(Float32Array.from(pixels, (v) => v / 255), [1, height, width, 1]);
  const output = model.execute(input);
  const probabilities = Array.from(await output.data());
  tf.dispose([input, output]);
  const ranked = probabilities.map((p, i) => [spec.labels[i], p]).sort((a, b) => b[1] - a[1]).slice(0, TOP_K);
  $("answer").replaceChildren(...ranked.map(([label, p]) => {
    const item = document.createElement("li");
    item.dataset.label = label;
    item.textContent = `${label} ${(100 * p).toFixed(1)} %`;
    return item;
  }));
  return ranked;
}

function setSource(image, width, height, what) {
  state.source = { image, width, height };
  const preview = $("preview").getContext("2d");
  preview.fillStyle = "#fff";
  preview.fillRect(0, 0, 280, 280);
  const scale = Math.min(280 / width, 280 / height);
  preview.imageSmoothingEnabled = scale < 1;
  preview.drawImage(image, 0, 0, width * scale, height * scale);
  $("status").textContent = `${what} ready: press Classify.`;
  $("status").className = "";
}

async function loadImage(url) {
  const image = new Image();
  image.src = url;
  await image.decode();
  return image;
}

function fail(error) {
  $("status").textContent = error.message;
  $("status").className = "error";
}

// ---- the page ----

function startSketch() {
  const sketch = $("sketch");
  const context = sketch.getContext("2d");
  const clear = () => {
    context.fillStyle = "#fff";
    context.fillRect(0, 0, sketch.width, sketch.height);
  };
  clear();
  let last = null;
  sketch.addEventListener("pointerdown", (event) => {
    last = [event.offsetX, event.offsetY];
    sketch.setPointerCapture(event.pointerId);
  });
  sketch.addEventListener("pointermove", (event) => {
    if (!last) return;
    context.strokeStyle = "#000";
    context.lineWidth = SKETCH_BRUSH;
    context.lineCap = "round";
    context.beginPath();
    context.moveTo(...last);
    context.lineTo(event.offsetX, event.offsetY);
    context.stroke();
    last = [event.offsetX, event.offsetY];
  });
  sketch.addEventListener("pointerup", () => {
    last = null;
    setSource(sketch, sketch.width, sketch.height, "Sketch");
  });
  $("clear").addEventListener("click", clear);
}

async function start() {
  state.spec = await (await fetch("model/spec.json")).json();
  const { input, data, metrics, name, version } = state.spec;
  if (input.kind !== "image" || input.channels !== 1 || input.framing !== "center-crop") {
    throw new Error(`This page runs 1-channel centre-cropped image models, not ${name}'s input.`);
  }
  await tf.setBackend("cpu"); // the float32 CPU kernels: the same answers as LiteRT's, on every machine
  state.model = await tf.loadGraphModel("model/model.json");
  const accuracy = metrics.accuracy === undefined ? "" : `, test accuracy ${(100 * metrics.accuracy).toFixed(1)} %`;
  $("model-note").textContent = `Model: ${name} v${version}, trained on the ${data.source} data${accuracy}; runs in your browser with TensorFlow.js ${tf.version.tfjs}.`;
  const examples = await (await fetch("examples/examples.json")).json();
  $("examples").replaceChildren(...examples.map((file) => {
    const button = document.createElement("button");
    button.type = "button";
    button.title = file;
    button.dataset.example = file;
    const thumbnail = document.createElement("img");
    thumbnail.src = `examples/${file}`;
    thumbnail.alt = `example ${file}`;
    button.append(thumbnail);
    button.addEventListener("click", async () => {
      const image = await loadImage(`examples/${file}`);
      setSource(image, image.naturalWidth, image.naturalHeight, `Example ${file}`);
    });
    return button;
  }));
  $("upload").addEventListener("change", async () => {
    const file = $("upload").files[0];
    if (!file) return;
    const url = URL.createObjectURL(file);
    try {
      const image = await loadImage(url);
      setSource(image, image.naturalWidth, image.naturalHeight, file.name);
    } catch {
      fail(new Error("This file is not an image the browser can read."));
    } finally {
      URL.revokeObjectURL(url);
    }
  });
  startSketch();
  $("classify").addEventListener("click", () => classify().then(() => {
    $("status").textContent = "Done.";
  }, fail));
  $("classify").disabled = false;
}

start().catch((error) => fail(new Error(`The model could not be loaded: ${error.message}`)));
