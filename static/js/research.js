// Research pages: live progress of a running job, and client-side sorting of result tables.
// No library, no CDN: the desk runs offline.
(function () {
  "use strict";

  // <div data-job-status="/research/backtests/3/status.json"> ... .progress > div, [data-field=...]
  const box = document.querySelector("[data-job-status]");
  if (box) {
    const url = box.getAttribute("data-job-status");
    const bar = box.querySelector(".progress > div");
    // The status badge sits in the page header (one status per page); the rest in the box.
    const field = (name) => document.querySelector(`[data-field="${name}"]`);
    const tick = async () => {
      let state;
      try {
        const resp = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!resp.ok) throw new Error(resp.status);
        state = await resp.json();
      } catch (err) {
        if (field("message")) field("message").textContent = `status unavailable (${err.message}); retrying`;
        setTimeout(tick, 2000);
        return;
      }
      if (bar) bar.style.width = `${state.progress}%`;
      for (const key of ["status", "progress", "message"]) {
        if (field(key)) field(key).textContent = state[key];
      }
      if (field("status")) field("status").className = `badge ${state.status}`;
      if (state.terminal) {
        // Results are rendered by the server: reload once the job is over.
        window.location.reload();
        return;
      }
      setTimeout(tick, 1000);
    };
    if (box.getAttribute("data-terminal") !== "true") setTimeout(tick, 1000);
  }

  // <table class="sortable">: click a header to sort by it; cells may carry data-sort values.
  for (const table of document.querySelectorAll("table.sortable")) {
    const heads = table.querySelectorAll("thead th");
    heads.forEach((th, col) => {
      th.style.cursor = "pointer";
      th.addEventListener("click", () => {
        const body = table.tBodies[0];
        const dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
        heads.forEach((h) => h.removeAttribute("data-dir"));
        th.setAttribute("data-dir", dir);
        const key = (row) => {
          const cell = row.cells[col];
          const raw = cell.getAttribute("data-sort") ?? cell.textContent.trim();
          const num = parseFloat(raw);
          return raw !== "" && !Number.isNaN(num) && /^[-+0-9.eE]+$/.test(raw) ? num : raw;
        };
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const ka = key(a), kb = key(b);
          const blankA = ka === "" || ka === "—", blankB = kb === "" || kb === "—";
          if (blankA !== blankB) return blankA ? 1 : -1; // blanks always last
          const cmp = typeof ka === "number" && typeof kb === "number" ? ka - kb : String(ka).localeCompare(String(kb));
          return dir === "asc" ? cmp : -cmp;
        });
        rows.forEach((r) => body.appendChild(r));
      });
    });
  }
})();
