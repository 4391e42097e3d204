/* breachscope HTML report: the interactive tables (timeline, subjects, statements, review, claims), built from
   the page's data (#bs-data) with createElement and textContent only: no markup is ever made from data.
   Inline, allowed by its hash in the page's Content-Security-Policy. Plain ES2017, no library. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("bs-data").textContent);
  var S = D.S, L = D.L, C = D.C, F = D.F;
  var PAGE = 100;
  var LEVEL_CLASS = {CONFIRMED_EXFILTRATED: "lvl-confirmed_exfiltrated", CONFIRMED_ACCESSED: "lvl-confirmed_accessed",
    POTENTIAL: "lvl-potential", NOT_EXPOSED: "lvl-not_exposed"};
  var lowered = [];

  function str(i) { return i === null || i === undefined ? "" : S[i]; }
  function low(i) {  // lowercased string-table entry, computed once
    if (i === null || i === undefined) { return ""; }
    var v = lowered[i];
    if (v === undefined) { v = lowered[i] = S[i].toLowerCase(); }
    return v;
  }
  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }
  function lab(key, fields) {
    var t = has(L, key) ? L[key] : key;
    Object.keys(fields || {}).forEach(function (k) { t = t.split("{" + k + "}").join(String(fields[k])); });
    return t;
  }
  function labOr(key, fallback) { return has(L, key) ? L[key] : fallback; }
  function num(n) {
    if (n === null || n === undefined) { return "\u2013"; }
    var parts = String(n).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }
  function time(ms) {
    if (ms === null || ms === undefined) { return "\u2013"; }
    var iso = new Date(ms).toISOString();
    return iso.slice(0, 10) + " " + iso.slice(11, 19) + " UTC";
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function fileLink(f, rec) {  // an anchor from the file's number only, never from evidence text
    var a = el("a", "ev", str(F.short[f]) + ":" + (rec === null ? "\u2013" : String(rec)));
    a.href = "#f" + String(Math.floor(Number(f)));
    a.title = str(F.path[f]);
    return a;
  }
  function refsCell(td, ev) {  // flat [file, record, table, ...]
    for (var k = 0; k + 2 < ev.length; k += 3) {
      if (ev[k] === null) {
        td.appendChild(el("span", "ev", str(ev[k + 2]) + ":" + (ev[k + 1] === null ? "\u2013" : ev[k + 1])));
      } else {
        td.appendChild(fileLink(ev[k], ev[k + 1]));
      }
    }
  }
  function levelBadge(i) {
    var v = str(i);
    return el("span", "lvl " + (has(LEVEL_CLASS, v) ? LEVEL_CLASS[v] : ""), labOr(v, v));
  }
  function combo(i) { return C[i].map(str).join(", "); }

  /* A table shown 100 rows at a time: page controls and "a-b of n" (data-count: rows matching). */
  function Pager(id, columns) {
    this.root = document.getElementById(id);
    this.columns = columns;
    this.rows = [];
    this.page = 0;
    var self = this, nav = el("div", "pager"), table = el("table"), head = el("tr");
    this.buttons = {};
    ["first", "prev", "next", "last"].forEach(function (k) {
      var b = el("button", "pg-" + k, lab(k));
      b.type = "button";
      nav.appendChild(b);
      self.buttons[k] = b;
    });
    this.input = el("input", "pg-page");
    this.input.type = "number";
    this.input.min = "1";
    this.input.setAttribute("aria-label", lab("page"));
    this.count = el("span", "count");
    nav.appendChild(this.input);
    nav.appendChild(this.count);
    columns.forEach(function (c) { head.appendChild(el("th", c.cls, c.head)); });
    table.appendChild(el("thead")).appendChild(head);
    this.body = table.appendChild(el("tbody"));
    this.root.appendChild(nav);
    this.root.appendChild(table);
    this.buttons.first.addEventListener("click", function () { self.go(0); });
    this.buttons.prev.addEventListener("click", function () { self.go(self.page - 1); });
    this.buttons.next.addEventListener("click", function () { self.go(self.page + 1); });
    this.buttons.last.addEventListener("click", function () { self.go(self.pages() - 1); });
    this.input.addEventListener("change", function () { self.go(parseInt(self.input.value, 10) - 1 || 0); });
  }
  Pager.prototype.pages = function () { return Math.max(1, Math.ceil(this.rows.length / PAGE)); };
  Pager.prototype.set = function (rows) {
    this.rows = rows;
    this.renders = (this.renders || 0) + 1;
    this.root.setAttribute("data-renders", String(this.renders));  // a filter applied (tests wait on it)
    this.go(0);
  };
  Pager.prototype.go = function (p) {
    var pages = this.pages();
    p = Math.max(0, Math.min(pages - 1, p));
    this.page = p;
    var start = p * PAGE, end = Math.min(this.rows.length, start + PAGE), frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) {
      var i = this.rows[k], tr = el("tr");
      tr.setAttribute("data-row", String(i));
      this.columns.forEach(function (c) {
        var td = el("td", c.cls);
        c.cell(i, td);
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    }
    if (!this.rows.length) {
      var none = el("td", "note", lab("no_rows"));
      none.colSpan = this.columns.length;
      frag.appendChild(el("tr")).appendChild(none);
    }
    this.body.textContent = "";
    this.body.appendChild(frag);
    this.input.value = String(p + 1);
    this.input.max = String(pages);
    this.count.textContent = lab("rows_of", {a: num(this.rows.length ? start + 1 : 0), b: num(end),
      n: num(this.rows.length)}) + " \u00b7 " + lab("page_of", {p: num(p + 1), q: num(pages)});
    this.root.setAttribute("data-count", String(this.rows.length));
    this.root.setAttribute("data-page", String(p + 1));
    this.root.setAttribute("data-pages", String(pages));
    this.buttons.first.disabled = this.buttons.prev.disabled = p === 0;
    this.buttons.next.disabled = this.buttons.last.disabled = p >= pages - 1;
  };

  /* Select boxes built from the data: options are (value, label) pairs, labels as text. */
  function fill(id, options) {
    var sel = document.getElementById(id);
    options.forEach(function (o) {
      var opt = el("option", null, o[1]);
      opt.value = String(o[0]);
      sel.appendChild(opt);
    });
    return sel;
  }
  function chosen(sel) { return sel.value === "" ? null : parseInt(sel.value, 10); }
  /* Values of a column grouped case-insensitively (ORD-AP02 and ord-ap02 are one host): group per string. */
  function groups(col) {
    var byKey = new Map(), of = new Map(), options = [];
    col.forEach(function (i) {
      if (i === null || of.has(i)) { return; }
      var key = low(i), g = byKey.get(key);
      if (g === undefined) {
        g = options.length;
        byKey.set(key, g);
        options.push([g, str(i), key]);
      }
      of.set(i, g);
    });
    options.sort(function (a, b) { return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0; });
    return {of: of, options: options};
  }
  function ordered(col, order, prefix) {  // distinct values in a known order (stages, levels), others after
    var seen = new Map();
    col.forEach(function (i) { if (i !== null && !seen.has(i)) { seen.set(i, str(i)); } });
    var out = [];
    seen.forEach(function (v, i) { out.push([i, labOr(prefix + v, v), order.indexOf(v) < 0 ? 1e9 : order.indexOf(v), v]); });
    out.sort(function (a, b) { return a[2] - b[2] || (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0); });
    return out;
  }
  function onInput(input, apply) {
    var timer = null;
    input.addEventListener("input", function () {
      if (timer !== null) { clearTimeout(timer); }
      timer = setTimeout(function () { timer = null; apply(); }, 120);
    });
  }

  function timeline() {
    var T = D.T;
    if (!document.getElementById("tl-table")) { return; }
    var hosts = groups(T.host), users = groups(T.user);
    var host = fill("tl-host", hosts.options), user = fill("tl-user", users.options);
    var stage = fill("tl-stage", ordered(T.stage, D.stages, "st_"));
    var src = fill("tl-src", ordered(T.src, ["incident", "alert", "finding"], "src_"));
    var text = document.getElementById("tl-text");
    var pager = new Pager("tl-table", [
      {head: lab("time"), cls: "time", cell: function (i, td) { td.textContent = time(T.ts[i]); }},
      {head: lab("stage"), cls: "nowrap", cell: function (i, td) { td.textContent = labOr("st_" + str(T.stage[i]), str(T.stage[i])); }},
      {head: lab("host"), cell: function (i, td) { td.textContent = str(T.host[i]); }},
      {head: lab("user"), cell: function (i, td) { td.textContent = str(T.user[i]); }},
      {head: lab("source"), cell: function (i, td) {
        td.textContent = labOr("src_" + str(T.src[i]), str(T.src[i]));
        td.appendChild(el("div", "sub", str(T.kind[i])));
      }},
      {head: lab("summary"), cls: "summary", cell: function (i, td) { td.textContent = str(T.sum[i]); }},
      {head: lab("score"), cls: "num", cell: function (i, td) { td.textContent = num(T.score[i]); }},
      {head: lab("evidence"), cell: function (i, td) { refsCell(td, T.ev[i]); }}
    ]);
    function apply() {
      var h = chosen(host), u = chosen(user), st = chosen(stage), so = chosen(src);
      var q = text.value.trim().toLowerCase(), rows = [];
      for (var i = 0; i < T.ts.length; i++) {
        if (h !== null && hosts.of.get(T.host[i]) !== h) { continue; }
        if (u !== null && users.of.get(T.user[i]) !== u) { continue; }
        if (st !== null && T.stage[i] !== st) { continue; }
        if (so !== null && T.src[i] !== so) { continue; }
        if (q && low(T.sum[i]).indexOf(q) < 0 && low(T.kind[i]).indexOf(q) < 0 && low(T.host[i]).indexOf(q) < 0 &&
            low(T.user[i]).indexOf(q) < 0) { continue; }
        rows.push(i);
      }
      pager.set(rows);
    }
    [host, user, stage, src].forEach(function (s) { s.addEventListener("change", apply); });
    onInput(text, apply);
    apply();
  }

  function subjects() {
    var U = D.U;
    if (!document.getElementById("sj-table")) { return; }
    var level = fill("sj-level", ordered(U.lvl, D.levels, ""));
    var type = fill("sj-type", ordered(U.type, ["organization", "person"], ""));
    var text = document.getElementById("sj-text"), keys = null;
    var pager = new Pager("sj-table", [
      {head: lab("name"), cell: function (i, td) { td.textContent = U.name[i] === null ? "\u2013" : U.name[i]; }},
      {head: lab("id"), cls: "mono", cell: function (i, td) { td.textContent = U.id[i]; }},
      {head: lab("type"), cell: function (i, td) { td.textContent = labOr(str(U.type[i]), str(U.type[i])); }},
      {head: lab("organization"), cls: "mono", cell: function (i, td) { td.textContent = str(U.org[i]); }},
      {head: lab("jurisdiction"), cell: function (i, td) { td.textContent = str(U.jur[i]); }},
      {head: lab("level"), cell: function (i, td) { td.appendChild(levelBadge(U.lvl[i])); }},
      {head: lab("categories"), cell: function (i, td) { td.textContent = combo(U.cats[i]); }},
      {head: lab("first_evidence"), cell: function (i, td) {
        var ev = U.ev[i];
        if (ev.length >= 4) {
          if (ev[1] !== null) { td.appendChild(fileLink(ev[1], ev[2])); }
          td.appendChild(el("span", "sub", str(ev[0]) + (ev[3] === null ? "" : ": " + str(ev[3]))));
        }
        if (U.n[i] > 1) { td.appendChild(el("div", "sub", "+" + num(U.n[i] - 1))); }
      }},
      {head: lab("excluded_by"), cell: function (i, td) { td.textContent = combo(U.excl[i]); }}
    ]);
    function apply() {
      var lv = chosen(level), ty = chosen(type), q = text.value.trim().toLowerCase(), rows = [];
      if (q && keys === null) {
        keys = U.id.map(function (id, i) { return (id + "\n" + (U.name[i] || "")).toLowerCase(); });
      }
      for (var i = 0; i < U.id.length; i++) {
        if (lv !== null && U.lvl[i] !== lv) { continue; }
        if (ty !== null && U.type[i] !== ty) { continue; }
        if (q && keys[i].indexOf(q) < 0) { continue; }
        rows.push(i);
      }
      pager.set(rows);
    }
    [level, type].forEach(function (s) { s.addEventListener("change", apply); });
    onInput(text, apply);
    apply();
  }

  function statements() {
    var Q = D.Q;
    if (!document.getElementById("st-table")) { return; }
    var pager = new Pager("st-table", [
      {head: lab("time"), cls: "time", cell: function (i, td) { td.textContent = time(Q.ts[i]); }},
      {head: lab("outcome"), cell: function (i, td) {
        td.textContent = str(Q.out[i]);
        if (Q.reason[i] !== null) { td.appendChild(el("div", "sub", str(Q.reason[i]))); }
      }},
      {head: lab("user"), cell: function (i, td) {
        td.textContent = str(Q.user[i]);
        td.appendChild(el("div", "sub", str(Q.ip[i]) + " \u00b7 " + lab("session") + " " + str(Q.sess[i])));
      }},
      {head: lab("database"), cell: function (i, td) {
        td.textContent = str(Q.db[i]) + " \u00b7 " + str(Q.cmd[i]);
        td.appendChild(el("div", "sub", combo(Q.tables[i])));
      }},
      {head: lab("rows_replayed"), cls: "num", cell: function (i, td) {
        td.textContent = num(Q.replayed[i]) + " / " + num(Q.logged[i]);
      }},
      {head: lab("subjects"), cls: "num", cell: function (i, td) { td.textContent = num(Q.subj[i]); }},
      {head: lab("statement"), cls: "statement", cell: function (i, td) { td.textContent = Q.text[i]; }},
      {head: lab("evidence"), cell: function (i, td) { refsCell(td, Q.ev[i]); }}
    ]);
    pager.set(Q.id.map(function (_, i) { return i; }));
  }

  function review() {
    var R = D.R;
    if (!document.getElementById("rv-table")) { return; }
    var text = document.getElementById("rv-text");
    var pager = new Pager("rv-table", [
      {head: lab("kind"), cell: function (i, td) { td.textContent = str(R.kind[i]); }},
      {head: lab("subject_ids"), cls: "mono", cell: function (i, td) { td.textContent = R.ids[i]; }},
      {head: lab("detail"), cell: function (i, td) { td.textContent = str(R.detail[i]); }},
      {head: lab("evidence"), cell: function (i, td) { refsCell(td, R.ev[i]); }}
    ]);
    function apply() {
      var q = text.value.trim().toLowerCase(), rows = [];
      for (var i = 0; i < R.kind.length; i++) {
        if (q && low(R.kind[i]).indexOf(q) < 0 && R.ids[i].toLowerCase().indexOf(q) < 0 &&
            low(R.detail[i]).indexOf(q) < 0) { continue; }
        rows.push(i);
      }
      pager.set(rows);
    }
    onInput(text, apply);
    apply();
  }

  /* Every claim's evidence row that names a file: the appendix's list (its counts are the files' "cited"). */
  var KINDS = ["timeline", "subject", "statement", "review", "host", "account", "external", "movement", "session",
    "step", "edge"];
  function claims() {
    if (!document.getElementById("cl-table")) { return; }
    var sources = [  // [kind of each row, rows' evidence, width of one evidence row, offset of its file]
      [function () { return 0; }, D.T.ev, 3, 0],
      [function () { return 1; }, D.U.ev, 4, 1],
      [function () { return 2; }, D.Q.ev, 3, 0],
      [function () { return 3; }, D.R.ev, 3, 0],
      [function (i) { return KINDS.indexOf(D.X.kind[i]); }, D.X.ev, 3, 0]
    ];
    var total = 0;
    sources.forEach(function (s) {
      s[1].forEach(function (ev) { for (var k = s[3]; k < ev.length; k += s[2]) { if (ev[k] !== null) { total++; } } });
    });
    var cSrc = new Uint8Array(total), cKind = new Uint8Array(total), cRow = new Int32Array(total);
    var cOff = new Int32Array(total), cFile = new Int32Array(total), n = 0;
    sources.forEach(function (s, si) {
      s[1].forEach(function (ev, row) {
        for (var k = s[3]; k < ev.length; k += s[2]) {
          if (ev[k] === null) { continue; }
          cSrc[n] = si; cKind[n] = s[0](row); cRow[n] = row; cOff[n] = k; cFile[n] = ev[k]; n++;
        }
      });
    });
    var kindSel = fill("cl-kind", KINDS.map(function (k, i) { return [i, lab("c_" + k)]; }).filter(function (o) {
      for (var j = 0; j < n; j++) { if (cKind[j] === o[0]) { return true; } }
      return false;
    }));
    var fileFilter = null, allBtn = document.getElementById("cl-all"), note = document.getElementById("cl-file-note");
    function claimText(j, td) {
      var i = cRow[j];
      switch (cSrc[j]) {
        case 0: td.textContent = time(D.T.ts[i]) + " \u00b7 " + str(D.T.sum[i]); break;
        case 1: td.textContent = (D.U.name[i] === null ? "" : D.U.name[i] + " ") + "(" + D.U.id[i] + ")"; break;
        case 2: td.textContent = str(D.Q.id[i]) + " \u00b7 " + str(D.Q.cmd[i]); break;
        case 3: td.textContent = str(D.R.kind[i]) + " \u00b7 " + D.R.ids[i]; break;
        default: {
          var a = el("a", null, str(D.X.label[i]));
          a.href = "#" + KINDS[cKind[j]] + "-" + String(Math.floor(Number(D.X.num[i])));
          td.appendChild(a);
        }
      }
    }
    function evOf(j) { return sources[cSrc[j]][1][cRow[j]]; }
    var pager = new Pager("cl-table", [
      {head: lab("kind"), cls: "nowrap", cell: function (j, td) { td.textContent = lab("c_" + KINDS[cKind[j]]); }},
      {head: lab("claim"), cls: "summary", cell: claimText},
      {head: lab("file"), cell: function (j, td) { td.appendChild(fileLink(cFile[j], evOf(j)[cOff[j] + 1])); }},
      {head: lab("record"), cls: "num", cell: function (j, td) { td.textContent = num(evOf(j)[cOff[j] + 1]); }},
      {head: lab("table"), cell: function (j, td) {
        td.textContent = cSrc[j] === 1 ? str(evOf(j)[cOff[j] - 1]) : str(evOf(j)[cOff[j] + 2]);
      }}
    ]);
    function apply() {
      var kd = chosen(kindSel), rows = [];
      for (var j = 0; j < n; j++) {
        if (kd !== null && cKind[j] !== kd) { continue; }
        if (fileFilter !== null && cFile[j] !== fileFilter) { continue; }
        rows.push(j);
      }
      pager.set(rows);
      allBtn.hidden = fileFilter === null;
      note.textContent = fileFilter === null ? "" : lab("claims_of_file", {n: fileFilter});
    }
    kindSel.addEventListener("change", apply);
    allBtn.addEventListener("click", function () { fileFilter = null; apply(); });
    Array.prototype.forEach.call(document.querySelectorAll("button.claims-btn"), function (b) {
      b.addEventListener("click", function () {
        fileFilter = parseInt(b.getAttribute("data-file"), 10);
        apply();
        document.getElementById("claims-head").scrollIntoView();
      });
    });
    apply();
  }

  timeline();
  subjects();
  statements();
  review();
  claims();
  window.bsReadyAt = performance.now();  // ms since navigation start (bench/report_bench.py reads it)
  window.bsReady = true;
  document.documentElement.setAttribute("data-bs-ready", "1");
}());
