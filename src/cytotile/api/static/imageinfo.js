/* cytotile viewer: what the open image is. The main fields of its /info (size, planes, pixel
 * type, physical sizes, channels, instrument) in the sidebar, its raw metadata (/metadata) in a
 * collapsible list read when first opened, and a scale bar from the physical pixel size that
 * follows the zoom. window.cytotileImageInfo: show(imageBase, info), clear(), scaleBar(viewer).
 */
"use strict";

(function () {
  const NICE = [1, 2, 5];
  const BAR_PX = 120; // about how long the scale bar is on screen
  const MAX_ROWS = 2000; // raw metadata rows shown (vendor files can have many more)
  const $ = (selector) => document.querySelector(selector);

  const details = { base: null, info: null, rawLoaded: false };
  window.cytotileImageInfo = details;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  const nf = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });

  /** A length given in micrometres, in the unit that suits it. */
  function length(um) {
    if (um >= 1000) return `${nf.format(um / 1000)} mm`;
    if (um < 1) return `${nf.format(um * 1000)} nm`;
    return `${nf.format(um)} µm`;
  }

  /** A physical pixel size: in micrometres as microscopy gives them (mm when that large). */
  const pixelSize = (um) => (um >= 1000 ? `${nf.format(um / 1000)} mm` : `${nf.format(um)} µm`);

  function facts(info) {
    const image = info.image;
    const rows = [
      ["Format", image.original_format],
      ["Size", `${image.width} × ${image.height} px`],
      ["Planes", `C ${image.n_channels} · Z ${image.depth} · T ${image.duration}`],
      ["Pixels", `${image.pixel_type}, ${image.significant_bits} significant bits`],
    ];
    if (image.physical_size_x) {
      const y = image.physical_size_y || image.physical_size_x;
      rows.push(["Pixel size", `${pixelSize(image.physical_size_x)} × ${pixelSize(y)}`]);
    }
    if (image.physical_size_z) rows.push(["Z step", pixelSize(image.physical_size_z)]);
    if (image.frame_rate) rows.push(["Frame rate", `${nf.format(image.frame_rate)} /s`]);
    const channels = (info.channels || []).map((c) => {
      const nm = c.emission_wavelength ? ` (${nf.format(c.emission_wavelength)} nm)` : "";
      return `${c.suggested_name}${nm}`;
    });
    if (channels.length) rows.push(["Channels", channels.join(", ")]);
    const objective = info.instrument && info.instrument.objective;
    if (objective && objective.nominal_magnification) {
      rows.push(["Objective", `${objective.nominal_magnification}×`]);
    }
    const microscope = info.instrument && info.instrument.microscope;
    if (microscope && microscope.model) rows.push(["Microscope", microscope.model]);
    if (image.acquired_at) rows.push(["Acquired", new Date(image.acquired_at).toLocaleString()]);
    if (image.description) rows.push(["Description", image.description]);
    return rows;
  }

  const text = (value) =>
    Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value)
      : String(value);

  async function loadRaw() {
    if (details.rawLoaded || !details.base) return;
    details.rawLoaded = true;
    const base = details.base;
    const message = $("#details-raw-message");
    const body = $("#details-raw-rows");
    message.textContent = "Loading…";
    let items;
    try {
      const response = await fetch(`${base}/metadata`, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      items = (await response.json()).items || [];
    } catch (error) {
      if (base !== details.base) return;
      details.rawLoaded = false; // try again when reopened
      message.textContent = `Cannot load the metadata: ${error.message}`;
      return;
    }
    if (base !== details.base) return;
    const rows = [];
    let namespace = null;
    for (const item of items.slice(0, MAX_ROWS)) {
      if (item.namespace !== namespace) {
        namespace = item.namespace;
        const head = el("tr", "details__namespace");
        const th = el("th", null, namespace || "—");
        th.colSpan = 2;
        th.scope = "colgroup";
        head.append(th);
        rows.push(head);
      }
      const row = el("tr");
      const key = el("th", null, item.key);
      key.scope = "row";
      row.append(key, el("td", null, text(item.value)));
      rows.push(row);
    }
    body.replaceChildren(...rows);
    $("#details-raw-count").textContent = `(${items.length})`;
    message.textContent = items.length
      ? items.length > MAX_ROWS ? `The first ${MAX_ROWS} of ${items.length}.` : ""
      : "No raw metadata.";
  }

  /** The details of the image at imageBase (its API URL), from its /info. */
  details.show = function (imageBase, info) {
    const same = details.base === imageBase;
    details.base = imageBase;
    details.info = info;
    const panel = $("#details-panel");
    if (!info) {
      panel.hidden = true;
      return;
    }
    const list = $("#details-facts");
    list.replaceChildren();
    for (const [key, value] of facts(info)) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", null, key), el("dd", null, value));
    }
    if (!same) {
      details.rawLoaded = false;
      $("#details-raw").open = false;
      $("#details-raw-rows").replaceChildren();
      $("#details-raw-count").textContent = "";
      $("#details-raw-message").textContent = "";
    }
    panel.hidden = false;
  };

  details.clear = function () {
    details.show(null, null);
    $("#scale-bar").hidden = true;
  };

  /** A round length (1, 2 or 5 × 10^n µm) about BAR_PX long at the viewer's current zoom. */
  details.scaleBar = function (viewer) {
    const bar = $("#scale-bar");
    const um = details.info && details.info.image.physical_size_x;
    if (!viewer || !um || !viewer.world.getItemCount()) {
      bar.hidden = true;
      return;
    }
    const item = viewer.world.getItemAt(0);
    const screenPerImagePx = item.viewportToImageZoom(viewer.viewport.getZoom(true));
    const umPerScreenPx = um / screenPerImagePx;
    const target = BAR_PX * umPerScreenPx;
    const power = 10 ** Math.floor(Math.log10(target));
    let round = power;
    for (const n of NICE) if (n * power <= target) round = Number((n * power).toPrecision(1));
    bar.style.width = `${Math.round(round / umPerScreenPx)}px`;
    bar.textContent = length(round);
    bar.dataset.micrometres = String(round);
    bar.hidden = false;
  };

  $("#details-raw").addEventListener("toggle", (event) => {
    if (event.target.open) loadRaw();
  });
})();
