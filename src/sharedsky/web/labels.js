// Label placement (declutter): aircraft labels and alert tags never overlap each other or an
// aircraft symbol. Each label is tried at its previous place first (no jumping between frames),
// then beside its anchor and then further out along a leader line, in eight directions; the
// selected aircraft is placed first and always drawn, alert labels next, the rest as room allows.
// The last layout is kept for the page's layout hook (window.sharedskyLayout, read by the tests).

const DIRS = [[1, 0], [1, -1], [1, 1], [-1, 0], [0, -1], [0, 1], [-1, -1], [-1, 1]]; // right first
const RADII_PX = [0, 10, 22, 36, 54, 76];
const RADII_HOT_PX = [...RADII_PX, 100, 130, 170, 220, 280];
const CELL_PX = 40;
const GAP_PX = 4;
const NUDGE_PX = [0, -3, 3, -6, 6, -10, 10];

// id -> [offset x, y of the box from its anchor, width, height] of the place each label had in the last frame
const previous = new Map();
let lastLayout = { labels: [], symbols: [], dropped: [] };

/** A uniform grid of boxes (x, y, w, h) answering "does this box hit any stored one?". Plain
 * loops, no closure or padded box per question: a crowded frame asks thousands of them. */
class BoxGrid {
  constructor() { this.cells = new Map(); }
  add(b) {
    const x0 = Math.floor(b.x / CELL_PX), x1 = Math.floor((b.x + b.w) / CELL_PX);
    const y0 = Math.floor(b.y / CELL_PX), y1 = Math.floor((b.y + b.h) / CELL_PX);
    for (let gy = y0; gy <= y1; gy++) for (let gx = x0; gx <= x1; gx++) {
      const k = gy * 100003 + gx, c = this.cells.get(k);
      if (c) c.push(b); else this.cells.set(k, [b]);
    }
  }
  hits(b, pad) {
    const bx = b.x - pad, by = b.y - pad, bx2 = b.x + b.w + pad, by2 = b.y + b.h + pad;
    const x0 = Math.floor(bx / CELL_PX), x1 = Math.floor(bx2 / CELL_PX);
    const y0 = Math.floor(by / CELL_PX), y1 = Math.floor(by2 / CELL_PX);
    for (let gy = y0; gy <= y1; gy++) for (let gx = x0; gx <= x1; gx++) {
      const c = this.cells.get(gy * 100003 + gx);
      if (!c) continue;
      for (let i = 0; i < c.length; i++) {
        const o = c[i];
        if (bx < o.x + o.w && o.x < bx2 && by < o.y + o.h && o.y < by2) return true;
      }
    }
    return false;
  }
}

function boxAt(it, d, r) {
  const [dx, dy] = DIRS[d];
  const g = it.clear + RADII_HOT_PX[r];
  const diag = dx !== 0 && dy !== 0 ? 0.72 : 1;
  const x = dx > 0 ? it.ax + g * diag : dx < 0 ? it.ax - g * diag - it.w : it.ax - it.w / 2;
  const y = dy > 0 ? it.ay + g * diag : dy < 0 ? it.ay - g * diag - it.h : it.ay - it.h / 2;
  return { x, y, w: it.w, h: it.h };
}

/**
 * Place labels. `items`: {id, kind, ax, ay, w, h, clear, prio, must}; anchors in CSS px, `clear`
 * the distance kept from the anchor (the symbol's half size), `prio` higher first, `must` drawn
 * even where nothing is free. `symbols`: {id, x, y, w, h} boxes no label may cover.
 * Returns the placed labels with their box and whether a leader line is needed.
 */
export function placeLabels(items, symbols, W, H) {
  const grid = new BoxGrid();
  for (const s of symbols) grid.add({ x: s.x, y: s.y, w: s.w, h: s.h, owner: "sym:" + s.id });
  const order = items.slice().sort((a, b) => b.prio - a.prio || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const placed = [], dropped = [];
  for (const it of order) {
    const radii = it.prio > 1 ? RADII_HOT_PX.length : RADII_PX.length;
    const prev = previous.get(it.id);
    let got = null;
    if (prev) {
      // a box does not shrink by a little (a time to go of 1:00 after 59 s) and so does not shift
      if (prev[2] > it.w && prev[2] - it.w < 40) it.w = prev[2];
      if (prev[3] > it.h && prev[3] - it.h < 30) it.h = prev[3];
      // stay put: the previous place (same offset from the anchor), if it is still free
      const b = { x: it.ax + prev[0], y: it.ay + prev[1], w: it.w, h: it.h };
      if (b.x >= 0 && b.y >= 0 && b.x + b.w <= W && b.y + b.h <= H && !grid.hits(b, 0)) got = b;
    }
    // a new place keeps a gap, the previous one need only be free: aircraft that creep
    // a pixel towards each other do not push their labels about
    const free = (b) => b.x >= 0 && b.y >= 0 && b.x + b.w <= W && b.y + b.h <= H && !grid.hits(b, GAP_PX);
    if (!got && !prev) {
      // a new label: beside its anchor first, then further out (boxes made as they are tried)
      for (let r = 0; r < radii && !got; r++) for (let d = 0; d < DIRS.length; d++) {
        const b = boxAt(it, d, r);
        if (free(b)) { got = b; break; }
      }
    } else if (!got) {
      // its place is taken: that place nudged a few pixels, then the places nearest to it (no jumping)
      const tries = []; // [box, distance from the previous place]
      const px = it.ax + prev[0], py = it.ay + prev[1];
      for (let r = 0; r < radii; r++) for (let d = 0; d < DIRS.length; d++) tries.push([boxAt(it, d, r), 1]);
      for (const nx of NUDGE_PX) for (const ny of NUDGE_PX) if (nx || ny) tries.push([{ x: px + nx, y: py + ny, w: it.w, h: it.h }, 1]);
      for (const t of tries) t[1] = Math.hypot(t[0].x - px, t[0].y - py) || 1;
      tries.sort((a, b) => a[1] - b[1]);
      for (const [b] of tries) if (free(b)) { got = b; break; }
    }
    if (!got && it.must) got = prev ? { x: it.ax + prev[0], y: it.ay + prev[1], w: it.w, h: it.h } : boxAt(it, 0, 0);
    if (!got) { dropped.push(it.id); continue; }
    const box = { x: got.x, y: got.y, w: got.w, h: got.h, owner: it.id };
    grid.add(box);
    previous.set(it.id, [box.x - it.ax, box.y - it.ay, box.w, box.h]);
    const [qx, qy] = nearestOnBox(box, it.ax, it.ay);
    placed.push({ id: it.id, kind: it.kind, x: box.x, y: box.y, w: box.w, h: box.h, ax: it.ax, ay: it.ay,
      leader: Math.hypot(qx - it.ax, qy - it.ay) > it.clear + 3, item: it });
  }
  const live = new Set(items.map((i) => i.id));
  for (const k of previous.keys()) if (!live.has(k)) previous.delete(k);
  lastLayout = {
    labels: placed.map((p) => ({ id: p.id, kind: p.kind, x: p.x, y: p.y, w: p.w, h: p.h, ax: p.ax, ay: p.ay })),
    symbols: symbols.map((s) => ({ id: s.id, x: s.x, y: s.y, w: s.w, h: s.h })),
    dropped,
  };
  return placed;
}

/** The point of a box nearest to (x, y): where a leader line from the anchor meets the label. */
export function nearestOnBox(b, x, y) {
  return [Math.max(b.x, Math.min(x, b.x + b.w)), Math.max(b.y, Math.min(y, b.y + b.h))];
}

/** The last frame's layout: label and symbol boxes in CSS px, and the labels left out. */
export function layoutReport() {
  return {
    labels: lastLayout.labels.map((l) => Object.assign({}, l)),
    symbols: lastLayout.symbols.map((s) => Object.assign({}, s)),
    dropped: lastLayout.dropped.slice(),
  };
}
