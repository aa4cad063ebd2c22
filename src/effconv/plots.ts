/** Small dependency-free SVG charts for the run folder: line charts and mask heat maps. */

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString());

/** A line chart with axes, ticks and a legend. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], width = 640, height = 360): string {
  const m = { l: 60, r: 150, t: 30, b: 45 };
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  if (x1 === x0) x1 = x0 + 1;
  const W = width - m.l - m.r;
  const H = height - m.t - m.b;
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * W;
  const py = (y: number) => m.t + H - ((y - y0) / (y1 - y0)) * H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l + W / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${W}" height="${H}" fill="none" stroke="#444"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const xv = x0 + ((x1 - x0) * i) / 4;
    const yv = y0 + ((y1 - y0) * i) / 4;
    out.push(`<line x1="${px(xv)}" y1="${m.t + H}" x2="${px(xv)}" y2="${m.t + H + 4}" stroke="#444"/>`);
    out.push(`<text x="${px(xv)}" y="${m.t + H + 16}" text-anchor="middle">${fmt(xv)}</text>`);
    out.push(`<line x1="${m.l - 4}" y1="${py(yv)}" x2="${m.l + W}" y2="${py(yv)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 6}" y="${py(yv) + 4}" text-anchor="end">${fmt(yv)}</text>`);
  }
  out.push(`<text x="${m.l + W / 2}" y="${height - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${m.t + H / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    if (pts.length) out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="4 3"' : ''} points="${pts.join(' ')}"/>`);
    const ly = m.t + 12 + i * 15;
    out.push(`<line x1="${m.l + W + 10}" y1="${ly - 4}" x2="${m.l + W + 30}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    out.push(`<text x="${m.l + W + 34}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>\n');
  return out.join('\n');
}

export interface MaskPanel {
  title: string;
  /** k × k values in [0, 1], row-major. */
  values: number[];
  k: number;
  /** Side of the centred window in use (outlined). */
  window: number;
}

/** Heat maps of masks side by side, the used s × s window outlined. */
export function maskPanels(title: string, panels: MaskPanel[], cell = 12): string {
  const gap = 24;
  const side = Math.max(...panels.map((p) => p.k)) * cell;
  const width = panels.length * (side + gap) + gap;
  const height = side + 70;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`,
  ];
  panels.forEach((p, i) => {
    const ox = gap + i * (side + gap);
    const oy = 40;
    for (let r = 0; r < p.k; r++)
      for (let c = 0; c < p.k; c++) {
        const shade = Math.round(255 * (1 - Math.max(0, Math.min(1, p.values[r * p.k + c]!))));
        out.push(`<rect x="${ox + c * cell}" y="${oy + r * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)"/>`);
      }
    const off = ((p.k - p.window) / 2) * cell;
    out.push(`<rect x="${ox + off}" y="${oy + off}" width="${p.window * cell}" height="${p.window * cell}" fill="none" stroke="#d62728" stroke-width="2"/>`);
    out.push(`<text x="${ox + side / 2}" y="${oy + side + 16}" text-anchor="middle">${esc(p.title)}</text>`);
  });
  out.push('</svg>\n');
  return out.join('\n');
}
