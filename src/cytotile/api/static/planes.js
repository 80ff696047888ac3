/* cytotile viewer: channels, focal planes and timepoints of multi-dimensional images.
 *
 * A panel under the image header: one row per channel (shown or not, colour, min/max, gamma),
 * Z and T sliders when the image has them, and a reset button. Nothing is computed here: the
 * settings become PIMS's plane parameters in the tile URLs (viewer.js asks query() for each
 * tile) and every change calls onChange, which reopens the tiles. Plain 8-bit RGB/grey images
 * get no panel and keep the stored (passthrough) tiles.
 * State for tests: window.cytotilePlanes; <body data-planes> is "ready", "none" or absent.
 */
"use strict";

(function () {
  const PALETTE = ["#ff0000", "#00ff00", "#0000ff", "#00ffff", "#ff00ff", "#ffff00"];

  const planes = {
    base: null, // the image the panel is for (its API URL)
    info: null, // /info: {image, channels, instrument, ...}
    defaults: null, // the settings the image opens with
    settings: null, // {channels: [{on, color, min, max, gamma}], z, t}
    changed: false, // whether the user changed anything
    colorsChanged: false, // whether the user picked a colour
    onChange: null,
    seq: 0,
  };
  window.cytotilePlanes = planes;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** "#f00" or "#ff0000" (any case) as "#ff0000"; null for anything else. */
  function hex6(color) {
    const m = typeof color === "string" && color.trim().toLowerCase().match(/^#([0-9a-f]{3,6})$/);
    if (!m || (m[1].length !== 3 && m[1].length !== 6)) return null;
    const h = m[1];
    return h.length === 3 ? `#${h[0]}${h[0]}${h[1]}${h[1]}${h[2]}${h[2]}` : `#${h}`;
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${response.status} ${url}`);
    return response.json();
  }

  /** An 8-bit RGB or grey image of one plane: nothing to choose, stored tiles as they are. */
  const plain = (image) =>
    image.n_concrete_channels === 1 && image.n_planes === 1 && image.pixel_type === "uint8";

  const pimsSource = () => !window.cytotile || window.cytotile.source === "pims";

  /** The query string of the current settings ("" when tiles need none: plain images the user
   * left alone, and the IIIF/DeepZoom sources, which take no plane parameters). */
  planes.query = function () {
    if (!planes.settings || !pimsSource()) return "";
    const image = planes.info.image;
    if (plain(image) && !planes.changed) return "";
    const s = planes.settings;
    const shown = s.channels.map((c, i) => ({ ...c, i })).filter((c) => c.on);
    const number = (v) => (image.pixel_type.startsWith("float") ? v : Math.round(v));
    const params = new URLSearchParams();
    params.set("channels", shown.map((c) => c.i).join(","));
    if (image.depth > 1) params.set("z_slices", String(s.z));
    if (image.duration > 1) params.set("timepoints", String(s.t));
    params.set("min_intensities", shown.map((c) => number(c.min)).join(","));
    params.set("max_intensities", shown.map((c) => number(c.max)).join(","));
    params.set("gammas", shown.map((c) => c.gamma).join(","));
    // RGB samples are shown as RGB unless a colour was picked; other channels by their colour.
    if (planes.colorsChanged || (image.n_channels > 1 && image.n_samples !== 3)) {
      params.set("colormaps", shown.map((c) => c.color).join(","));
    }
    return params.toString();
  };

  function changed() {
    planes.changed = true;
    if (planes.onChange) planes.onChange();
  }

  /** The settings an image opens with: every channel shown in its colour, min/max from the
   * histogram bounds (RGB samples: the full range of their significant bits), gamma 1. */
  function defaultSettings(image, channels, bounds) {
    const rgb = image.n_samples === 3;
    const top = 2 ** (image.significant_bits || image.bits || 8) - 1;
    return {
      z: Math.floor((image.depth - 1) / 2),
      t: 0,
      channels: channels.map((channel, i) => {
        const b = bounds.find((x) => x.channel === i);
        const full = rgb || !b;
        return {
          on: true,
          color: hex6(channel.color) || (channels.length > 1 ? PALETTE[i % 6] : "#ffffff"),
          min: full ? 0 : b.minimum,
          max: full ? top : b.maximum,
          gamma: 1,
        };
      }),
    };
  }

  const copy = (settings) => JSON.parse(JSON.stringify(settings));

  function channelRow(channel, index, setting, image) {
    const name = channel.suggested_name || `Channel ${index}`;
    const row = el("div", { class: "planes__channel", "data-channel": String(index) });
    const on = el("input", { type: "checkbox", "aria-label": `Show ${name}` });
    on.checked = setting.on;
    on.addEventListener("change", () => {
      const others = planes.settings.channels.filter((c, i) => i !== index && c.on);
      if (!on.checked && others.length === 0) {
        on.checked = true; // at least one channel stays shown
        return;
      }
      setting.on = on.checked;
      row.classList.toggle("planes__channel--off", !on.checked);
      changed();
    });
    const color = el("input", { type: "color", "aria-label": `Colour of ${name}` });
    color.value = setting.color;
    color.addEventListener("change", () => {
      setting.color = color.value;
      planes.colorsChanged = true;
      changed();
    });
    const label = el("span", { class: "planes__name", title: name }, name);
    if (channel.emission_wavelength) label.title = `${name} (${channel.emission_wavelength} nm)`;
    const step = image.pixel_type.startsWith("float") ? "any" : "1";
    const bound = (key, text) => {
      const input = el("input", {
        type: "number", step, class: "planes__bound", "data-bound": key,
        "aria-label": `${text} intensity of ${name}`, title: `${text} intensity`,
      });
      input.value = String(setting[key]);
      input.addEventListener("change", () => {
        const value = Number(input.value);
        const low = key === "min" ? value : setting.min;
        const high = key === "max" ? value : setting.max;
        if (input.value === "" || !Number.isFinite(value) || low >= high) {
          input.setCustomValidity("The minimum must be below the maximum.");
          input.reportValidity();
          input.setCustomValidity("");
          input.value = String(setting[key]); // back to the last valid one
          return;
        }
        setting[key] = value;
        changed();
      });
      return input;
    };
    const gamma = el("input", {
      type: "range", min: "0.1", max: "3", step: "0.05", class: "planes__gamma",
      "data-gamma": "", "aria-label": `Gamma of ${name}`,
    });
    gamma.value = String(setting.gamma);
    const shown = el("output", { class: "planes__value" }, `γ ${setting.gamma}`);
    gamma.addEventListener("input", () => (shown.textContent = `γ ${gamma.value}`));
    gamma.addEventListener("change", () => {
      setting.gamma = Number(gamma.value);
      shown.textContent = `γ ${gamma.value}`;
      changed();
    });
    row.append(on, color, label, bound("min", "Minimum"), bound("max", "Maximum"), gamma, shown);
    return row;
  }

  function slider(axis, count, value) {
    const key = axis.toLowerCase();
    const wrap = el("label", { class: "planes__slider" });
    const text = (v) => `${axis} ${v + 1}/${count}`;
    const out = el("output", { class: "planes__value" }, text(value));
    const input = el("input", {
      type: "range", min: "0", max: String(count - 1), step: "1", id: `planes-${axis}`,
      "aria-label": axis === "Z" ? "Focal plane" : "Timepoint",
    });
    input.value = String(value);
    input.addEventListener("input", () => (out.textContent = text(Number(input.value))));
    input.addEventListener("change", () => {
      planes.settings[key] = Number(input.value);
      out.textContent = text(planes.settings[key]);
      changed();
    });
    wrap.append(input, out);
    return wrap;
  }

  function render() {
    const panel = document.querySelector("#planes-panel");
    const { image, channels } = planes.info;
    const list = el("div", { class: "planes__channels" });
    channels.forEach((c, i) => {
      const row = channelRow(c, i, planes.settings.channels[i], image);
      row.classList.toggle("planes__channel--off", !planes.settings.channels[i].on);
      list.append(row);
    });
    panel.replaceChildren(list);
    if (image.depth > 1) panel.append(slider("Z", image.depth, planes.settings.z));
    if (image.duration > 1) panel.append(slider("T", image.duration, planes.settings.t));
    const reset = el("button", { type: "button", class: "button button--quiet" }, "Reset");
    reset.addEventListener("click", () => {
      planes.settings = copy(planes.defaults);
      planes.changed = planes.colorsChanged = false;
      render();
      if (planes.onChange) planes.onChange();
    });
    const note = el("p", { class: "planes__note" }, "IIIF and DeepZoom tiles are the image as "
      + "stored: choose PIMS tiles to change its channels and planes.");
    panel.append(reset, note);
  }

  /** Shows or hides the panel for the current image and source. */
  function show() {
    const panel = document.querySelector("#planes-panel");
    const multi = Boolean(planes.settings && !plain(planes.info.image));
    const ready = multi && pimsSource(); // IIIF/DeepZoom take no plane parameters
    panel.hidden = !multi;
    panel.inert = multi && !ready;
    panel.classList.toggle("planes--inactive", multi && !ready);
    document.body.dataset.planes = ready ? "ready" : "none";
  }

  /** Loads the image's information and builds the panel (the settings survive a reload of the
   * same image, e.g. for another tile source). Resolves with /info, or null when unavailable. */
  planes.load = async function (imageBase) {
    const seq = ++planes.seq;
    planes.onChange = null;
    if (planes.base === imageBase && planes.settings) {
      show();
      return planes.info;
    }
    planes.clear();
    planes.base = imageBase;
    let info, bounds;
    try {
      [info, bounds] = await Promise.all([
        getJson(`${imageBase}/info`),
        getJson(`${imageBase}/histogram/per-channels/bounds`)
          .then((r) => r.items)
          .catch(() => []), // no histogram: the full range
      ]);
    } catch (error) {
      console.warn("cytotile: no image information", error);
      return null;
    }
    if (seq !== planes.seq) return null;
    if (!info || !info.image || !Array.isArray(info.channels)) return null;
    planes.info = info;
    planes.defaults = defaultSettings(info.image, info.channels, bounds);
    planes.settings = copy(planes.defaults);
    if (!plain(info.image)) render(); // plain images: no controls at all
    show();
    return info;
  };

  /** No image: no panel. */
  planes.clear = function () {
    planes.base = planes.info = planes.defaults = planes.settings = null;
    planes.changed = planes.colorsChanged = false;
    const panel = document.querySelector("#planes-panel");
    panel.hidden = true;
    panel.replaceChildren();
    delete document.body.dataset.planes;
  };
})();
