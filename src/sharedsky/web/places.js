// Places to steer by: towns (GeoNames), aerodromes (airportsdata) and the airbases the service was told of, drawn
// under the traffic and shown by zoom level: bases always, aerodromes with an IATA code from a
// regional view, every aerodrome closer in; codes, then names, as the view closes in. The
// places come from the service for a box around the view (GET /api/v1/places), never elsewhere.
import { S, api } from "./state.js";
import { screenToLonLat } from "./projection.js";

const P = { box: null, z: null, loading: false, aerodromes: [], bases: [], towns: [], shown: 0, towns_shown: 0 };
// towns by zoom level: the least population shown from each zoom on (z: log2 px per degree)
const TOWN_ZOOMS = [[8, 0], [7.3, 100000], [6.5, 300000], [5, 1000000]];

function wanted(T) {
  // the view's box, three times as large, refreshed when the view leaves the loaded box
  const a = screenToLonLat(-T.W, -T.H), b = screenToLonLat(2 * T.W, 2 * T.H);
  return [Math.max(-180, a.lon), Math.max(-90, b.lat), Math.min(180, b.lon), Math.min(90, a.lat)];
}

function load(T) {
  const v = screenToLonLat(0, 0), w = screenToLonLat(T.W, T.H);
  const b = P.box;
  if (P.loading || (b && v.lon >= b[0] && w.lon <= b[2] && w.lat >= b[1] && v.lat <= b[3] && Math.abs(P.z - S.view.z) < 2)) return;
  const box = wanted(T);
  if (!(box[0] < box[2] && box[1] < box[3])) return;
  P.loading = true;
  api(`/api/v1/places?bbox=${box.map((x) => x.toFixed(3)).join(",")}`)
    .then((r) => { P.box = box; P.z = S.view.z; P.aerodromes = r.aerodromes || []; P.bases = r.bases || []; P.towns = r.towns || []; S.dirty = true; })
    .catch((e) => console.error("places", e))
    .finally(() => { P.loading = false; });
}

/** Draw the places in view (CSS px transform set by the caller). */
export function drawPlaces(ctx, T) {
  if (!S.me) return;
  load(T);
  const { k, ox, oy, W, H } = T;
  const z = S.view.z;
  const xy = (p) => [p.lon * S.cos0 * k + ox, -p.lat * k + oy];
  let shown = 0, towns = 0;
  const minPop = (TOWN_ZOOMS.find(([zz]) => z >= zz) || [0, Infinity])[1];
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "rgba(200,210,220,0.55)";
  for (const t of P.towns) {
    if (t.population < minPop) break; // largest first
    const [x, y] = xy(t);
    if (x < -40 || y < -20 || x > W + 40 || y > H + 20) continue;
    towns++;
    ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
    ctx.fillText(t.name, x + 4, y - 3);
  }
  ctx.font = "10px ui-monospace, 'DejaVu Sans Mono', monospace";
  ctx.lineWidth = 1;
  if (z >= 6.3) {
    ctx.strokeStyle = "rgba(150,190,220,0.55)";
    ctx.fillStyle = "rgba(150,190,220,0.6)";
    for (const a of P.aerodromes) {
      if (!a.iata && z < 8) continue;
      const [x, y] = xy(a);
      if (x < -20 || y < -20 || x > W + 20 || y > H + 20) continue;
      shown++;
      ctx.beginPath(); ctx.arc(x, y, 3.5, 0, 2 * Math.PI); ctx.moveTo(x - 5, y); ctx.lineTo(x + 5, y); ctx.stroke();
      if (z >= (a.iata ? 7.5 : 8.8)) ctx.fillText(z >= 9.8 ? `${a.icao} ${a.name}` : a.icao, x + 6, y + 10);
    }
  }
  ctx.strokeStyle = "#c9a0ff";
  ctx.fillStyle = "#c9a0ff";
  for (const b of P.bases) {
    const [x, y] = xy(b);
    if (x < -20 || y < -20 || x > W + 20 || y > H + 20) continue;
    shown++;
    ctx.strokeRect(x - 4, y - 4, 8, 8);
    ctx.beginPath(); ctx.moveTo(x - 4, y - 4); ctx.lineTo(x + 4, y + 4); ctx.moveTo(x + 4, y - 4); ctx.lineTo(x - 4, y + 4); ctx.stroke();
    ctx.fillText(z >= 7.5 ? b.name : (b.icao || b.id), x + 7, y + 11);
  }
  P.shown = shown;
  P.towns_shown = towns;
}

/** What the places layer holds and shows (read by the tests). */
export function placesState() {
  return { aerodromes: P.aerodromes.length, bases: P.bases.map((b) => b.id), shown: P.shown, box: P.box,
    towns: P.towns.length, towns_shown: P.towns_shown };
}
