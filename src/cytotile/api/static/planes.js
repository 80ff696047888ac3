/* cytotile viewer: channels, focal planes and timepoints of multi-dimensional images.
 *
 * A panel under the image header: one row per channel (shown or not, colour, min/max, gamma),
 * Z and T sliders when the image has them, a scale bar from the physical pixel size and the
 * image's metadata. Everything goes through the same tile URLs (PIMS's plane parameters):
 * viewer.js asks query() for each tile and reopens the image when the panel changes.
 * State for tests: window.cytotilePlanes.settings.
 */
"use strict";

(function () {
  const $ = (selector) => document.querySelector(selector);
  const PALETTE = ["#ff0000", "#00ff00", "#0000ff", "#00ffff", "#ff00ff", "#ffff00"];
  const NICE = [1, 2, 5];

  const planes = {
    info: null, // /info/image
    settings: null, // {channels: [{on, color, min, max, gamma}], z, t}
    changed: false, // whether the user changed anything (plain images keep passthrough)
    onChange: null,
    seq: 0,
    base: null, // the image the panel is for
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
    if (typeof color !== "string") return null;
    const m = color.trim().toLowerCase().match(/^#([0-9a-f]{3}|[0-9a-f]{6})$/);
    if (!m) return null;
    const h = m[1];
    return h.length === 3 ? `#${h[0]}${h[0]}${h[1]}${h[1]}${h[2]}${h[2]}` : `#${h}`;
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${response.status} ${url}`);
    return response.json();
  }

  /** Whether tiles need plane parameters: several channels or planes, deeper than 8 bits, or a
   * change by the user. Plain 8-bit RGB/grey images keep the stored (passthrough) tiles. */
  function active() {
    const info = planes.info;
    if (!info || !planes.settings) return false;
    if (window.cytotile && window.cytotile.source !== "pims") return false;
    return planes.changed || !plain(info);
  }

  /** An 8-bit RGB or grey image of one plane: no panel, stored tiles as they are. */
  function plain(info) {
    return info.n_concrete_channels === 1 && info.n_planes === 1 && info.pixel_type === "uint8";
  }

  /** The query string of the current settings ("" when tiles need none). */
  planes.query = function () {
    if (!active()) return "";
    const s = planes.settings;
    const shown = s.channels.map((c, i) => ({ ...c, i })).filter((c) => c.on);
    const params = new URLSearchParams();
    params.set("channels", shown.map((c) => c.i).join(","));
    params.set("z_slices", String(s.z));
    params.set("timepoints", String(s.t));
    params.set("min_intensities", shown.map((c) => Math.round(c.min)).join(","));
    params.set("max_intensities", shown.map((c) => Math.round(c.max)).join(","));
    params.set("gammas", shown.map((c) => c.gamma).join(","));
    if (planes.info.n_channels > 1 && !(planes.info.n_samples === 3 && !planes.changed)) {
      params.set("colormaps", shown.map((c) => c.color).join(","));
    }
    return params.toString();
  };

  function changed() {
    planes.changed = true;
    if (planes.onChange) planes.onChange();
  }

  function channelRow(channel, index, setting) {
    const row = el("div", { class: "planes__channel", "data-channel": String(index) });
    const on = el("input", { type: "checkbox", "aria-label": `Show ${channel.suggested_name}` });
    on.checked = setting.on;
    on.addEventListener("change", () => {
      const others = planes.settings.channels.filter((c, i) => i !== index && c.on);
      if (!on.checked && others.length === 0) {
        on.checked = true; // at least one channel stays shown
        return;
      }
      setting.on = on.checked;
      changed();
    });
    const color = el("input", { type: "color", "aria-label": `Colour of ${channel.suggested_name}` });
    color.value = setting.color;
    color.addEventListener("change", () => {
      setting.color = color.value;
      changed();
    });
    const name = el("span", { class: "planes__name" }, channel.suggested_name);
    const bound = (key, label) => {
      const input = el("input", {
        type: "number", class: "planes__bound", "data-bound": key, "aria-label": label,
      });
      input.value = String(setting[key]);
      input.addEventListener("change", () => {
        const value = Number(input.value);
        if (Number.isFinite(value)) setting[key] = value;
        changed();
      });
      return input;
    };
    const gamma = el("input", {
      type: "range", min: "0.1", max: "3", step: "0.1", class: "planes__gamma",
      "aria-label": `Gamma of ${channel.suggested_name}`,
    });
    gamma.value = String(setting.gamma);
    gamma.addEventListener("change", () => {
      setting.gamma = Number(gamma.value);
      changed();
    });
    row.append(on, color, name, bound("min", "Minimum intensity"),
      bound("max", "Maximum intensity"), gamma);
    return row;
  }

  function slider(axis, count, value) {
    const wrap = el("label", { class: "planes__slider" });
    const out = el("output", {}, `${axis} ${value + 1}/${count}`);
    const input = el("input", {
      type: "range", min: "0", max: String(count - 1), step: "1", id: `planes-${axis}`,
      "aria-label": axis === "Z" ? "Focal plane" : "Timepoint",
    });
    input.value = String(value);
    input.addEventListener("change", () => {
      planes.settings[axis.toLowerCase()] = Number(input.value);
      out.textContent = `${axis} ${Number(input.value) + 1}/${count}`;
      changed();
    });
    wrap.append(input, out);
    return wrap;
  }

  function metadataList(info, channels) {
    const dl = el("dl", { class: "planes__meta" });
    const size = info.physical_size_x ? ` · ${info.physical_size_x.toPrecision(3)} µm/px` : "";
    const facts = [
      ["Size", `${info.width} × ${info.height} px${size}`],
      ["Planes", `C=${info.n_concrete_channels} Z=${info.depth} T=${info.duration}`],
      ["Pixels", `${info.pixel_type}, ${info.significant_bits} bits`],
      ["Channels", channels.map((c) => c.suggested_name).join(", ")],
    ];
    if (info.frame_rate) facts.push(["Frame rate", `${info.frame_rate} /s`]);
    for (const [k, v] of facts) dl.append(el("dt", {}, k), el("dd", {}, v));
    return dl;
  }

  /** Build the panel for an opened image; ``onChange`` reopens its tiles. */
  planes.open = async function (imageBase, onChange) {
    const seq = ++planes.seq;
    const panel = $("#planes-panel");
    const same = planes.base === imageBase; // the same image again (another tile source)
    planes.base = imageBase;
    planes.info = null;
    planes.settings = null;
    planes.changed = false;
    planes.onChange = onChange;
    if (!same) {
      panel.hidden = true;
      panel.replaceChildren();
    }
    let info, channels, bounds;
    try {
      [info, channels] = await Promise.all([
        getJson(`${imageBase}/info/image`),
        getJson(`${imageBase}/info/channels`).then((r) => r.items),
      ]);
      bounds = await getJson(`${imageBase}/histogram/per-channels/bounds`)
        .then((r) => r.items)
        .catch(() => []); // no histogram: the type's range
    } catch (error) {
      console.warn("cytotile: no plane information", error);
      return;
    }
    if (seq !== planes.seq) return;
    const top = info.pixel_type === "uint8" ? 255 : 65535;
    planes.info = info;
    const pims = !window.cytotile || window.cytotile.source === "pims";
    if (plain(info) || !pims) {
      panel.hidden = true; // plain RGB/grey: nothing to choose; IIIF/DZI take no plane parameters
      document.body.dataset.planes = "none";
      return;
    }
    planes.settings = {
      z: Math.floor((info.depth - 1) / 2),
      t: 0,
      channels: channels.map((c, i) => {
        const b = bounds.find((x) => x.channel === i);
        const fallback = channels.length === 3 && info.n_samples === 3 ? PALETTE[i] : "#ffffff";
        return {
          on: true,
          color: hex6(c.color) || (channels.length > 1 ? PALETTE[i % 6] : fallback),
          min: b && info.pixel_type !== "uint8" ? b.minimum : 0,
          max: b && info.pixel_type !== "uint8" ? b.maximum : top,
          gamma: 1,
        };
      }),
    };
    const list = el("div", { class: "planes__channels" });
    channels.forEach((c, i) => list.append(channelRow(c, i, planes.settings.channels[i])));
    panel.replaceChildren(list);
    if (info.depth > 1) panel.append(slider("Z", info.depth, planes.settings.z));
    if (info.duration > 1) panel.append(slider("T", info.duration, planes.settings.t));
    panel.append(metadataList(info, channels));
    panel.hidden = false;
    document.body.dataset.planes = "ready";
    if (active() && planes.onChange) planes.onChange(); // first tiles asked before the panel
  };

  /** A scale bar from the physical pixel size and the current zoom. */
  planes.updateScaleBar = function (viewer) {
    const bar = $("#scale-bar");
    const um = planes.info && planes.info.physical_size_x;
    if (!bar || !viewer || !um || !viewer.world.getItemCount()) {
      if (bar) bar.hidden = true;
      return;
    }
    const item = viewer.world.getItemAt(0);
    const screenPerImage = item.viewportToImageZoom(viewer.viewport.getZoom(true));
    const umPerScreenPx = um / screenPerImage;
    const target = 120 * umPerScreenPx; // about 120 px long
    const exponent = Math.floor(Math.log10(target));
    let length = 10 ** exponent;
    for (const n of NICE) if (n * 10 ** exponent <= target) length = n * 10 ** exponent;
    bar.style.width = `${Math.round(length / umPerScreenPx)}px`;
    bar.textContent = length >= 1000 ? `${length / 1000} mm` : `${length} µm`;
    bar.hidden = false;
  };
})();
