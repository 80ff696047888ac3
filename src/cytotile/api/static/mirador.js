/* Mirador over one IIIF manifest: mirador.html?manifest=<url>. window.cytotileMirador is the
 * Mirador instance (tests and debugging). */
"use strict";

(function () {
  const manifest = new URLSearchParams(location.search).get("manifest");
  const root = document.querySelector("#mirador");
  if (typeof Mirador === "undefined") {
    root.textContent = "Mirador is missing (run `make viewer-assets`).";
    return;
  }
  if (!manifest) {
    root.textContent = "Give a IIIF manifest: mirador.html?manifest=<url>.";
    return;
  }
  window.cytotileMirador = Mirador.viewer({
    id: "mirador",
    windows: [{ manifestId: manifest, thumbnailNavigationPosition: "far-bottom" }],
    window: { allowClose: false, defaultSideBarPanel: "info", sideBarOpenByDefault: false },
    workspaceControlPanel: { enabled: false },
  });
})();
