/* cytotile viewer: the list of uploads, an upload form and an OpenSeadragon viewer.
 *
 * Plain script, no build step. Every URL is relative to the page, so the page also works under a
 * path prefix. State for tests and debugging: window.cytotileViewer (the OpenSeadragon viewer)
 * and window.cytotile (what is open, how far it loaded); <body data-viewer-state> mirrors it.
 */
"use strict";

(function () {
  const POLL_BUSY_MS = 2000; // while an import is in progress
  const POLL_IDLE_MS = 20000; // to notice imports started elsewhere (CLI, S3)
  const THUMB_LENGTH = 128;

  const OK_STATUSES = new Set(["DEPLOYED", "CONVERTED", "EXTRACTED"]);
  const VIEWABLE_STATUSES = new Set(["DEPLOYED"]);

  const $ = (selector) => document.querySelector(selector);
  const els = {
    form: $("#upload-form"),
    input: $("#upload-input"),
    uploadButton: $("#upload-button"),
    progress: $("#upload-progress"),
    uploadMessage: $("#upload-message"),
    list: $("#uploads"),
    count: $("#uploads-count"),
    listMessage: $("#uploads-message"),
    refresh: $("#refresh-button"),
    title: $("#image-title"),
    meta: $("#image-meta"),
    infoLink: $("#image-info-link"),
    sourceTools: $("#source-tools"),
    source: $("#source-select"),
    manifestTools: $("#manifest-tools"),
    manifestUrl: $("#manifest-url"),
    manifestCopy: $("#manifest-copy"),
    manifestMessage: $("#manifest-message"),
    miradorLink: $("#mirador-link"),
    viewer: $("#viewer"),
    viewerMessage: $("#viewer-message"),
  };

  const state = {
    uploads: [],
    listSignature: "",
    current: null, // id of the open upload
    currentStatus: null, // its status when it was opened
    state: "idle", // idle | loading | loaded | error
    tilesLoaded: 0,
    tilesFailed: 0,
    error: null,
    source: initialSource(), // where tiles come from: pims | iiif | dzi
  };
  window.cytotile = state;

  let viewer = null;
  let openSeq = 0; // discards answers for an image that is no longer the one asked for
  let listSeq = 0; // discards answers of /uploads overtaken by a newer request
  let pollTimer = null;

  /* ---------------------------------------------------------------- helpers */

  /** The tile source: ?source= in the page URL, else the last one chosen, else PIMS tiles. */
  function initialSource() {
    const sources = ["pims", "iiif", "dzi"];
    const asked = new URLSearchParams(location.search).get("source");
    if (sources.includes(asked)) return asked;
    let saved = null;
    try {
      saved = localStorage.getItem("cytotile.source");
    } catch {
      saved = null; // storage disabled
    }
    return sources.includes(saved) ? saved : "pims";
  }

  const apiUrl = (path) => new URL(path, document.baseURI).toString();

  /** image/<upload-id>/<name>: any path inside the upload folder names the image. */
  function imagePath(upload) {
    const path = upload.path || `${upload.id}/${upload.original_name}`;
    return `image/${path.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** The image path inside the root: what IIIF identifiers and DeepZoom paths name. */
  function rawPath(upload) {
    return upload.path || `${upload.id}/${upload.original_name}`;
  }

  /** A IIIF identifier escapes the path's slashes (%2F). */
  const iiifBase = (upload) => apiUrl(`iiif/3/${encodeURIComponent(rawPath(upload))}`);

  const dziUrl = (upload) =>
    apiUrl(`dzi/${rawPath(upload).split("/").map(encodeURIComponent).join("/")}.dzi`);

  function statusKind(status) {
    if (OK_STATUSES.has(status)) return "ok";
    if (typeof status === "string" && status.startsWith("ERROR_")) return "error";
    return "progress";
  }

  const isViewable = (upload) => VIEWABLE_STATUSES.has(upload.status);
  const isBusy = (upload) => statusKind(upload.status) === "progress";

  function formatSize(upload) {
    if (!upload.width || !upload.height) return "";
    const nf = new Intl.NumberFormat();
    return `${nf.format(upload.width)} × ${nf.format(upload.height)} px`;
  }

  function formatDate(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  async function fetchJson(path, options) {
    const response = await fetch(apiUrl(path), {
      headers: { Accept: "application/json" },
      ...options,
    });
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) {
      throw new Error(errorText(body, `${response.status} ${response.statusText}`));
    }
    return body;
  }

  /** PIMS errors are {"title", "details"}; details may be a string or a list. */
  function errorText(body, fallback) {
    if (!body || typeof body !== "object") return fallback;
    const details = Array.isArray(body.details)
      ? body.details.map((d) => (typeof d === "string" ? d : d.msg || JSON.stringify(d))).join("; ")
      : body.details;
    return [body.title, details].filter(Boolean).join(": ") || fallback;
  }

  function setViewerState(value, error) {
    state.state = value;
    state.error = error || null;
    document.body.dataset.viewerState = value;
  }

  function showViewerMessage(text, kind) {
    els.viewerMessage.textContent = text || "";
    els.viewerMessage.hidden = !text;
    els.viewerMessage.dataset.kind = kind || "info";
  }

  /* ------------------------------------------------------------ the list */

  async function refreshList() {
    clearTimeout(pollTimer);
    const seq = ++listSeq;
    let uploads;
    try {
      uploads = await fetchJson("uploads");
      if (!Array.isArray(uploads)) throw new Error("unexpected answer from /uploads");
    } catch (error) {
      if (seq !== listSeq) return;
      els.listMessage.textContent = `Cannot load the images: ${error.message}`;
      els.listMessage.dataset.kind = "error";
      els.listMessage.hidden = false;
      schedulePoll(POLL_IDLE_MS);
      return;
    }
    if (seq !== listSeq) return; // a newer refresh is under way
    uploads.sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
    const signature = JSON.stringify(uploads);
    if (signature !== state.listSignature) {
      state.listSignature = signature;
      state.uploads = uploads;
      renderList();
    }
    routeAfterListLoad();
    schedulePoll(uploads.some(isBusy) ? POLL_BUSY_MS : POLL_IDLE_MS);
  }

  function schedulePoll(delay) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(() => {
      if (document.hidden) schedulePoll(delay);
      else refreshList();
    }, delay);
  }

  function renderList() {
    const uploads = state.uploads;
    const focusedId = document.activeElement?.closest?.(".upload")?.dataset.id;
    const busy = uploads.filter(isBusy).length;

    els.count.textContent = uploads.length ? `(${uploads.length})` : "";
    els.listMessage.dataset.kind = "info";
    if (!uploads.length) {
      els.listMessage.textContent = "No images yet. Upload one to get started.";
    } else if (busy) {
      els.listMessage.textContent = `${busy} import${busy > 1 ? "s" : ""} in progress…`;
    } else {
      els.listMessage.textContent = "";
    }
    els.listMessage.hidden = !els.listMessage.textContent;

    els.list.replaceChildren(...uploads.map(renderItem));
    markCurrent();
    if (focusedId) {
      els.list.querySelector(`.upload[data-id="${CSS.escape(focusedId)}"] .upload__body`)?.focus();
    }
  }

  function renderItem(upload) {
    const kind = statusKind(upload.status);
    const viewable = isViewable(upload);
    const item = el("li", "upload");
    item.dataset.id = upload.id;
    item.dataset.status = upload.status;

    const body = viewable ? el("button", "upload__body") : el("div", "upload__body");
    if (viewable) {
      body.type = "button";
      body.addEventListener("click", () => {
        if (location.hash === `#${upload.id}`) openUpload(upload);
        else location.hash = upload.id;
      });
    }

    const thumb = el("span", `upload__thumb upload__thumb--${kind}`);
    if (viewable) {
      const img = el("img");
      img.alt = "";
      img.loading = "lazy";
      img.decoding = "async";
      img.src = apiUrl(`${imagePath(upload)}/thumb.jpg?length=${THUMB_LENGTH}`);
      img.addEventListener("error", () => img.remove());
      thumb.append(img);
    } else {
      thumb.setAttribute("aria-hidden", "true");
      thumb.textContent = kind === "error" ? "!" : "";
    }

    const text = el("span", "upload__text");
    const name = el("span", "upload__name", upload.original_name || upload.id);
    name.title = upload.original_name || upload.id;

    const facts = el("span", "upload__facts");
    const badge = el("span", `badge badge--${kind}`, upload.status.replaceAll("_", " "));
    badge.dataset.status = upload.status;
    if (upload.reason) badge.title = upload.reason;
    facts.append(badge);
    const size = formatSize(upload);
    if (size) facts.append(el("span", "upload__fact", size));
    if (upload.format_id) facts.append(el("span", "upload__fact", upload.format_id));

    text.append(name, facts);
    if (upload.reason && kind === "error") {
      text.append(el("span", "upload__reason", upload.reason));
    }
    const created = formatDate(upload.created_at);
    if (created) {
      const time = el("time", "upload__date", created);
      time.dateTime = upload.created_at;
      text.append(time);
    }

    body.append(thumb, text);
    item.append(body);
    return item;
  }

  function markCurrent() {
    for (const item of els.list.querySelectorAll(".upload")) {
      const current = item.dataset.id === state.current;
      item.classList.toggle("upload--current", current);
      const body = item.querySelector(".upload__body");
      if (current) body.setAttribute("aria-current", "true");
      else body.removeAttribute("aria-current");
    }
  }

  /* ------------------------------------------------------------ routing */

  function hashId() {
    const id = decodeURIComponent(location.hash.replace(/^#/, ""));
    return id.startsWith("upload-") ? id : null;
  }

  /** Open the deep-linked upload, or the first deployed one when nothing is asked for. */
  function routeAfterListLoad() {
    const wanted = hashId();
    const uploads = state.uploads;
    if (wanted) {
      const upload = uploads.find((u) => u.id === wanted);
      if (!upload) {
        if (state.current !== wanted) showNotViewable(wanted, "There is no such image.");
      } else if (state.current !== upload.id || state.currentStatus !== upload.status) {
        if (isViewable(upload)) openUpload(upload);
        else showNotViewable(upload.id, notViewableReason(upload), upload);
      }
    } else if (!state.current) {
      const first = uploads.find(isViewable);
      if (first) openUpload(first);
    }
  }

  function notViewableReason(upload) {
    if (statusKind(upload.status) === "error") {
      return `This image could not be imported: ${upload.reason || upload.status}.`;
    }
    if (isBusy(upload)) {
      return `This image is being imported (${upload.status}); it opens when ready.`;
    }
    return `This upload (${upload.status}) has no image to view.`;
  }

  function showNotViewable(id, message, upload) {
    openSeq += 1;
    state.current = id;
    state.currentStatus = upload ? upload.status : null;
    setViewerState(upload && isBusy(upload) ? "waiting" : "error", message);
    if (viewer) viewer.close();
    clearImageInfo();
    setHeader(upload || { id, original_name: id });
    showViewerMessage(message, upload && isBusy(upload) ? "info" : "error");
    markCurrent();
  }

  /* ------------------------------------------------------------ the viewer */

  function ensureViewer() {
    if (viewer) return viewer;
    viewer = OpenSeadragon({
      element: els.viewer,
      prefixUrl: apiUrl("static/vendor/openseadragon/images/"),
      // The 2D canvas drawer: the same pixels everywhere, and fast without a GPU (OSD's WebGL
      // drawer falls back to software WebGL there, at a few frames per second).
      drawer: "canvas",
      showNavigator: true,
      navigatorPosition: "BOTTOM_RIGHT",
      navigatorAutoFade: false,
      navigatorBackground: "#23262d",
      navigatorBorderColor: "rgba(255, 255, 255, 0.4)",
      navigatorDisplayRegionColor: "#7fa6ff",
      showRotationControl: true,
      visibilityRatio: 0.5,
      constrainDuringPan: true,
      maxZoomPixelRatio: 2,
      animationTime: 0.5,
      timeout: 30000,
      gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
    });
    window.cytotileViewer = viewer;

    viewer.addHandler("tile-loaded", () => {
      state.tilesLoaded += 1;
    });
    const scaleBar = () => window.cytotileImageInfo && window.cytotileImageInfo.scaleBar(viewer);
    viewer.addHandler("animation", scaleBar);
    viewer.addHandler("open", scaleBar);
    viewer.addHandler("tile-load-failed", (event) => {
      state.tilesFailed += 1;
      console.warn("cytotile: tile failed", event.tile && event.tile.getUrl(), event.message);
    });
    viewer.addHandler("open-failed", (event) => {
      setViewerState("error", event.message || "cannot open the image");
      showViewerMessage(`Cannot open the image: ${state.error}`, "error");
    });
    viewer.world.addHandler("add-item", (event) => {
      const item = event.item;
      const onFullyLoaded = () => {
        if (item.getFullyLoaded() && viewer.world.getIndexOfItem(item) !== -1) {
          setViewerState("loaded");
        }
      };
      item.addHandler("fully-loaded-change", onFullyLoaded);
      onFullyLoaded();
    });
    return viewer;
  }

  /**
   * An OpenSeadragon tile source over our normalized pyramid.
   *
   * OSD numbers levels from 0 (a 1x1 image) up to maxLevel (full resolution); level L is the
   * image scaled by 2^-(maxLevel - L), and it counts ceil(width * 2^-(maxLevel - L) / 256) tiles
   * across. Our zoom z (0 = smallest tier) is the tier whose size is the ceil-halving of level 0,
   * n_tiers - 1 - z times, and ceil-halving k times equals ceil(width / 2^k): so with
   * maxLevel = offset + n_tiers - 1 and minLevel = offset, OSD level L is our zoom L - offset,
   * with the same tile grid. offset is OSD's own maxLevel for this size (ceil(log2(max side)))
   * minus our top zoom, so levels keep OSD's meaning. Edge tiles are ceil-sized; OSD draws the
   * part of them that its fractional level size covers, i.e. exactly the image.
   */
  function tileSource(upload, pyramid) {
    const tiers = [...pyramid.tiers].sort((a, b) => a.zoom - b.zoom);
    const nTiers = pyramid.n_tiers || tiers.length;
    const full = tiers[tiers.length - 1];
    const topZoom = nTiers - 1;
    const natural = Math.ceil(Math.log2(Math.max(full.width, full.height, 1)));
    const offset = Math.max(0, natural - topZoom);
    for (const tier of tiers) {
      const k = topZoom - tier.zoom;
      const width = Math.ceil(full.width / 2 ** k);
      const height = Math.ceil(full.height / 2 ** k);
      if (tier.width !== width || tier.height !== height) {
        console.warn("cytotile: tier", tier.zoom, "is not the normalized size", width, height);
      }
    }
    const base = apiUrl(imagePath(upload));
    return {
      width: full.width,
      height: full.height,
      tileWidth: full.tile_width || 256,
      tileHeight: full.tile_height || 256,
      tileOverlap: 0,
      minLevel: offset,
      maxLevel: offset + topZoom,
      getTileUrl(level, x, y) {
        const url = `${base}/normalized-tile/zoom/${level - offset}/tx/${x}/ty/${y}.jpg`;
        const planes = window.cytotilePlanes ? window.cytotilePlanes.query() : ""; // planes.js
        return planes ? `${url}?${planes}` : url;
      },
    };
  }

  /** What OpenSeadragon opens for the chosen source: our tiers as an object, or a IIIF
   * info.json or DeepZoom descriptor URL that OpenSeadragon reads itself. */
  function sourceFor(upload, pyramid) {
    if (state.source === "iiif") return `${iiifBase(upload)}/info.json`;
    if (state.source === "dzi") return dziUrl(upload);
    return tileSource(upload, pyramid);
  }

  function setHeader(upload, pyramid) {
    const name = upload.original_name || upload.id;
    els.title.textContent = name;
    els.title.title = name;
    const facts = [formatSize(upload), upload.format_id];
    if (pyramid) facts.push(`${pyramid.n_tiers} tier${pyramid.n_tiers > 1 ? "s" : ""}`);
    if (upload.status && !isViewable(upload)) facts.push(upload.status.replaceAll("_", " "));
    const created = formatDate(upload.created_at);
    if (created) facts.push(`uploaded ${created}`);
    els.meta.textContent = facts.filter(Boolean).join(" · ");
    if (isViewable(upload)) {
      els.infoLink.href = apiUrl(`${imagePath(upload)}/info`);
      els.manifestUrl.value = `${iiifBase(upload)}/manifest`;
      els.miradorLink.href = apiUrl(
        `static/mirador.html?manifest=${encodeURIComponent(els.manifestUrl.value)}`,
      );
      els.manifestMessage.textContent = "";
    }
    const viewable = isViewable(upload);
    els.infoLink.hidden = !viewable;
    els.sourceTools.hidden = !viewable;
    els.manifestTools.hidden = !viewable;
    document.title = `${name} · cytotile`;
  }

  async function openUpload(upload) {
    const seq = ++openSeq;
    state.current = upload.id;
    state.currentStatus = upload.status;
    state.tilesLoaded = 0;
    state.tilesFailed = 0;
    setViewerState("loading");
    setHeader(upload);
    markCurrent();
    showViewerMessage("");
    const base = apiUrl(imagePath(upload));
    const planes = window.cytotilePlanes; // planes.js: the tile URLs' plane parameters
    let pyramid, info;
    try {
      // The image's information first: the first tiles asked already carry its plane parameters.
      [pyramid, info] = await Promise.all([
        fetchJson(`${imagePath(upload)}/info/normalized-pyramid`),
        // Without it the image still opens, as stored (passthrough tiles).
        planes ? planes.load(base).catch(() => null) : null,
      ]);
    } catch (error) {
      if (seq !== openSeq) return;
      setViewerState("error", error.message);
      if (viewer) viewer.close();
      clearImageInfo();
      showViewerMessage(`Cannot open ${upload.original_name}: ${error.message}`, "error");
      return;
    }
    if (seq !== openSeq) return;
    setHeader(upload, pyramid);
    if (typeof OpenSeadragon !== "function") {
      setViewerState("error", "OpenSeadragon is missing");
      showViewerMessage("The viewer library is missing (run `make viewer-assets`).", "error");
      return;
    }
    if (window.cytotileImageInfo) window.cytotileImageInfo.show(base, info);
    if (planes) planes.onChange = reopener(seq, upload, pyramid);
    ensureViewer().open(sourceFor(upload, pyramid));
  }

  function clearImageInfo() {
    if (window.cytotilePlanes) window.cytotilePlanes.clear();
    if (window.cytotileImageInfo) window.cytotileImageInfo.clear();
  }

  /**
   * Reloads the image's tiles where the view is (the plane panel changed: new tile URLs). The
   * new tiles are drawn over the shown ones, which are removed once the new view is complete:
   * no blank stage between two settings. A newer change abandons a view still loading.
   */
  function reopener(seq, upload, pyramid) {
    let pending = null;
    return () => {
      if (seq !== openSeq || !viewer) return;
      state.tilesLoaded = 0;
      setViewerState("loading");
      if (!viewer.world.getItemCount()) {
        viewer.open(sourceFor(upload, pyramid));
        return;
      }
      if (pending && viewer.world.getIndexOfItem(pending) !== -1) viewer.world.removeItem(pending);
      pending = null;
      viewer.addTiledImage({
        tileSource: sourceFor(upload, pyramid),
        success: (event) => {
          const item = event.item;
          if (seq !== openSeq) return;
          pending = item;
          const swap = () => {
            if (!item.getFullyLoaded() || pending !== item) return;
            item.removeHandler("fully-loaded-change", swap);
            pending = null;
            for (let i = viewer.world.getItemCount() - 1; i >= 0; i -= 1) {
              const other = viewer.world.getItemAt(i);
              if (other !== item) viewer.world.removeItem(other);
            }
          };
          item.addHandler("fully-loaded-change", swap);
          swap();
        },
      });
    };
  }

  /* ------------------------------------------------------------ upload */

  function summarizeUpload(result) {
    let items = [];
    if (Array.isArray(result)) items = result;
    else if (result && Array.isArray(result.uploads)) items = result.uploads;
    else if (result && Array.isArray(result.items)) items = result.items;
    else if (result && typeof result === "object") items = [result];
    const described = items
      .filter((item) => item && item.status)
      .map((item) => {
        const name = item.original_name || item.name || item.id;
        return `${name}: ${item.status}${item.reason ? ` (${item.reason})` : ""}`;
      });
    return { items, text: described.join("; ") || "Uploaded." };
  }

  function setUploadMessage(text, kind) {
    els.uploadMessage.textContent = text;
    els.uploadMessage.dataset.kind = kind || "info";
  }

  function submitUpload(event) {
    event.preventDefault();
    const files = [...els.input.files];
    if (!files.length) {
      setUploadMessage("Choose a file to upload first.", "error");
      els.input.focus();
      return;
    }
    const data = new FormData();
    for (const file of files) data.append("files[]", file, file.name);

    const xhr = new XMLHttpRequest();
    xhr.open("POST", apiUrl("upload"));
    xhr.setRequestHeader("Accept", "application/json");
    els.uploadButton.disabled = true;
    els.progress.hidden = false;
    els.progress.value = 0;
    const label = files.length > 1 ? `${files.length} files` : files[0].name;
    setUploadMessage(`Uploading ${label}…`);

    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) els.progress.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.upload.addEventListener("load", () => {
      els.progress.removeAttribute("value"); // indeterminate: the server imports now
      setUploadMessage(`Importing ${label}…`);
      refreshList();
    });
    const done = () => {
      els.uploadButton.disabled = false;
      els.progress.hidden = true;
    };
    xhr.addEventListener("load", () => {
      done();
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        const { items, text } = summarizeUpload(body);
        const failed = items.some((item) => statusKind(item && item.status) === "error");
        setUploadMessage(text, failed ? "error" : "ok");
        els.form.reset();
        const deployed = items.find((item) => item && VIEWABLE_STATUSES.has(item.status));
        // List it first, then open it through its link.
        refreshList().then(() => {
          if (deployed && deployed.id) location.hash = deployed.id;
        });
      } else {
        const reason = errorText(body, `${xhr.status} ${xhr.statusText}`);
        setUploadMessage(`Upload failed: ${reason}`, "error");
        refreshList();
      }
    });
    xhr.addEventListener("error", () => {
      done();
      setUploadMessage("Upload failed: the server could not be reached.", "error");
    });
    xhr.send(data);
  }

  /* ------------------------------------------------------------ tile source, manifest */

  function changeSource() {
    state.source = els.source.value;
    try {
      localStorage.setItem("cytotile.source", state.source);
    } catch {
      // storage disabled: the choice lasts as long as the page
    }
    const upload = state.uploads.find((u) => u.id === state.current);
    if (upload && isViewable(upload)) openUpload(upload);
  }

  async function copyManifestUrl() {
    const text = els.manifestUrl.value;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      els.manifestUrl.select(); // no clipboard API (or refused): the older way
      if (!document.execCommand("copy")) {
        els.manifestMessage.textContent = "Select and copy";
        return;
      }
    }
    els.manifestMessage.textContent = "Copied";
  }

  /* ------------------------------------------------------------ start */

  els.source.value = state.source;
  els.source.addEventListener("change", changeSource);
  els.manifestCopy.addEventListener("click", copyManifestUrl);
  els.manifestUrl.addEventListener("focus", () => els.manifestUrl.select());

  els.form.addEventListener("submit", submitUpload);
  els.refresh.addEventListener("click", () => refreshList());
  window.addEventListener("hashchange", () => {
    // An upload the list does not know yet (just imported, or imported elsewhere): ask first.
    const wanted = hashId();
    if (wanted && !state.uploads.some((u) => u.id === wanted)) refreshList();
    else routeAfterListLoad();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshList();
  });
  refreshList();
})();
