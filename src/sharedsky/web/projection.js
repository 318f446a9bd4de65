// The map's projection (cos-scaled equirectangular world coordinates), GeoJSON to Path2D,
// and the view transform between world and canvas pixels.
import { S, $ } from "./state.js";

export const canvas = $("map");

export function worldX(lon) { return lon * S.cos0; }
export function worldY(lat) { return -lat; }

export function ringsOf(geom) {
  if (!geom) return [];
  if (geom.type === "Polygon") return geom.coordinates;
  if (geom.type === "MultiPolygon") return geom.coordinates.flat();
  if (geom.type === "LineString") return [geom.coordinates];
  if (geom.type === "MultiLineString") return geom.coordinates;
  return [];
}

export function pathOf(geom) {
  const p = new Path2D();
  const bbox = [Infinity, Infinity, -Infinity, -Infinity]; // lon/lat
  for (const ring of ringsOf(geom)) {
    for (let i = 0; i < ring.length; i++) {
      const lon = ring[i][0], lat = ring[i][1];
      if (i === 0) p.moveTo(worldX(lon), worldY(lat)); else p.lineTo(worldX(lon), worldY(lat));
      if (lon < bbox[0]) bbox[0] = lon;
      if (lat < bbox[1]) bbox[1] = lat;
      if (lon > bbox[2]) bbox[2] = lon;
      if (lat > bbox[3]) bbox[3] = lat;
    }
    p.closePath();
  }
  return { path: p, bbox };
}

export function setProjection(lat) {
  S.lat0 = lat;
  S.cos0 = Math.cos((lat * Math.PI) / 180);
}

export function viewTransform() {
  const W = canvas.clientWidth, H = canvas.clientHeight;
  const k = Math.pow(2, S.view.z);
  const cx = worldX(S.view.lon), cy = worldY(S.view.lat);
  return { W, H, k, cx, cy, ox: W / 2 - cx * k, oy: H / 2 - cy * k };
}

export function screenToLonLat(px, py) {
  const T = viewTransform();
  const X = (px - T.ox) / T.k, Y = (py - T.oy) / T.k;
  return { lon: X / S.cos0, lat: -Y };
}
