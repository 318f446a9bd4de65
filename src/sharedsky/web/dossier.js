// The incident dossier from the alert list: built by the service for this key's party
// (GET /api/v1/dossier?seq=, what the party may not see shown as withheld) and opened in a new
// tab as a page of its own (a blob: URL, so the key never goes into an address; the page can be
// saved as it is and checked offline with `sharedsky verify`).
import { S, esc } from "./state.js";
import { setStatus } from "./line.js";

// The alert threads a dossier is built for (the service's INCIDENT_KINDS).
export const DOSSIER_KINDS = new Set(["conflict", "loss_of_separation", "airspace", "distress", "notice_volume"]);

/** The dossier button of an alert row (the thread's first entry names the incident). */
export function dossierButton(kind, seq) {
  if (!DOSSIER_KINDS.has(kind)) return "";
  return `<button class="dossier" data-dossier="${esc(seq)}" title="the incident's dossier (HTML, checkable offline), built for you by the service">dossier</button>`;
}

/** Open the dossier of incident `seq` in a new tab. */
export async function openDossier(seq) {
  // The tab is opened now, while the click still counts as the user's: building takes seconds.
  const w = window.open("", "_blank");
  if (w) {
    w.document.title = `dossier of incident #${seq}`;
    w.document.body.textContent = `Building the dossier of incident #${seq}…`;
  }
  try {
    const r = await fetch(`/api/v1/dossier?seq=${encodeURIComponent(seq)}`, { headers: { Authorization: "Bearer " + S.key } });
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(`${r.status}: ${detail}`);
    }
    // not revoked: the tab keeps it to save the page
    const url = URL.createObjectURL(await r.blob());
    if (w) w.location.href = url; else window.open(url, "_blank");
  } catch (e) {
    if (w) w.document.body.textContent = `No dossier of incident #${seq}: ${e.message}`;
    setStatus(`dossier of #${seq}: ${e.message}`, true);
  }
}
