// Canvas drawings for the console: a field as a heatmap and a number as a time series.
// Both only record on data and draw when asked, so the console draws at most once per
// animation frame however fast frames come.

/** A square (or rows × columns) field drawn cell per pixel, scaled up by CSS. */
export class Heatmap {
  #canvas;
  #context;
  #image = null;
  #pending = null;

  constructor(canvas) {
    this.#canvas = canvas;
    this.#context = canvas.getContext("2d");
    this.drawn = 0;
    this.range = null;
  }

  /** Keeps the latest field (values row by row, `shape` [rows, columns]) for the next draw. */
  update(values, shape) {
    this.#pending = { values, shape };
  }

  draw() {
    const pending = this.#pending;
    if (!pending) return false;
    this.#pending = null;
    const [rows, columns] = pending.shape;
    const values = pending.values;
    if (!(rows > 0 && columns > 0) || values.length < rows * columns) return false;
    if (this.#canvas.width !== columns || this.#canvas.height !== rows) {
      this.#canvas.width = columns;
      this.#canvas.height = rows;
      this.#image = null;
    }
    this.#image ??= this.#context.createImageData(columns, rows);
    let low = Infinity;
    let high = -Infinity;
    for (let index = 0; index < rows * columns; index++) {
      const value = values[index];
      if (value < low) low = value;
      if (value > high) high = value;
    }
    const span = high > low ? high - low : 1;
    const pixels = this.#image.data;
    for (let index = 0; index < rows * columns; index++) {
      const t = (values[index] - low) / span;
      const [red, green, blue] = colour(Number.isFinite(t) ? t : 0);
      pixels[4 * index] = red;
      pixels[4 * index + 1] = green;
      pixels[4 * index + 2] = blue;
      pixels[4 * index + 3] = 255;
    }
    this.#context.putImageData(this.#image, 0, 0);
    this.range = [low, high];
    this.drawn += 1;
    this.#canvas.dataset.drawn = String(this.drawn);
    return true;
  }
}

// A perceptual dark-blue → green → yellow ramp (close to viridis), t in [0, 1].
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  const position = Math.min(Math.max(t, 0), 1) * (STOPS.length - 1);
  const index = Math.min(Math.floor(position), STOPS.length - 2);
  const f = position - index;
  const a = STOPS[index];
  const b = STOPS[index + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** The last `capacity` values of one number, as a line. */
export class TimeSeriesChart {
  #canvas;
  #context;
  #values;
  #start = 0;
  #dirty = false;

  constructor(canvas, capacity = 300) {
    this.#canvas = canvas;
    this.#context = canvas.getContext("2d");
    this.#values = new Float64Array(capacity);
    this.count = 0;
    this.total = 0;
  }

  get latest() {
    return this.count === 0 ? NaN : this.#values[(this.#start + this.count - 1) % this.#values.length];
  }

  push(value) {
    const capacity = this.#values.length;
    if (this.count < capacity) {
      this.#values[(this.#start + this.count) % capacity] = value;
      this.count += 1;
    } else {
      this.#values[this.#start] = value;
      this.#start = (this.#start + 1) % capacity;
    }
    this.total += 1;
    this.#dirty = true;
  }

  draw() {
    if (!this.#dirty) return false;
    this.#dirty = false;
    const canvas = this.#canvas;
    const width = canvas.clientWidth || 300;
    const height = canvas.clientHeight || 70;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const context = this.#context;
    context.clearRect(0, 0, width, height);
    const capacity = this.#values.length;
    let low = Infinity;
    let high = -Infinity;
    for (let index = 0; index < this.count; index++) {
      const value = this.#values[(this.#start + index) % capacity];
      if (Number.isFinite(value)) {
        if (value < low) low = value;
        if (value > high) high = value;
      }
    }
    if (!Number.isFinite(low)) return true;
    const span = high > low ? high - low : 1;
    context.strokeStyle = "#2f7d4f";
    context.lineWidth = 1.5;
    context.beginPath();
    for (let index = 0; index < this.count; index++) {
      const value = this.#values[(this.#start + index) % capacity];
      // The line fills the width once it has 60 points, then scrolls.
      const x = (index / (Math.max(this.count, 60) - 1)) * (width - 1);
      const y = height - 3 - ((value - low) / span) * (height - 6);
      if (index === 0) context.moveTo(x, y); else context.lineTo(x, y);
    }
    context.stroke();
    canvas.dataset.points = String(this.total);
    return true;
  }
}
